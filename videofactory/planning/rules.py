"""The rules planner: a concept and a duration in, a storyboard-like shot list out.

Deterministic for a given seed, needs no model. It reads the concept as subject, activity,
setting and time (``concept.py``), picks the shot count from the duration and the clip length,
follows a shot grammar (establishing, medium, close-up, detail, wide, action at the climax,
closing), varies the camera, and carries one style, one character and one setting descriptor
through every prompt so the shots look like one film. Narration follows a small arc (the
place, the arrival, the journey, the tension, the climax, the aftermath, the close), fits each
shot at a normal speaking rate, and no line is used twice while unused ones remain. The opening
and the climax are hero shots.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass

from videofactory.constants import (
    DEFAULT_CLIP_SECONDS,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    WORDS_PER_SECOND,
)
from videofactory.planning.concept import Concept, parse_concept, split_concept
from videofactory.planning.lexicon import (
    FIGHTERS,
    LATER,
    LOOKS,
    NEGATIVE,
    THEMES,
    TIMES,
    TRAITS,
    Theme,
)
from videofactory.planning.lines import NARRATION, SHORT, VISUALS
from videofactory.planning.timing import (
    climax_index,
    shot_count,
    shot_durations,
    shot_grammar,
)
from videofactory.planning.validate import (
    check_clip_seconds,
    check_concept,
    check_duration,
    check_format,
)
from videofactory.shotlist import CameraMove, Shot, ShotList, ShotType, aspect_of

__all__ = ["plan_rules", "shot_count", "shot_durations", "split_concept"]

#: Narration fills at most this share of its shot, leaving air between lines.
NARRATION_FILL = 0.85
#: Theme lists a template may multiply over.
_SLOTS = ("landmark", "sound", "texture", "particle")
_SLOT_RE = re.compile(r"\{(" + "|".join(_SLOTS) + r")\}", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\[([^|\]]*)\|([^\]]*)\]")
#: Phenomena that take "the" rather than "a" ("the sunrise").
_PHENOMENA = {
    "sunrise",
    "sunset",
    "rain",
    "fog",
    "snow",
    "storm",
    "night",
    "aurora",
    "tide",
    "wind",
}

CAMERA_CHOICES: dict[ShotType, list[CameraMove]] = {
    ShotType.establishing: [CameraMove.zoom_in, CameraMove.pan_right],
    ShotType.wide: [CameraMove.pan_left, CameraMove.pan_right, CameraMove.zoom_out],
    ShotType.medium: [CameraMove.pan_right, CameraMove.pan_left, CameraMove.zoom_in],
    ShotType.close_up: [CameraMove.zoom_in, CameraMove.static, CameraMove.pan_up],
    ShotType.action: [CameraMove.pan_left, CameraMove.pan_up, CameraMove.zoom_in],
    ShotType.detail: [CameraMove.zoom_in, CameraMove.pan_down],
    ShotType.closing: [CameraMove.zoom_out, CameraMove.pan_up],
}


@dataclass
class _Film:
    """Everything the sentences of one film are filled from."""

    concept: Concept
    theme: Theme
    words: dict[str, str]
    plural: bool
    family: str


def _article(phrase: str) -> str:
    return f"an {phrase}" if phrase[:1].lower() in "aeiou" else f"a {phrase}"


def _character(c: Concept, rng: random.Random) -> str:
    """The descriptor of the subject carried through every prompt."""
    if c.proper or c.plural or c.subject.split()[0].lower() in {"my", "our", "your", "his", "her"}:
        base = c.subject
    elif not c.animate:
        base = f"the {c.subject}" if c.head.lower() in _PHENOMENA else _article(c.subject)
    else:
        base = _article(f"lone {c.subject}" if len(c.subject.split()) == 1 else c.subject)
    kind = "fighter" if c.kind == "person" and c.head.lower() in FIGHTERS else c.kind
    singular, plural = rng.choice(TRAITS[kind])
    trait = plural if c.plural else singular
    return f"{base} {trait}".strip()


def _film(concept: Concept, rng: random.Random) -> tuple[_Film, str, str]:
    theme = THEMES[concept.theme]
    time = concept.time or rng.choice(TIMES)
    setting = concept.setting
    subject_is_place = not setting and concept.proper and not concept.animate
    if subject_is_place:  # "Tokyo at night": the place is the film; a landmark anchors it
        setting = concept.subject
        anchor = theme.landmarks[0]
        character, name = anchor, f"the {anchor.split(' ', 1)[1]}"
    else:
        if not setting:
            setting = rng.choice(theme.settings)
        character, name = _character(concept, rng), concept.the_subject()
    place = (
        setting if setting[:1].isupper() or re.match(r"(a|an|the) ", setting) else f"the {setting}"
    )
    words = {
        "s": name,
        "S": name[:1].upper() + name[1:],
        "char": character,
        "place": place,
        "Place": place[:1].upper() + place[1:],
        "time": time,
        "later": LATER.get(time, "as the light changes"),
        "air": theme.air,
        "doing": concept.activity,
    }
    family = "character" if concept.animate else "thing"
    plural = concept.plural and not subject_is_place
    return _Film(concept, theme, words, plural, family), character, place


#: Shot types that show what the subject does (the concept's activity) in the picture.
_SHOWS_ACTIVITY = {ShotType.establishing, ShotType.wide, ShotType.medium, ShotType.action}


def _visuals(film: _Film, kind: ShotType) -> list[str]:
    """Picture templates for a shot: ones that show the concept's activity when it has one."""
    if film.concept.activity and kind in _SHOWS_ACTIVITY:
        return VISUALS["activity"][kind.value]
    return VISUALS[film.family][kind.value]


