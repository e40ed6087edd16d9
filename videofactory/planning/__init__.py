"""Planners turn a concept and a duration into a shot list: an LLM, or the rules.

``plan_shotlist`` picks the planner (``choose.plan_film``: ``auto`` asks a configured LLM
that answers, else the rules planner plans). ``plan_rules`` and ``plan_llm`` are imported on
first use (``videofactory.lazy``): the rules planner needs no HTTP client, and
``plan_shotlist`` imports the LLM's only when one is asked.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

from videofactory import lazy
from videofactory.constants import DEFAULT_CLIP_SECONDS, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError
from videofactory.planning.beats import TRANSITION_MODES
from videofactory.planning.choose import PLANNERS, plan_film

if typing.TYPE_CHECKING:
    from videofactory.config import LLMConfig
    from videofactory.planning.llm import plan_llm
    from videofactory.planning.rules import plan_rules
    from videofactory.planning.speech import SpeakingRate
    from videofactory.shotlist import ShotList

__all__ = ["PLANNERS", "TRANSITION_MODES", "plan_llm", "plan_rules", "plan_shotlist"]


def plan_shotlist(
    concept: str,
    duration: float,
    *,
    planner: str = "rules",
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
    clip_s: float = DEFAULT_CLIP_SECONDS,
    llm: LLMConfig | None = None,
    style: str | None = None,
    say: Callable[[str], None] | None = None,
    rate: SpeakingRate | None = None,
    transition: str = "auto",
) -> ShotList:
    """Plan a shot list with the named planner: ``auto``, ``llm`` (needs an ``LLMConfig``)
    or ``rules`` (the default here: a library call asks no model unless told to).

    ``rate``: how fast the farm's speech engine speaks (``speech.speaking_rate``), so that
    the rules planner makes each shot long enough for its narration. ``transition``: "auto"
    keeps each shot's own (the rules planner's per beat; an LLM's plan's), "cut" or
    "crossfade" puts that on every shot.

    Raises:
        ConfigError: bad input, unknown planner or transition, or ``llm`` without settings.
        PlannerError, BackendError: the LLM planner failed (``llm`` only; see ``plan_film``).
    """
    if transition not in TRANSITION_MODES:
        raise ConfigError(
            f"unknown transition {transition!r}; use one of: {', '.join(TRANSITION_MODES)} "
            "(auto: the planner chooses per shot)"
        )
    planned = plan_film(
        concept,
        duration,
        planner=planner,
        llm=llm,
        style=style,
        seed=seed,
        width=width,
        height=height,
        fps=fps,
        clip_s=clip_s,
        say=say,
        rate=rate,
        transition=transition,
    )
    if transition == "auto" or planned.planner == "rules":
        return planned
    from videofactory.shotlist import with_transition

    return with_transition(planned, transition)


__getattr__, __dir__ = lazy.exports(globals(), {"plan_llm": "llm", "plan_rules": "rules"})
