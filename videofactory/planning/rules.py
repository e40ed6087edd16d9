"""The rules planner: a concept and a duration in, a shot list that reads like a film out.

Deterministic for a given seed; it needs no LLM. It reads the concept (``concept.py``: spaCy's
parse gives the subject with its modifiers, the action, the setting, the time and the kind of
film), lays out the beats of that kind of film (``beats.py``: a story's arc, an explainer's
steps in order, a teaser's reveal, features and pack shot, a travel film's way through the
place, a montage's varied motifs, a day from dawn to night), and fills each beat with a
picture and a narration line written for it (``lines.py``, ``kindlines.py``). One style, one
subject descriptor and one setting run through every prompt so the shots look like one film.

Shot lengths follow the beats (an establishing shot lingers, a teaser's features are quick)
and the narration: each line is measured at the speech engine's rate (``speech.py``) and its
shot is made at least that long, within the clip model's limits (``timing.shot_limits``), and
the lengths are frame-aligned and sum exactly to the film's. No narration line is said twice in
one film: when the fresh lines of a beat run out (a film of hours), the shot is left silent.
Each shot says how it comes in (``Shot.transition``): cuts within a scene or an action,
dissolves where time passes, a dip to black before a teaser's pack shot. And how its clip meets
the next (``Shot.continuity``, ``beats.continuity_for``): inside one scene of a story the clip
flows into the next shot's keyframe, the same camera carries on, and a change of place or
time is a plain cut.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from videofactory.constants import DEFAULT_CLIP_SECONDS, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.planning.beats import TRANSITION_MODES, Beat, beats_for, continuity_for
from videofactory.planning.concept import Concept, parse_concept, split_concept
from videofactory.planning.inflect import participle
from videofactory.planning.kindlines import KIND_NARRATION, KIND_VISUALS
from videofactory.planning.lexicon import (
    FIGHTERS,
    KIND_LOOKS,
    LATER,
    LOOKS,
    NEGATIVE,
    PHASE_LIGHT,
    THEMES,
    TIMES,
    TRAITS,
    Theme,
)
from videofactory.planning.lines import NARRATION, SHORT, VISUALS
from videofactory.planning.speech import DEFAULT_RATE, SpeakingRate
from videofactory.planning.timing import (
    fit_durations,
    normalise_durations,
    shot_count,
    shot_durations,
    shot_limits,
)
from videofactory.planning.validate import (
    check_clip_seconds,
    check_concept,
    check_duration,
    check_format,
)
from videofactory.shotlist import CameraMove, Shot, ShotList, ShotType, aspect_of

__all__ = ["plan_rules", "shot_count", "shot_durations", "split_concept"]

#: ``--transition`` of ``plan`` and ``generate`` (``planning.TRANSITION_MODES``).
TransitionMode = Literal["auto", "cut", "crossfade"]

#: A line may make its shot up to this much longer than the beat's share of the film.
STRETCH = 1.3
#: Theme lists a template may multiply over.
_SLOTS = ("landmark", "sound", "texture", "particle")
_SLOT_RE = re.compile(r"\{(" + "|".join(_SLOTS) + r")\}", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\[([^|\]]*)\|([^\]]*)\]")
_NUMBERS = "one two three four five six seven eight nine ten eleven twelve".split()
#: Places a concept names without an article ("at home"), as a picture shows them.
_BARE_PLACES = {
    "home": "a cosy home", "school": "a school", "work": "a workplace", "church": "a church",
    "college": "a college campus", "camp": "a camp", "sea": "the open sea",
}  # fmt: skip
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
    #: Which pools of ``lines.py`` a story uses: "character" or "thing".
    family: str


def _article(phrase: str) -> str:
    return f"an {phrase}" if phrase[:1].lower() in "aeiou" else f"a {phrase}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _named(c: Concept) -> str:
    """The subject with "a" or "an" (a name, a plural or a possessive as it is)."""
    if c.proper or c.plural or c.bare or c.subject.split()[0].lower() in {"my", "our", "your"}:
        return c.subject
    if c.head.lower() in _PHENOMENA:
        return f"the {c.subject}"
    return _article(c.subject)


def _character(c: Concept, rng: random.Random) -> str:
    """The descriptor of the subject carried through every prompt."""
    if c.film == "teaser":
        return c.subject if c.proper or c.plural else _article(f"pristine {c.subject}")
    if c.film == "explainer" and not c.doer:  # "how to brew coffee": hands doing it
        return f"hands {c.activity}"
    if c.film == "explainer" or (c.film in ("travel", "montage") and not c.animate):
        return _named(c)
    if c.proper or c.plural or c.subject.split()[0].lower() in {"my", "our", "your", "his", "her"}:
        base = c.subject
    elif not c.animate:
        base = _named(c)
    else:
        base = _article(f"lone {c.subject}" if len(c.subject.split()) == 1 else c.subject)
    kind = "fighter" if c.kind == "person" and c.head.lower() in FIGHTERS else c.kind
    singular, plural = rng.choice(TRAITS[kind])
    trait = plural if c.plural else singular
    return f"{base} {trait}".strip()


def _theme_of(c: Concept) -> str:
    """The concept's theme; a product or a thing explained gets a studio, a place visited
    streets and squares, when the concept names nothing that says otherwise."""
    if c.theme != "generic":
        return c.theme
    if c.film == "teaser" or (c.film == "explainer" and not c.setting):
        return "studio"
    if c.film == "travel":
        return "travel"
    return "generic"


def _travel_theme(c: Concept, theme: str) -> str:
    """A visit by day goes through squares and lanes, not the neon city of night scenes."""
    if c.film == "travel" and theme == "city" and not re.search(r"night|neon|rain", c.text, re.I):
        return "travel"
    return theme


def _place(c: Concept, theme: Theme, rng: random.Random) -> str:
    """The setting as prompts and narration name it: "the mystical forest", "London"."""
    setting = c.setting
    if not setting and c.place:
        setting = c.subject if c.proper else f"the {c.subject}"
    if not setting:
        setting = rng.choice(theme.settings)
    if setting.lower() in _BARE_PLACES:
        return _BARE_PLACES[setting.lower()]
    if setting[:1].isupper() or re.match(r"(a|an|the) ", setting):
        return setting
    return f"the {setting}"


def _done(c: Concept) -> str:
    """The explainer's action done: "the instruction is executed", "honey is made"."""
    if c.verb == "be" and c.rest:
        return c.statement()
    if c.verb and c.rest and c.verb != "be":
        obj = re.sub(r"^(a|an)\s+", "the ", c.rest)
        last = obj.split()[-1].lower()
        be = "are" if last.endswith("s") and not last.endswith(("ss", "us", "is")) else "is"
        return f"{obj} {be} {participle(c.verb)}"
    if c.verb:
        return f"{c.statement()}, and the job is done"
    return f"{c.the_subject()} [is|are] complete"


