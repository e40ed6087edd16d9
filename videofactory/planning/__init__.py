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
    from videofactory.shotlist import ShotList

__all__ = ["PLANNERS", "plan_llm", "plan_rules", "plan_shotlist"]

#: Planner names ``--planner`` accepts.
PLANNERS = ("rules", "llm")


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
) -> ShotList:
    """Plan a shot list with the named planner (``llm`` needs an ``LLMConfig``).

    Raises:
        ConfigError: bad input, unknown planner, or ``llm`` without settings.
        PlannerError, BackendError: the LLM planner failed (see ``plan_llm``).
    """
    if planner == "rules":
        from videofactory.planning.rules import plan_rules

        return plan_rules(
            concept, duration, seed=seed, width=width, height=height, fps=fps, clip_s=clip_s
        )
    if planner == "llm":
        if llm is None:
            raise ConfigError(
                "--planner llm needs an LLM: pass --llm-url and --llm-model, set "
                "VIDEOFACTORY_LLM_URL and VIDEOFACTORY_LLM_MODEL, or add an 'llm:' section "
                "to factory.yaml"
            )
        from videofactory.planning.llm import plan_llm

        return plan_llm(
            concept,
            duration,
            llm=llm,
            seed=seed,
            width=width,
            height=height,
            fps=fps,
            clip_s=clip_s,
        )
    raise ConfigError(f"unknown planner {planner!r}; use one of: {', '.join(PLANNERS)}")


__getattr__, __dir__ = lazy.exports(globals(), {"plan_llm": "llm", "plan_rules": "rules"})
