"""The beats of each kind of film: which shot tells what, how long it runs, how it comes in.

A beat is one shot's part in the film: its narration and pictures come from the beat's pool
(``lines.py``, ``kindlines.py``), its length from its weight (an establishing shot lingers, a
detail is quick, a teaser's feature shots are quicker still), and its transition from what
happens between it and the shot before: a cut inside an action or a scene, a dissolve where
time passes (a new part of the day, the aftermath, the last shot), a dip to black before a
teaser's pack shot.

* **story**: open wide, meet the subject, build (medium, close-up, detail, wide), tension,
  the climax, the aftermath, the close (``shot_grammar``). A day (a night, a year) in the life
  of someone runs through that span instead: dawn, morning, midday, afternoon, dusk, night.
* **explainer**: the question, an overview, its steps in order, a recap, the answer.
* **teaser**: a glimpse, the reveal, its features one by one, the product in use, the pack
  shot with the line to remember it by.
* **travel**: arrive, move through the place (streets, landmarks, its people, its details, a
  view from above), into the evening, and leave at night.
* **montage**: varied images in a rhythm (vista, macro, silhouette, reflection, motion,
  stillness...), alternating cuts and dissolves, lengths varying.

Pure: counts in, beats out.
"""

from __future__ import annotations

from dataclasses import dataclass

from videofactory.planning.timing import climax_index, shot_grammar
from videofactory.shotlist import ShotType

__all__ = ["ARC_PHASES", "FLOWING_FILMS", "TRANSITION_MODES", "Beat", "beats_for", "continuity_for"]

#: ``--transition`` of ``plan`` and ``generate``: each beat's own (``auto``), or one for all.
TRANSITION_MODES = ("auto", "cut", "crossfade")

T = ShotType

#: What a story's span of time runs through, in order.
ARC_PHASES: dict[str, tuple[str, ...]] = {
    "day": ("dawn", "morning", "midday", "afternoon", "dusk", "night"),
    "night": ("dusk", "evening", "midnight", "the small hours", "first light"),
    "year": ("spring", "summer", "autumn", "winter"),
}


@dataclass(frozen=True)
class Beat:
    """One shot's part in the film."""

    #: The pool its narration and pictures come from ("hook", "step", "reveal", "dawn"...).
    name: str
    shot: ShotType
    #: Relative length (1.0: an ordinary shot).
    weight: float
    #: How it comes in: "cut", "crossfade" or "fadeblack" (nothing comes before the first).
    transition: str = "cut"
    hero: bool = False
    #: Its number among the beats of its name (steps, features) and how many there are.
    index: int = 0
    count: int = 0
    #: The time of day or year it shows ("dawn", "autumn"), or "".
    phase: str = ""


def beats_for(film: str, n: int, arc: str = "", *, timed: bool = False) -> list[Beat]:
    """The ``n`` beats of a film of this kind (``arc``: a story's span of time; ``timed``:
    the concept names its time of day, which a travel film then keeps)."""
    if n < 1:
        raise ValueError("a film has at least one shot")
    if film == "explainer":
        beats = _explainer(n)
    elif film == "teaser":
        beats = _teaser(n)
    elif film == "travel":
        beats = _travel(n, timed)
    elif film == "montage":
        beats = _montage(n, arc)
    elif arc in ARC_PHASES:
        beats = _arc(n, ARC_PHASES[arc])
    else:
        beats = _story(n)
    first = beats[0]
    beats[0] = Beat(first.name, first.shot, first.weight, "cut", first.hero, first.index,
                    first.count, first.phase)  # fmt: skip
    if not any(b.hero for b in beats):
        beats[0] = Beat(beats[0].name, beats[0].shot, beats[0].weight, "cut", True,
                        beats[0].index, beats[0].count, beats[0].phase)  # fmt: skip
    return beats


#: Films whose shots between dissolves are one continuous scene (a story, a day in someone's
#: life): their clips run into each other. A travel film changes place at every stop, an
#: explainer's steps, a teaser's features and a montage's motifs are cut on purpose.
FLOWING_FILMS = ("story",)