def _how(c: Concept) -> str:
    """The explainer's question as a clause: "how the CPU executes an instruction"."""
    wh = c.wh or "how"
    if not c.verb:
        return f"{wh} {c.the_subject()} [works|work]"
    if not c.doer:
        return f"{wh} to {c.verb} {c.rest}".strip()
    return f"{wh} {c.statement()}"


def _film(concept: Concept, rng: random.Random) -> tuple[_Film, str, str, str]:
    """The film's words, subject descriptor, place and style."""
    theme = THEMES[_travel_theme(concept, _theme_of(concept))]
    place = _place(concept, theme, rng)
    if concept.film == "travel" and concept.place:
        # "a walk through the streets of Kyoto": the film is about Kyoto, the place it shows
        place = concept.subject if concept.proper else f"the {concept.subject}"
    time = concept.time
    if not time and concept.film == "travel":
        time = "in the morning light"  # a visit starts in the morning (``beats._travel``)
    elif not time and concept.film in ("story", "montage"):
        time = rng.choice(TIMES)
    character = _character(concept, rng)
    name = concept.the_subject()
    where = place if concept.film == "travel" and not concept.place else name
    if concept.film == "travel" and concept.place and concept.setting:
        where = concept.subject  # "a walk through the streets of Kyoto": Kyoto
    traveller = concept.film == "travel" and not concept.place
    words = {
        "s": name,
        "S": _cap(name),
        "a_s": _named(concept),
        "char": character,
        "place": place,
        "Place": _cap(place),
        "time": time,
        "light": time or "in soft, even light",
        "later": LATER.get(time, "as the light changes"),
        "air": theme.air,
        "doing": concept.activity if concept.doer else "",
        "todo": f"{concept.verb} {concept.rest}".strip(),
        "where": where,
        "Where": _cap(where),
        "cast": f", {character}" if traveller else "",
        "focus": place if concept.place else character,
        "in_place": "" if concept.place else f" in {place}",
        "q": concept.question(),
        "how": _how(concept),
        "How": _cap(_how(concept)),
        "done": _done(concept),
        "phase": "",
        "Phase": "",
        "n": "",
        "count": "",
        "stage": "",
    }
    looks = KIND_LOOKS.get(concept.film, LOOKS)
    style = f"{rng.choice(looks)}, {theme.palette}"
    family = "character" if concept.animate else "thing"
    plural = concept.plural and not concept.place
    return _Film(concept, theme, words, plural, family), character, place, style


