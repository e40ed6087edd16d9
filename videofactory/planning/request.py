"""What a user asked to plan, kept apart from the planning itself.

``generate`` checks a request and plans it at once; ``generate --detach`` checks it in the
command (cheap: no parser, no model, one clear line for bad input), records it with the run and
lets the background process plan it (``factory.resume_run``), so that the command answers
before spaCy or an LLM is even loaded. The request holds the flags as given, not the LLM
settings they resolve to: the planning process resolves them again from the same flags,
environment and farm, so that no API key is ever written to the run database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from videofactory.constants import DEFAULT_CLIP_SECONDS, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError
from videofactory.planning.beats import TRANSITION_MODES
from videofactory.planning.choose import PLANNERS
from videofactory.planning.validate import (
    check_clip_seconds,
    check_concept,
    check_duration,
    check_format,
    check_style,
)

if TYPE_CHECKING:
    from videofactory.config import FarmConfig, LLMConfig
    from videofactory.shotlist import ShotList

__all__ = ["PlanRequest", "plan_request"]


@dataclass(frozen=True)
class PlanRequest:
    """A concept to plan and how (``generate``'s planning options)."""

    concept: str
    duration: float
    planner: str = "auto"
    seed: int = 0
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    fps: int = DEFAULT_FPS
    #: None: the farm's ``clip_seconds`` (``with_farm``).
    clip_s: float | None = None
    style: str | None = None
    transition: str = "auto"
    llm_url: str | None = None
    llm_kind: str | None = None
    llm_model: str | None = None
    #: Clips per shot (``--takes``); None: one.
    takes: int | None = None

    def with_farm(self, farm: FarmConfig | None) -> PlanRequest:
        """The request with the farm's clip length where none was given."""
        if self.clip_s is not None:
            return self
        return replace(self, clip_s=farm.clip_seconds if farm else DEFAULT_CLIP_SECONDS)

    @property
    def clip_length(self) -> float:
        """The clip length in seconds (the default where neither flag nor farm gave one)."""
        return float(DEFAULT_CLIP_SECONDS if self.clip_s is None else self.clip_s)

    def checked(self, farm: FarmConfig | None) -> PlanRequest:
        """The request cleaned and checked as the planner would, without planning: the
        concept, duration, frame, clip length, style, planner, transition and, for the LLM
        planners, the LLM's settings (resolved, not asked: no request leaves this process).

        Raises:
            ConfigError: one line saying what is wrong and how to put it right.
        """
        if self.planner not in PLANNERS:
            raise ConfigError(
                f"unknown planner {self.planner!r}; use one of: {', '.join(PLANNERS)}"
            )
        if self.transition not in TRANSITION_MODES:
            raise ConfigError(
                f"unknown transition {self.transition!r}; use one of: "
                f"{', '.join(TRANSITION_MODES)} (auto: the planner chooses per shot)"
            )
        request = self.with_farm(farm)
        check_format(request.width, request.height, request.fps)
        request = replace(
            request,
            concept=check_concept(request.concept),
            duration=check_duration(request.duration),
            clip_s=check_clip_seconds(request.clip_length),
            style=check_style(request.style) if request.style is not None else None,
        )
        request.llm(farm)
        return request

    def llm(self, farm: FarmConfig | None) -> LLMConfig | None:
        """The LLM settings the flags, the environment and the farm name for this planner
        (None for the rules planner, or ``auto`` with no LLM configured).

        Raises:
            ConfigError: ``llm`` with no LLM configured, or a bad setting.
        """
        from videofactory.config import configured_llm, resolve_llm

        given = {"endpoint": self.llm_url, "kind": self.llm_kind, "model": self.llm_model}
        if self.planner == "llm":
            return resolve_llm(farm, **given)
        if self.planner == "auto":
            return configured_llm(farm, **given)
        return None

    def to_json(self) -> dict[str, Any]:
        """As JSON-ready data (what a run being planned records)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanRequest:
        """A request as ``to_json`` recorded it (unknown keys, from a later version, are
        passed over)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def plan_request(
    request: PlanRequest, farm: FarmConfig | None, *, say: Callable[[str], None] | None = None
) -> ShotList:
    """Plan a request: the LLM's settings from the flags, the environment, then the farm;
    the narration timed at the rate of the farm's speech engine.

    Raises:
        ConfigError: bad input (see ``PlanRequest.checked``).
        PlannerError, BackendError: the LLM planner failed (``--planner llm`` only).
    """
    from videofactory.planning import plan_shotlist
    from videofactory.planning.speech import speaking_rate

    request = request.with_farm(farm)
    shotlist = plan_shotlist(
        request.concept,
        request.duration,
        planner=request.planner,
        seed=request.seed,
        width=request.width,
        height=request.height,
        fps=request.fps,
        clip_s=request.clip_length,
        llm=request.llm(farm),
        style=request.style,
        say=say,
        rate=speaking_rate(farm.speech if farm else None),
        transition=request.transition,
    )
    if request.takes is not None:
        shotlist = shotlist.model_copy(update={"takes": request.takes})
    return shotlist
