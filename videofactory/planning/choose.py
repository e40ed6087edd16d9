"""Which planner plans a film: the LLM when one is configured and answers, else the rules.

``auto`` (the default) asks the LLM when one is configured (``config.configured_llm``) and its
server answers a cheap check (``GET /v1/models``) within ``llm.probe_timeout_s``. With none
configured the rules planner plans, and nothing is said. With one configured that does not
answer, whose answer is still invalid after the repair request, or that fails mid-way, the
rules planner plans, ``say`` is told why once, and the plan keeps the reason
(``ShotList.llm.fallback``): a film is never held up by a model, and never silently planned
by the wrong planner. ``llm`` asks the LLM or fails with one clear error; ``rules`` never
asks a model.

A ``style`` (``--style``) is the film's look whichever planner plans: ``apply_style`` puts it
in place of the planner's own in every shot and prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from videofactory.constants import DEFAULT_CLIP_SECONDS, DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError, FactoryError
from videofactory.planning.style import apply_style
from videofactory.planning.validate import (
    check_clip_seconds,
    check_concept,
    check_duration,
    check_format,
    check_style,
)
from videofactory.shotlist import PlannerLLM, ShotList

if TYPE_CHECKING:
    import httpx

    from videofactory.config import LLMConfig
    from videofactory.planning.speech import SpeakingRate

__all__ = ["PLANNERS", "apply_style", "plan_film", "planner_summary", "planner_text"]

#: Planner names ``--planner`` accepts; the first is the default.
PLANNERS = ("auto", "llm", "rules")
#: Longest fallback reason a plan keeps (``PlannerLLM.fallback``).
_MAX_REASON = 2000


def plan_film(
    concept: str,
    duration: float,
    *,
    planner: str = "auto",
    llm: LLMConfig | None = None,
    style: str | None = None,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
    clip_s: float = DEFAULT_CLIP_SECONDS,
    say: Callable[[str], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    rate: SpeakingRate | None = None,
    transition: str = "auto",
) -> ShotList:
    """Plan a film with the named planner (``auto``, ``llm`` or ``rules``).

    ``say`` gets one line when ``auto`` asks the LLM (planning can take a minute) and one when
    it falls back to the rules planner (why). Bad input is refused before any model is asked,
    so that it is one error, not a fallback. ``rate`` and ``transition`` go to the rules
    planner (how fast the narration is spoken; each beat's transition or one for all).

    Raises:
        ConfigError: bad input, an unknown planner, or ``llm`` without an LLM.
        PlannerError, BackendError, ConfigError: ``llm`` only: the LLM failed (``plan_llm``).
    """
    if planner not in PLANNERS:
        raise ConfigError(f"unknown planner {planner!r}; use one of: {', '.join(PLANNERS)}")
    concept = check_concept(concept)
    duration = check_duration(duration)
    check_format(width, height, fps)
    clip_s = check_clip_seconds(clip_s)
    style = check_style(style) if style is not None else None
    size = {"seed": seed, "width": width, "height": height, "fps": fps, "clip_s": clip_s}
    rules = {"rate": rate, "transition": transition}
    if planner == "llm" and llm is None:
        raise ConfigError(
            "--planner llm needs an LLM: pass --llm-url (and --llm-model), set "
            "VIDEOFACTORY_LLM_URL (and VIDEOFACTORY_LLM_MODEL) or ANTHROPIC_API_KEY, or add an "
            "'llm:' section to factory.yaml"
        )
    if planner == "rules" or llm is None:
        return _rules(concept, duration, style, size, rules)
    from videofactory.planning.llm import plan_llm

    if planner == "llm":
        return plan_llm(concept, duration, llm=llm, style=style, transport=transport, **size)
    try:
        ready = _reach(llm, transport)
    except FactoryError as exc:
        return _fallback(concept, duration, style, size, rules, llm, str(exc), say)
    if say is not None:
        say(f"planning with the LLM {ready.model} at {_host(ready)}")
    try:
        return plan_llm(concept, duration, llm=ready, style=style, transport=transport, **size)
    except FactoryError as exc:
        return _fallback(concept, duration, style, size, rules, ready, str(exc), say)


def _reach(llm: LLMConfig, transport: httpx.BaseTransport | None) -> LLMConfig:
    """The settings once the server answered the cheap check quickly (model filled in)."""
    import httpx

    from videofactory.planning.chat import reach

    with httpx.Client(timeout=llm.probe_timeout_s, transport=transport) as client:
        return reach(llm, client)


def _host(llm: LLMConfig) -> str:
    from videofactory.planning.chat import host_of

    return host_of(llm.endpoint)


def _rules(
    concept: str,
    duration: float,
    style: str | None,
    size: dict[str, Any],
    rules: dict[str, Any],
) -> ShotList:
    from videofactory.planning.rules import plan_rules

    shotlist = plan_rules(concept, duration, **size, **rules)
    return apply_style(shotlist, style) if style else shotlist


def _fallback(
    concept: str,
    duration: float,
    style: str | None,
    size: dict[str, Any],
    rules: dict[str, Any],
    llm: LLMConfig,
    reason: str,
    say: Callable[[str], None] | None,
) -> ShotList:
    """The rules planner's plan, marked with the LLM that was asked and why it did not plan
    (``reason``: the LLM's error, which names its URL)."""
    userinfo = urlsplit(llm.endpoint).netloc.rpartition("@")[0]
    if userinfo:  # a password in the URL stays out of the plan, the report and the terminal
        reason = reason.replace(f"{userinfo}@", "")
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 1] + "…"
    if say is not None:
        say(
            f"warning: the LLM planner was not used: {reason} -- planned with the rules planner "
            "instead "
            "(--planner llm makes this an error, --planner rules skips the LLM)"
        )
    shotlist = _rules(concept, duration, style, size, rules)
    asked = PlannerLLM(model=llm.model, host=_host(llm), fallback=reason)
    return shotlist.model_copy(update={"llm": asked})


def planner_summary(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Which planner planned a recorded plan (a shot list's fields, ``Store.plan``): planner,
    and the LLM's model, host and fallback reason (None where there is none)."""
    asked = plan.get("llm") or {}
    return {
        "planner": str(plan.get("planner") or "rules"),
        "model": asked.get("model") or None,
        "host": asked.get("host") or None,
        "fallback": asked.get("fallback") or None,
    }


def planner_text(summary: Mapping[str, Any]) -> str:
    """``planner_summary`` as words: "llm (llama3.1:8b at localhost:11434)", "rules", or
    "rules (the LLM was not used: why)"."""
    text = str(summary["planner"])
    if summary.get("fallback"):
        return f"{text} (instead of the LLM: {summary['fallback']})"
    if summary.get("model") or summary.get("host"):
        where = " at ".join(str(v) for v in (summary.get("model"), summary.get("host")) if v)
        return f"{text} ({where})"
    return text