def _expand(template: str, film: _Film, extra: dict[str, str]) -> list[str]:
    """Every line a template gives for this film (one per combination of its theme slots)."""
    if "{count}" in template and not extra.get("count"):
        return []  # "in {count} steps", in a film of fewer than two
    if "{count}" in template and extra.get("count") == "one":
        return []
    slots = sorted({slot.lower() for slot in _SLOT_RE.findall(template)})
    choices = [getattr(film.theme, f"{slot}s") for slot in slots]
    index = 1 if film.plural else 0
    numbered = _NUMBER_RE.sub(lambda m: m.group(1 + index), template)
    out = []
    for combo in itertools.product(*choices):
        words = dict(film.words, **extra, **dict(zip(slots, combo, strict=True)))
        for slot, value in zip(slots, combo, strict=True):
            words[slot.capitalize()] = _cap(value)
        line = _NUMBER_RE.sub(lambda m: m.group(1 + index), numbered.format_map(words))
        line = re.sub(r"\s+([,.?!])", r"\1", " ".join(line.split()))
        out.append(re.sub(r",\s*,", ",", line).strip(" ,"))
    return out


class _Picker:
    """Chooses lines so that templates rotate and no line is used twice in the film."""

    def __init__(self, rng: random.Random, rate: SpeakingRate | None = None) -> None:
        self.rng = rng
        self.rate = rate
        self.lines: Counter[str] = Counter()
        self.templates: Counter[str] = Counter()

    def pick(
        self,
        templates: list[str],
        film: _Film,
        extra: dict[str, str],
        *,
        cap: float | None = None,
        target: float | None = None,
        repeat: bool = False,
    ) -> str | None:
        """A fresh line from ``templates``: for narration (``cap``) one said in at most
        ``cap`` seconds, as near ``target`` as the fresh ones allow; None when none is left.
        ``repeat``: a line used before may come again when no fresh one is left (pictures)."""
        cands = []
        for t in templates:
            for line in _expand(t, film, extra):
                if cap is None:
                    cands.append((t, line, 0.0))
                    continue
                spoken = self.rate.seconds(line) if self.rate else 0.0
                if spoken <= cap:
                    cands.append((t, line, spoken))
        fresh = [c for c in cands if not self.lines[c[1]]]
        if not fresh and repeat and cands:
            least = min(self.lines[c[1]] for c in cands)
            fresh = [c for c in cands if self.lines[c[1]] == least]
        if not fresh:
            return None
        rarest = min(self.templates[t] for t, _, _ in fresh)
        fresh = [c for c in fresh if self.templates[c[0]] == rarest]
        if target is not None:
            within = [c for c in fresh if c[2] <= target]
            if within:  # lines that use the shot's time, with some variety
                longest = max(c[2] for c in within)
                fresh = [c for c in within if c[2] >= longest - 1.0]
            else:  # the line that stretches its shot least
                shortest = min(c[2] for c in fresh)
                fresh = [c for c in fresh if c[2] <= shortest + 0.2]
        template, line, _ = self.rng.choice(fresh)
        self.lines[line] += 1
        self.templates[template] += 1
        return line

    def release(self, line: str) -> None:
        """Give a line back (its shot took a shorter one)."""
        if self.lines[line]:
            self.lines[line] -= 1


