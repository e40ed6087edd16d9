"""Planners turn a concept and a duration into a shot list: rules (default) or an LLM.

``plan_rules`` and ``plan_llm`` are imported on first use (``videofactory.lazy``): the rules
planner needs no HTTP client, and ``plan_shotlist`` imports the LLM's only when asked for it.
"""

from __future__ import annotations

import typing
from typing import Literal

from videofactory import lazy
from videofactory.constants import DEFAULT_CLIP_SECONDS, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError

if typing.TYPE_CHECKING:
    from videofactory.config import LLMConfig
    from videofactory.planning.llm import plan_llm
    from videofactory.planning.rules import plan_rules
    from videofactory.planning.speech import SpeakingRate
    from videofactory.shotlist import ShotList

__all__ = ["PLANNERS", "TRANSITION_MODES", "plan_llm", "plan_rules", "plan_shotlist"]

#: Planner names ``--planner`` accepts.
PLANNERS = ("rules", "llm")
#: ``--transition`` of ``plan`` and ``generate``: each beat's own (``auto``), or one for all.
TRANSITION_MODES = ("auto", "cut", "crossfade")


def plan_shotlist(
    concept: str,
    duration: float,
    *,
    planner: Literal["rules", "llm"] | str = "rules",
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
    clip_s: float = DEFAULT_CLIP_SECONDS,
    llm: LLMConfig | None = None,
    rate: SpeakingRate | None = None,
    transition: str = "auto",
) -> ShotList:
    """Plan a shot list with the named planner (``llm`` needs an ``LLMConfig``).

    ``rate``: how fast the farm's speech engine speaks (``speech.speaking_rate``), so that
    the rules planner makes each shot long enough for its narration. ``transition``: "auto"
    keeps each shot's own (the rules planner's per beat; an LLM's plan's), "cut" or
    "crossfade" puts that on every shot.

    Raises:
        ConfigError: bad input, unknown planner or transition, or ``llm`` without settings.
        PlannerError, BackendError: the LLM planner failed (see ``plan_llm``).
    """
    if transition not in TRANSITION_MODES:
        raise ConfigError(
            f"unknown transition {transition!r}; use one of: {', '.join(TRANSITION_MODES)} "
            "(auto: the planner chooses per shot)"
        )
    if planner == "rules":
        from videofactory.planning.rules import plan_rules

        return plan_rules(
            concept,
            duration,
            seed=seed,
            width=width,
            height=height,
            fps=fps,
            clip_s=clip_s,
            rate=rate,
            transition=transition,
        )
    if planner == "llm":
        if llm is None:
            raise ConfigError(
                "--planner llm needs an LLM: pass --llm-url and --llm-model, set "
                "VIDEOFACTORY_LLM_URL and VIDEOFACTORY_LLM_MODEL, or add an 'llm:' section "
                "to factory.yaml"
            )
        from videofactory.planning.llm import plan_llm

        planned = plan_llm(
            concept,
            duration,
            llm=llm,
            seed=seed,
            width=width,
            height=height,
            fps=fps,
            clip_s=clip_s,
        )
        if transition == "auto":
            return planned
        shots = [
            s.model_copy(update={"transition": "cut" if i == 0 else transition})
            for i, s in enumerate(planned.shots)
        ]
        return planned.model_copy(update={"shots": shots})
    raise ConfigError(f"unknown planner {planner!r}; use one of: {', '.join(PLANNERS)}")


__getattr__, __dir__ = lazy.exports(globals(), {"plan_llm": "llm", "plan_rules": "rules"})