def _expand(template: str, film: _Film) -> list[str]:
    """Every line a template gives for this film (one per combination of its theme slots)."""
    slots = sorted({slot.lower() for slot in _SLOT_RE.findall(template)})
    choices = [getattr(film.theme, f"{slot}s") for slot in slots]
    index = 1 if film.plural else 0
    numbered = _NUMBER_RE.sub(lambda m: m.group(1 + index), template)
    out = []
    for combo in itertools.product(*choices):
        words = dict(film.words, **dict(zip(slots, combo, strict=True)))
        for slot, value in zip(slots, combo, strict=True):
            words[slot.capitalize()] = value[:1].upper() + value[1:]
        line = numbered.format_map(words)
        out.append(re.sub(r"\s+([,.])", r"\1", " ".join(line.split())))
    return out


class _Picker:
    """Chooses lines so that templates rotate and no line repeats while fresh ones remain."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: Counter[str] = Counter()
        self.templates: Counter[str] = Counter()

    def pick(self, templates: list[str], film: _Film, budget: int | None = None) -> str | None:
        """A line from ``templates`` (within ``budget`` words), or None when none fits."""
        cands = [
            (t, line)
            for t in templates
            for line in _expand(t, film)
            if budget is None or len(line.split()) <= budget
        ]
        if not cands:
            return None
        fresh = [c for c in cands if not self.lines[c[1]]]
        if not fresh:  # very long films: reuse what was used least
            least = min(self.lines[c[1]] for c in cands)
            fresh = [c for c in cands if self.lines[c[1]] == least]
        rarest = min(self.templates[t] for t, _ in fresh)
        fresh = [c for c in fresh if self.templates[c[0]] == rarest]
        if budget is not None:  # prefer lines that use the shot's time, with some variety
            longest = max(len(line.split()) for _, line in fresh)
            fresh = [c for c in fresh if len(c[1].split()) >= longest - 2]
        template, line = self.rng.choice(fresh)
        self.lines[line] += 1
        self.templates[template] += 1
        return line


def _beat(i: int, n: int, climax: int, kind: ShotType) -> str:
    """Which part of the story shot i tells (picks the narration pool)."""
    if i == 0:
        return "establishing"
    if i == n - 1:
        return "closing"
    if kind is ShotType.action:
        return "action" if i == climax else "skirmish"
    if i == 1:
        return "intro"
    if i == climax - 1 and n >= 5:
        return "tension"
    if i > climax:
        return "aftermath" if i == climax + 1 else "resolve"
    return str(kind.value)


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
    check_format(width, height, fps)
    clip_s = check_clip_seconds(clip_s)
    digest = hashlib.sha256(f"{concept}\x00{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    parsed = parse_concept(concept)
    film, character, place = _film(parsed, rng)
    style = f"{rng.choice(LOOKS)}, {film.theme.palette}"
    n = shot_count(duration_s, clip_s)
    types = shot_grammar(n)
    durations = shot_durations(duration_s, n, fps)
    climax = climax_index(n)
    base_seed = int.from_bytes(digest[8:12], "big")
    narration = NARRATION[film.family]
    pictures, lines = _Picker(rng), _Picker(rng)

    shots: list[Shot] = []
    previous_move: CameraMove | None = None
    for i, (kind, dur) in enumerate(zip(types, durations, strict=True)):
        moves = [m for m in CAMERA_CHOICES[kind] if m != previous_move] or CAMERA_CHOICES[kind]
        move = rng.choice(moves)
        previous_move = move
        picture = pictures.pick(_visuals(film, kind), film) or character
        budget = max(1, int(dur * WORDS_PER_SECOND * NARRATION_FILL))
        beat = _beat(i, n, climax, kind)
        line = lines.pick(narration.get(beat, []), film, budget)
        line = line or lines.pick(narration.get(kind.value, []), film, budget)
        line = line or lines.pick(SHORT, film, budget) or ""
        shots.append(
            Shot(
                id=f"s{i + 1:0{max(2, len(str(n)))}d}",
                duration=dur,
                prompt=f"{picture}, {style}",
                negative=NEGATIVE,
                shot_type=kind,
                camera=move,
                style=style,
                seed=base_seed + i * 7919,
                narration=line,
                hero=n == 1 or i in (0, climax),
            )
        )
    return ShotList(
        concept=concept,
        duration=duration_s,
        style=style,
        character=character,
        setting=place,
        aspect=aspect_of(width, height),
        width=width,
        height=height,
        fps=fps,
        planner="rules",
        shots=shots,
    )