def _count_word(k: int) -> str:
    """1 -> "one" ... 12 -> "twelve", then digits; "" for none."""
    if k < 1:
        return ""
    return _NUMBERS[k - 1] if k <= len(_NUMBERS) else str(k)


def _stage(index: int, count: int) -> str:
    """Where a step falls in its process, for a picture: "the first stage", "a middle stage"."""
    if index <= 1:
        return "the first stage"
    if index >= count:
        return "the final stage"
    return "an early stage" if index <= count / 2 else "a late stage"


def _extra(beat: Beat, film: _Film, steps: int) -> dict[str, str]:
    """Words of one beat: its number (and the film's count of steps), its phase and light."""
    words = {
        "n": _count_word(beat.index),
        "count": _count_word(beat.count or steps),
        "stage": _stage(beat.index, beat.count),
    }
    if beat.phase:
        words["phase"], words["Phase"] = beat.phase, _cap(beat.phase)
        light = PHASE_LIGHT.get(beat.phase)
        if light and not (film.concept.film == "travel" and film.concept.time):
            words["light"] = light
            if film.concept.film in ("story", "montage"):
                words["time"] = light
    return words


def _pools(beat: Beat, film: _Film) -> tuple[list[str], list[str]]:
    """The picture and narration templates of a beat."""
    kind = film.concept.film
    if kind == "story" and beat.phase:  # a day (night, year) in the life
        visuals = KIND_VISUALS["arc"][beat.name]
        spoken = KIND_NARRATION["arc"]
        if beat.name in ("arc_open", "arc_phase"):
            return visuals, spoken[beat.phase]
        if beat.name == "arc_close" and beat.phase in spoken:
            return visuals, spoken["arc_close"] + spoken[beat.phase]
        return visuals, spoken[beat.name]
    if kind == "story":
        pictures = (
            VISUALS["activity"][beat.shot.value]
            if film.concept.activity and beat.shot.value in VISUALS["activity"]
            else VISUALS[film.family][beat.shot.value]
        )
        pool = NARRATION[film.family]
        return pictures, pool.get(beat.name, []) + pool.get(beat.shot.value, [])
    visuals, narration = KIND_VISUALS[kind], KIND_NARRATION[kind]
    name = beat.name
    if kind == "teaser" and name == "feature":
        name = f"feature_{beat.phase}"
    spoken_name = name
    you = "" if film.concept.doer else "_you"  # "how to ...": the viewer does the steps
    if kind == "explainer" and name == "step":
        name = f"step_{beat.shot.value}"
        if beat.index == 1:
            spoken_name = f"step_first{you}"
        elif beat.index == beat.count:
            spoken_name = "step_last"
        else:
            spoken_name = f"step{you}"
    elif kind == "explainer" and name == "overview":
        spoken_name = f"overview{you}"
    return visuals[name], narration[spoken_name]


def _narrate(
    beats: list[Beat],
    film: _Film,
    pools: list[list[str]],
    extras: list[dict[str, str]],
    nominal: list[float],
    longest: float,
    picker: _Picker,
) -> list[str]:
    lines = []
    for beat, pool, extra, share in zip(beats, pools, extras, nominal, strict=True):
        cap = min(longest, share * STRETCH)
        line = picker.pick(pool, film, extra, cap=cap, target=share)
        if line is None and beat.name != "pack_shot":
            line = picker.pick(SHORT, film, extra, cap=cap, target=share)
        lines.append(line or "")
    return lines


