"""The rules planner: a concept and a duration in, a storyboard-like shot list out.

Deterministic for a given seed, needs no model. It reads the concept as "<subject> in
<setting>", follows a shot grammar (establishing, medium, close-up, action, detail, closing),
varies the camera, carries one style / character / setting descriptor through every prompt so
the shots look like one film, writes narration that fits each shot at a normal speaking rate and
marks the opening and the climax as hero shots.
"""

from __future__ import annotations

import hashlib
import random
import re

from videofactory.constants import (
    DEFAULT_CLIP_SECONDS,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    MAX_SHOT_SECONDS,
    MIN_SHOT_SECONDS,
    WORDS_PER_SECOND,
)
from videofactory.planning.validate import check_concept, check_duration
from videofactory.shotlist import CameraMove, Shot, ShotList, ShotType

__all__ = ["plan_rules", "shot_durations", "split_concept"]

NEGATIVE = "blurry, low quality, deformed hands, extra limbs, text, watermark, jpeg artifacts"

STYLES = [
    "cinematic, volumetric light, 35mm film grain, teal and amber palette",
    "painterly concept art, soft god rays, rich greens and golds, atmospheric haze",
    "moody cinematic still, low-key lighting, drifting mist, desaturated blues",
    "epic fantasy illustration, dramatic rim light, glowing particles, deep shadows",
]
TIMES = ["at first light", "at dusk", "under a pale moon", "in the blue hour before dawn"]
LATER = {
    "at first light": "in the full light of morning",
    "at dusk": "as night falls",
    "under a pale moon": "as the moon sinks low",
    "in the blue hour before dawn": "as the sun finally rises",
}

_PREPOSITIONS = r"\b(in|inside|at|on|through|across|under|beneath|among|within|into)\b"


def split_concept(concept: str) -> tuple[str, str]:
    """Split "warrior in mystical forest" into ("warrior", "mystical forest")."""
    text = " ".join(concept.split()).strip(" .!?")
    match = re.search(_PREPOSITIONS, text, flags=re.IGNORECASE)
    if match and match.start() > 0:
        subject = text[: match.start()].strip(" ,")
        setting = text[match.end() :].strip(" ,")
        if subject and setting:
            return _strip_article(subject), _strip_article(setting)
    return _strip_article(text), ""


def _strip_article(text: str) -> str:
    return re.sub(r"^(a|an|the)\s+", "", text, flags=re.IGNORECASE)


def shot_count(duration_s: float, clip_s: float = DEFAULT_CLIP_SECONDS) -> int:
    """How many shots a video of this length gets: about one clip each."""
    n = max(1, round(duration_s / clip_s))
    while n > 1 and duration_s / n < MIN_SHOT_SECONDS:
        n -= 1
    while duration_s / n > MAX_SHOT_SECONDS:
        n += 1
    return n


def shot_durations(duration_s: float, n: int, fps: int = DEFAULT_FPS) -> list[float]:
    """Split a duration into n frame-aligned shots that sum exactly to it."""
    total_frames = max(n, round(duration_s * fps))
    base, extra = divmod(total_frames, n)
    frames = [base + (1 if i < extra else 0) for i in range(n)]
    # Milliseconds are what a person edits; the last shot absorbs the rounding so the sum holds.
    durations = [round(f / fps, 3) for f in frames[:-1]]
    durations.append(round(duration_s - sum(durations), 3))
    return durations


def shot_grammar(n: int) -> list[ShotType]:
    """The shot types of n shots: open wide, build, climax two thirds in, close."""
    if n == 1:
        return [ShotType.establishing]
    middle_cycle = [ShotType.medium, ShotType.close_up, ShotType.detail, ShotType.wide]
    types = [ShotType.establishing]
    climax = climax_index(n)
    k = 0
    for i in range(1, n - 1):
        if i == climax:
            types.append(ShotType.action)
        else:
            types.append(middle_cycle[k % len(middle_cycle)])
            k += 1
    types.append(ShotType.closing)
    return types


def climax_index(n: int) -> int:
    """Where the climax falls: about two thirds in, never the first or last shot."""
    if n <= 2:
        return n - 1
    return min(n - 2, max(1, round((n - 1) * 2 / 3)))


CAMERA_CHOICES: dict[ShotType, list[CameraMove]] = {
    ShotType.establishing: [CameraMove.zoom_in, CameraMove.pan_right],
    ShotType.wide: [CameraMove.pan_left, CameraMove.pan_right, CameraMove.zoom_out],
    ShotType.medium: [CameraMove.pan_right, CameraMove.pan_left],
    ShotType.close_up: [CameraMove.zoom_in, CameraMove.static],
    ShotType.action: [CameraMove.pan_left, CameraMove.pan_up, CameraMove.zoom_in],
    ShotType.detail: [CameraMove.zoom_in, CameraMove.pan_down],
    ShotType.closing: [CameraMove.zoom_out, CameraMove.pan_up],
}