def continuity_for(film: str, beats: list[Beat]) -> list[str]:
    """Each shot's ``continuity`` (``Shot.continuity``), from what happens between beats.

    Inside one scene of a flowing film (the next beat cuts in: no time passes, the place stays)
    a shot ``flow``s: its clip ends on the next shot's keyframe, so the cut lands. Where the
    next beat keeps the same framing the same camera carries on: the next shot ``continue``s
    from this clip's last frame instead. A dissolve or a dip to black (time passes, the place
    changes) is a ``cut``, and so is the last shot (nothing after it).
    """
    out = ["cut"] * len(beats)
    if film not in FLOWING_FILMS:
        return out
    for i in range(len(beats) - 1):
        here, after = beats[i], beats[i + 1]
        if after.transition != "cut" or after.phase != here.phase:
            continue
        if after.shot is here.shot:
            out[i + 1] = "continue"
        elif out[i] == "cut":
            out[i] = "flow"
    return out


# -- story -----------------------------------------------------------------------------------

_STORY_WEIGHTS = {
    "establishing": 1.3, "intro": 1.1, "medium": 1.0, "close_up": 0.85, "detail": 0.75,
    "wide": 1.15, "tension": 0.9, "action": 1.0, "skirmish": 0.7, "aftermath": 1.1,
    "resolve": 1.0, "closing": 1.35,
}  # fmt: skip


def _story_beat(i: int, n: int, climax: int, kind: ShotType) -> str:
    """Which part of the story shot i tells."""
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


def _story(n: int) -> list[Beat]:
    types = shot_grammar(n)
    climax = climax_index(n)
    beats = []
    for i, kind in enumerate(types):
        name = _story_beat(i, n, climax, kind)
        # Time passes after the climax and before the last shot; a new stretch of the journey
        # opens on a wide shot after close ones. Everything else is one continuous scene.
        passes = name in ("aftermath", "closing") or (
            name == "wide" and types[i - 1] in (ShotType.close_up, ShotType.detail)
        )
        beats.append(
            Beat(
                name,
                kind,
                _STORY_WEIGHTS[name],
                "crossfade" if passes and i else "cut",
                hero=n == 1 or i in (0, climax),
            )
        )
    return beats