def _lengths(
    beats: list[Beat],
    lines: list[str],
    film: _Film,
    pools: list[list[str]],
    extras: list[dict[str, str]],
    picker: _Picker,
    rate: SpeakingRate,
    limits: tuple[float, float, float, int],
) -> list[float]:
    """Shot lengths that fit every line; lines too long for the film are swapped for
    shorter ones (then dropped) until they fit."""
    duration_s, shortest, longest, fps = limits
    weights = [b.weight for b in beats]
    while True:
        needs = [rate.seconds(line) for line in lines]
        durations = fit_durations(
            weights, needs, duration_s, fps, shortest=shortest, longest=longest
        )
        if durations is not None:
            return durations
        i = max(range(len(lines)), key=lambda k: (needs[k] / weights[k], -k))
        picker.release(lines[i])
        cap = needs[i] * 0.75
        shorter = picker.pick(pools[i], film, extras[i], cap=cap, target=cap)
        lines[i] = shorter or picker.pick(SHORT, film, extras[i], cap=cap, target=cap) or ""


def plan_rules(
    concept: str,
    duration_s: float,
    *,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
    clip_s: float = DEFAULT_CLIP_SECONDS,
    rate: SpeakingRate | None = None,
    transition: TransitionMode | str = "auto",
) -> ShotList:
    """Plan a shot list for a concept; the same inputs always give the same plan.

    Arguments:
        rate: how fast the narration will be spoken (``speech.speaking_rate`` of the farm's
            speech engine); the default voice's when not given.
        transition: "auto" (each beat's own), or "cut" / "crossfade" for every shot.

    Raises:
        ConfigError: bad input, or the concept parser is not installed.
    """
    concept = check_concept(concept)
    duration_s = check_duration(duration_s)
    check_format(width, height, fps)
    clip_s = check_clip_seconds(clip_s)
    if transition not in TRANSITION_MODES:
        from videofactory.errors import ConfigError

        raise ConfigError(
            f"unknown transition mode {transition!r}; use one of: {', '.join(TRANSITION_MODES)}"
        )
    rate = rate or DEFAULT_RATE
    digest = hashlib.sha256(f"{concept}\x00{seed}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    parsed = parse_concept(concept)
    film, character, place, style = _film(parsed, rng)
    n = shot_count(duration_s, clip_s)
    beats = beats_for(parsed.film, n, parsed.arc, timed=bool(parsed.time))
    shortest, longest = shot_limits(duration_s, n, clip_s)
    nominal = normalise_durations([b.weight for b in beats], duration_s, fps)
    steps = sum(1 for b in beats if b.name == "step")
    extras = [_extra(b, film, steps) for b in beats]
    pools = [_pools(b, film) for b in beats]
    lines = _Picker(rng, rate)
    spoken = _narrate(beats, film, [p[1] for p in pools], extras, nominal, longest, lines)
    durations = _lengths(
        beats,
        spoken,
        film,
        [p[1] for p in pools],
        extras,
        lines,
        rate,
        (duration_s, shortest, longest, fps),
    )
    base_seed = int.from_bytes(digest[8:12], "big")
    continuity = continuity_for(parsed.film, beats)
    pictures = _Picker(rng)
    shots: list[Shot] = []
    previous_move: CameraMove | None = None
    width_id = max(2, len(str(n)))
    for i, (beat, dur) in enumerate(zip(beats, durations, strict=True)):
        moves = [m for m in CAMERA_CHOICES[beat.shot] if m != previous_move]
        move = rng.choice(moves or CAMERA_CHOICES[beat.shot])
        previous_move = move
        picture = pictures.pick(pools[i][0], film, extras[i], repeat=True) or character
        cut = beat.transition if transition == "auto" else transition
        shots.append(
            Shot(
                id=f"s{i + 1:0{width_id}d}",
                duration=dur,
                prompt=f"{_cap(picture)}, {style}",
                negative=NEGATIVE,
                shot_type=beat.shot,
                camera=move,
                style=style,
                seed=base_seed + i * 7919,
                narration=spoken[i],
                hero=beat.hero,
                continuity=continuity[i],
                transition="cut" if i == 0 else cut,
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
        kind=film.concept.film,
        planner="rules",
        shots=shots,
    )