def plan_rules(
    concept: str,
    duration_s: float,
    *,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
    clip_s: float = DEFAULT_CLIP_SECONDS,
) -> ShotList:
    """Plan a shot list for a concept; the same inputs always give the same plan."""
    concept = check_concept(concept)
    duration_s = check_duration(duration_s)
    digest = hashlib.sha256(f"{concept}\x00{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    subject, setting = split_concept(concept)
    place = _definite(setting) if setting else "a world of its own"
    style = rng.choice(STYLES)
    time_of_day = rng.choice(TIMES)
    character = f"a lone {subject}" if _is_singular_noun(subject) else subject
    n = shot_count(duration_s, clip_s)
    types = shot_grammar(n)
    durations = shot_durations(duration_s, n, fps)
    climax = climax_index(n)
    words = _Words(subject=subject, character=character, place=place, time=time_of_day)

    shots: list[Shot] = []
    previous_move: CameraMove | None = None
    for i, (kind, dur) in enumerate(zip(types, durations, strict=True)):
        moves = [m for m in CAMERA_CHOICES[kind] if m != previous_move] or CAMERA_CHOICES[kind]
        move = rng.choice(moves)
        previous_move = move
        budget = max(2, int(dur * WORDS_PER_SECOND * 0.85))
        shots.append(
            Shot(
                id=f"s{i + 1:02d}",
                duration=dur,
                prompt=f"{_visual(kind, words, rng)}, {style}",
                negative=NEGATIVE,
                shot_type=kind,
                camera=move,
                style=style,
                seed=int.from_bytes(digest[8:12], "big") + i * 7919,
                narration=_narration(kind, words, budget, rng, last=i == n - 1),
                hero=(i == 0 or i == climax) and n > 1 or n == 1,
            )
        )
    return ShotList(
        concept=concept,
        duration=duration_s,
        style=style,
        character=character,
        setting=place,
        width=width,
        height=height,
        fps=fps,
        planner="rules",
        shots=shots,
    )


class _Words:
    def __init__(self, *, subject: str, character: str, place: str, time: str) -> None:
        self.subject = subject
        self.character = character
        self.place = place
        self.time = time
        self.later = LATER.get(time, "as the light changes")


def _definite(setting: str) -> str:
    # "mystical forest" -> "the mystical forest"; proper names ("Paris") stay as they are.
    return setting if setting[:1].isupper() else f"the {setting}"


def _is_singular_noun(subject: str) -> bool:
    # "warrior" -> "a lone warrior"; "two knights", "robots", "my cat" stay as written.
    first = subject.split()[0].lower() if subject else ""
    counted = {"two", "three", "four", "many", "some", "my", "our", "his", "her", "their"}
    head = [w.lower() for w in subject.split()[:2]]
    plural = any(w.endswith("s") and not w.endswith("ss") for w in head)
    return bool(subject) and first not in counted and not plural


def _visual(kind: ShotType, w: _Words, rng: random.Random) -> str:
    options = {
        ShotType.establishing: [
            f"Establishing wide shot of {w.place} {w.time}, {w.character} a small figure "
            "on the path far below, vast scale",
            f"Sweeping aerial view over {w.place} {w.time}, {w.character} barely visible "
            "at the edge of the frame",
        ],
        ShotType.wide: [
            f"Wide shot, {w.character} crossing open ground in {w.place}, long shadows",
        ],
        ShotType.medium: [
            f"Medium shot of {w.character} walking deeper into {w.place}, "
            "looking around warily, light filtering through",
            f"Medium shot, {w.character} pauses beside an ancient landmark of {w.place}",
        ],
        ShotType.close_up: [
            f"Close-up of {w.character}, determined eyes, breath misting in the cold air, "
            f"{w.place} soft and out of focus behind",
        ],
        ShotType.action: [
            f"Dynamic action shot, {w.character} surges forward as {w.place} comes alive "
            "around them, motion blur, sparks and drifting leaves",
            f"Climactic moment, {w.character} faces the heart of {w.place}, "
            "light bursting outward, dramatic low angle",
        ],
        ShotType.detail: [
            f"Extreme close-up detail, a hand closing around a worn talisman, "
            f"textures of {w.place} glinting in the light",
        ],
        ShotType.closing: [
            f"Closing wide shot, {w.character} stands still as {w.place} settles {w.later}, "
            "calm and quiet, the camera pulling away",
        ],
    }[kind]
    return rng.choice(options)


def _narration(kind: ShotType, w: _Words, budget: int, rng: random.Random, *, last: bool) -> str:
    s, p = w.subject, w.place
    lines = {
        ShotType.establishing: [
            f"Long before the legends, there was {p}.",
            f"They say no one returns from {p}. Tonight, someone will try.",
            f"Far from any road, {p} waits {w.time}, as it has for a thousand years.",
        ],
        ShotType.wide: [
            "The path opens, and the world grows quiet.",
            "Every step leads further from home, and closer to the truth.",
        ],
        ShotType.medium: [
            f"The {s} moves on, listening.",
            f"The {s} walks on, listening to every sound the trees make.",
            f"Step by step, the {s} follows a trail that nobody else can see.",
        ],
        ShotType.close_up: [
            "No fear. Only purpose.",
            "There is no fear in those eyes, only purpose.",
            "There is no fear in those eyes now, only a promise that must be kept.",
        ],
        ShotType.action: [
            "Then everything wakes at once.",
            "And then, all at once, the whole place wakes.",
            f"And then, all at once, {p} wakes, and the {s} runs toward the light.",
        ],
        ShotType.detail: [
            "One small token, carried all this way.",
            "A small token, carried all this way, begins to glow.",
        ],
        ShotType.closing: [
            "And the silence returns.",
            "And when the silence returns, the journey is complete.",
            f"And when the silence returns to {p}, the {s} is finally home.",
        ],
    }[kind]
    fitting = [line for line in lines if len(line.split()) <= budget]
    if not fitting:
        shortest = min(lines, key=lambda line: len(line.split()))
        return " ".join(shortest.split()[:budget]).rstrip(",") + ("." if last else "...")
    # Prefer the fullest line that fits, with a little variety among near-equals.
    longest = max(len(line.split()) for line in fitting)
    best = [line for line in fitting if len(line.split()) >= longest - 2]
    return rng.choice(best)