def _phases(n: int, phases: tuple[str, ...]) -> list[str]:
    """The phase of each of n shots: in order, each phase an equal run of shots (a film of
    fewer shots than phases keeps the first, the last and evenly spaced ones between)."""
    if n <= len(phases):
        if n == 1:
            return [phases[0]]
        return [phases[round(i * (len(phases) - 1) / (n - 1))] for i in range(n)]
    return [phases[i * len(phases) // n] for i in range(n)]


def _arc(n: int, phases: tuple[str, ...]) -> list[Beat]:
    """A story through a span of time: each phase opens wide and moves in; dissolves between
    phases, cuts within one."""
    shot_phases = _phases(n, phases)
    inside = [T.medium, T.close_up, T.detail, T.medium, T.wide]
    beats, k = [], 0
    middle = shot_phases[n // 2]
    for i, phase in enumerate(shot_phases):
        opens = i == 0 or phase != shot_phases[i - 1]
        if i == n - 1 and n > 1:
            shot, name, weight = T.closing, "arc_close", 1.3
        elif i == 0:
            shot, name, weight = T.establishing, "arc_open", 1.3
        elif opens:
            shot, name, weight = T.wide, "arc_phase", 1.15
            k = 0
        else:
            shot, name, weight = inside[k % len(inside)], "arc_moment", 0.9
            k += 1
        hero = i == 0 or (opens and phase == middle and i > 0)
        beats.append(Beat(name, shot, weight, "crossfade" if opens else "cut", hero, phase=phase))
    return beats


# -- explainer -------------------------------------------------------------------------------

_STEP_SHOTS = (T.close_up, T.detail, T.medium, T.wide)


def _explainer(n: int) -> list[Beat]:
    if n == 1:
        return [Beat("hook", T.establishing, 1.0, hero=True)]
    overview = n >= 5
    recap = n >= 8
    steps = n - 2 - int(overview) - int(recap)
    beats = [Beat("hook", T.establishing, 1.1, hero=True)]
    if overview:
        beats.append(Beat("overview", T.wide, 1.0))
    for k in range(steps):
        beats.append(
            Beat(
                "step",
                _STEP_SHOTS[k % len(_STEP_SHOTS)],
                1.05,
                "cut",
                hero=k == steps // 2 and steps > 1,
                index=k + 1,
                count=steps,
            )
        )
    if recap:
        beats.append(Beat("recap", T.wide, 1.1, "crossfade"))
    beats.append(Beat("answer", T.closing, 1.2, "crossfade"))
    return beats


# -- teaser ----------------------------------------------------------------------------------

#: What each feature shot looks at, in order (a long teaser comes round again), and its shot.
FEATURES = (
    ("form", T.medium), ("material", T.detail), ("detail", T.detail), ("colour", T.medium),
    ("light", T.close_up), ("motion", T.action), ("scale", T.close_up), ("sound", T.close_up),
)  # fmt: skip


def _teaser(n: int) -> list[Beat]:
    pack = Beat("pack_shot", T.closing, 1.5, "fadeblack", hero=True)
    if n == 1:
        return [pack]
    reveal = Beat("reveal", T.establishing, 1.2, "crossfade", hero=True)
    if n == 2:
        return [reveal, pack]
    beats = [Beat("tease", T.close_up, 0.85), reveal]
    in_use = n >= 6
    features = n - 3 - int(in_use)
    for k in range(features):
        facet, shot = FEATURES[k % len(FEATURES)]
        beats.append(
            Beat(
                "feature",
                shot,
                0.65,
                "cut",
                index=k + 1,
                count=features,
                phase=facet,
            )
        )
    if in_use:
        beats.append(Beat("in_use", T.action, 0.85, "cut"))
    beats.append(pack)
    return beats


# -- travel ----------------------------------------------------------------------------------

#: Stops on the way through a place, in the order a visit takes them.
STOPS = (
    ("streets", T.wide), ("people", T.medium), ("detail", T.detail), ("landmark", T.wide),
    ("taste", T.close_up), ("corner", T.medium), ("view", T.wide), ("craft", T.detail),
)  # fmt: skip
_STOP_WEIGHTS = {"streets": 1.0, "people": 0.9, "detail": 0.75, "landmark": 1.1, "taste": 0.8,
                 "corner": 0.9, "view": 1.2, "craft": 0.75}  # fmt: skip


def _travel(n: int, timed: bool) -> list[Beat]:
    """Arrive, move through the place, into the evening, leave at night; a concept that
    names its time ("Tokyo at night") stays in it."""
    start = "" if timed else "morning"
    if n == 1:
        return [Beat("arrival", T.establishing, 1.0, hero=True, phase=start)]
    beats = [Beat("arrival", T.establishing, 1.3, hero=True, phase=start)]
    evening = n >= 5 and not timed
    middle = n - 2 - int(evening)
    for k in range(middle):
        name, shot = STOPS[k % len(STOPS)]
        phase = start and ("morning" if k < middle / 2 else "afternoon")
        turned = k > 0 and phase != beats[-1].phase
        beats.append(
            Beat(
                name,
                shot,
                _STOP_WEIGHTS[name],
                "crossfade" if turned else "cut",
                hero=name == "view" and k < len(STOPS),
                index=k + 1,
                count=middle,
                phase=phase,
            )
        )
    if evening:
        beats.append(Beat("evening", T.wide, 1.1, "crossfade", phase="evening"))
    beats.append(Beat("farewell", T.closing, 1.3, "crossfade", phase=start and "night"))
    return beats


# -- montage ---------------------------------------------------------------------------------

#: The montage's motifs in the order they come round, each with its shot and length.
MOTIFS = (
    ("vista", T.establishing, 1.25), ("macro", T.detail, 0.7), ("silhouette", T.medium, 1.0),
    ("reflection", T.close_up, 0.85), ("motion", T.action, 0.6), ("stillness", T.wide, 1.3),
    ("texture", T.detail, 0.75), ("light", T.close_up, 0.95), ("aerial", T.wide, 1.1),
)  # fmt: skip


def _montage(n: int, arc: str) -> list[Beat]:
    phases = _phases(n, ARC_PHASES[arc]) if arc in ARC_PHASES else [""] * n
    beats = []
    for i in range(n):
        name, shot, weight = MOTIFS[i % len(MOTIFS)]
        if i == n - 1 and n > 1:
            name, shot, weight = "coda", T.closing, 1.3
        # A rhythm of two dissolves and a cut; a new season always dissolves in.
        dissolve = i % 3 != 2 or (i > 0 and phases[i] != phases[i - 1])
        beats.append(
            Beat(
                name,
                shot,
                weight,
                "crossfade" if dissolve else "cut",
                hero=i in (0, n // 2),
                index=i + 1,
                count=n,
                phase=phases[i],
            )
        )
    return beats
