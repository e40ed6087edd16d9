"""The LLM planner: the model plays director, videofactory keeps it to the schema.

The model is asked for a draft shot list matching ``Draft``'s JSON schema (style, character,
setting, and shots with duration, prompt, negative, shot type, camera, narration, hero and
continuity). The answer is parsed and validated; an invalid one gets exactly one repair request
that quotes the problems, then the planner fails with them. Durations are re-normalised to the
target (models are bad at sums), frame-aligned; ids and seeds are assigned here, not by the
model. The result is a ``ShotList`` like the rules planner's, marked ``planner: llm``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from videofactory.config import LLMConfig, format_validation_error
from videofactory.constants import (
    DEFAULT_CLIP_SECONDS,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    WORDS_PER_SECOND,
)
from videofactory.errors import PlannerError, ShotListError
from videofactory.limits import MIN_LLM_SHOT_S
from videofactory.planning.chat import Reply, chat_api, host_of, reach
from videofactory.planning.lexicon import NEGATIVE
from videofactory.planning.style import apply_style
from videofactory.planning.timing import normalise_durations, shot_count
from videofactory.planning.validate import (
    check_clip_seconds,
    check_concept,
    check_duration,
    check_format,
    check_style,
)
from videofactory.shotlist import (
    CameraMove,
    PlannerLLM,
    ShotList,
    ShotType,
    aspect_of,
    parse_shotlist,
)

__all__ = ["Draft", "DraftShot", "draft_schema", "plan_llm"]


class DraftShot(BaseModel):
    """One shot as the model writes it (ids, seeds and exact lengths are ours to set)."""

    model_config = ConfigDict(extra="ignore")

    duration: float = Field(gt=0, description="Seconds; the shots should add up to the total.")
    prompt: str = Field(min_length=1, description="What the keyframe shows, for an image model.")
    negative: str = Field(default="", description="What the image must not show.")
    shot_type: ShotType
    camera: CameraMove = CameraMove.static
    narration: str = Field(default="", description="Spoken over the shot.")
    hero: bool = Field(default=False, description="Render this shot at final quality.")
    continuity: Literal["cut", "continue", "flow"] = Field(
        default="cut",
        description="'flow' ends this shot's clip on the next shot's first picture (one "
        "continuous action or scene); 'continue' starts it from the previous shot's last "
        "frame (the same camera carries on); 'cut' at a change of place or time.",
    )
    transition: Literal["cut", "crossfade", "fadeblack"] = Field(
        default="cut",
        description="How the shot comes in: 'cut' within a scene and in action, 'crossfade' "
        "where time passes or the place changes, 'fadeblack' for an ending or a long gap.",
    )


class Draft(BaseModel):
    """A shot list as the model writes it."""

    model_config = ConfigDict(extra="ignore")

    style: str = Field(min_length=1, description="One look for the whole film.")
    character: str = Field(default="", description="The main subject, as it should look.")
    setting: str = Field(default="", description="Where it happens.")
    shots: list[DraftShot] = Field(min_length=1)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with ``$ref``s replaced by their definitions (some servers reject refs)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def draft_schema() -> dict[str, Any]:
    """The JSON schema the model is asked to follow (self-contained, no ``$ref``)."""
    schema = Draft.model_json_schema()
    return _inline(schema, schema.get("$defs", {}))  # type: ignore[no-any-return]


def _instructions(
    concept: str, duration: float, n: int, clip_s: float, style: str | None
) -> tuple[str, str]:
    words = int(duration / n * WORDS_PER_SECOND * 0.85)
    system = (
        "You are the director of a short film made by an AI video pipeline: every shot becomes "
        f"one keyframe picture (text-to-image) and one clip of about {clip_s:g} s "
        "(image-to-video), and the narration is spoken over it. Answer with one JSON object "
        "and nothing else, following this JSON schema:\n"
        + json.dumps(draft_schema(), separators=(",", ":"))
    )
    user = (
        f"Concept: {concept}\n"
        f"Total length: {duration:g} seconds. Plan {n} shots of about {duration / n:.1f} s "
        f"each; their durations must add up to {duration:g}.\n"
        "Rules:\n"
        "- Open with an 'establishing' shot; build with 'wide', 'medium', 'close_up' and "
        "'detail' shots; put an 'action' shot at the climax, about two thirds in; end with a "
        "'closing' shot.\n"
        "- Vary the camera moves; never the same move twice in a row.\n"
        + (
            f"- The film's style is given: set 'style' to exactly {json.dumps(style)}, and "
            "write one character and one setting descriptor; repeat the style, the character "
            "and the setting in every prompt so that the shots look like one film.\n"
            if style
            else "- Write one style, one character and one setting descriptor, and repeat all "
            "three in every prompt so that the shots look like one film.\n"
        )
        + "- Prompts are concrete visual descriptions for an image model: subject, action, "
        "composition, light. No text or logos in the picture.\n"
        f"- Narration is spoken at about {WORDS_PER_SECOND:g} words per second: at most about "
        f"{max(words, 2)} words for a {duration / n:.1f} s shot. It tells a small story with a "
        "beginning, a climax and an end.\n"
        "- Set hero to true on the opening shot and on the climax, false elsewhere.\n"
        "- Continuity: 'flow' when a shot runs straight on into the next one (one continuous "
        "action or scene: its clip ends on the next shot's picture), 'continue' when the same "
        "camera carries on from the previous shot's last frame, 'cut' at a change of place or "
        "time and on the last shot.\n"
        "- Transitions: 'cut' within a scene and in action, 'crossfade' where time passes or "
        "the place changes, 'fadeblack' at most once, before the ending."
    )
    return system, user


def _parse(reply: Reply) -> Any:
    """The JSON object in a reply: tool input, a bare object, or one inside a code fence."""
    if reply.data is not None:
        return reply.data
    text = reply.text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise _Invalid("the answer holds no JSON object" + _cut(reply))
    try:
        return json.loads(text[start : end + 1])
    except RecursionError:
        raise _Invalid("the answer's JSON is nested too deeply to parse" + _cut(reply)) from None
    except ValueError as exc:
        raise _Invalid(f"the answer is not valid JSON ({exc})" + _cut(reply)) from exc


def _cut(reply: Reply) -> str:
    return " (it was cut off: too long for max_tokens; write less)" if reply.truncated else ""


class _Invalid(Exception):
    """What is wrong with a draft, in words the model (and a person) can act on."""


def _build(
    data: Any,
    *,
    concept: str,
    duration: float,
    seed: int,
    width: int,
    height: int,
    fps: int,
    asked: PlannerLLM,
) -> ShotList:
    if not isinstance(data, dict):
        raise _Invalid("the answer must be a JSON object with 'style' and 'shots'")
    try:
        draft = Draft.model_validate(data)
    except ValidationError as exc:
        raise _Invalid(format_validation_error(exc)) from exc
    shortest = duration / len(draft.shots)
    if shortest < MIN_LLM_SHOT_S and len(draft.shots) > 1:
        raise _Invalid(
            f"{len(draft.shots)} shots are too many for {duration:g} s (each needs at least "
            f"{MIN_LLM_SHOT_S:g} s); plan fewer shots"
        )
    durations = normalise_durations([s.duration for s in draft.shots], duration, fps)
    digest = hashlib.sha256(f"{concept}\x00{seed}".encode()).digest()
    base_seed = int.from_bytes(digest[8:12], "big")
    width_id = max(2, len(str(len(draft.shots))))
    shots = [
        {
            "id": f"s{i + 1:0{width_id}d}",
            "duration": d,
            "prompt": s.prompt,
            "negative": s.negative or NEGATIVE,
            "shot_type": s.shot_type.value,
            "camera": s.camera.value,
            "style": draft.style,
            "seed": base_seed + i * 7919,
            "narration": s.narration,
            "hero": s.hero,
            "continuity": s.continuity,
            "transition": "cut" if i == 0 else s.transition,
        }
        for i, (s, d) in enumerate(zip(draft.shots, durations, strict=True))
    ]
    data = {
        "concept": concept,
        "duration": duration,
        "style": draft.style,
        "character": draft.character,
        "setting": draft.setting,
        "aspect": aspect_of(width, height),
        "width": width,
        "height": height,
        "fps": fps,
        "planner": "llm",
        "llm": asked.model_dump(),
        "shots": shots,
    }
    try:
        return parse_shotlist(data, source="the LLM's shot list")
    except ShotListError as exc:
        raise _Invalid(str(exc).removeprefix("the LLM's shot list: ")) from exc


def _styled(shotlist: ShotList, style: str | None) -> ShotList:
    """The plan in the given style (the model may have reworded it); a prompt made too long
    by it is one more thing to repair."""
    if not style:
        return shotlist
    try:
        return apply_style(shotlist, style)
    except ShotListError as exc:
        raise _Invalid(str(exc).removeprefix("the styled shot list: ")) from exc


def plan_llm(
    concept: str,
    duration_s: float,
    *,
    llm: LLMConfig,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    fps: int = DEFAULT_FPS,
    clip_s: float = DEFAULT_CLIP_SECONDS,
    style: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ShotList:
    """Ask an LLM for a shot list; one repair request if the first answer is invalid.

    With no model named, the first one the server lists is asked. A ``style`` is the film's
    look: the model is told to use it, and every shot gets it (``apply_style``) whatever the
    model wrote. The result names the model and the server's host (``ShotList.llm``).

    Raises:
        ConfigError: bad concept/duration/style, missing key or model, or a refused request.
        BackendUnavailable, BackendTimeout, ProtocolError: the endpoint failed.
        PlannerError: the model's answer was still invalid after the repair request.
    """
    concept = check_concept(concept)
    duration_s = check_duration(duration_s)
    check_format(width, height, fps)
    clip_s = check_clip_seconds(clip_s)
    style = check_style(style) if style is not None else None
    n = shot_count(duration_s, clip_s)
    system, user = _instructions(concept, duration_s, n, clip_s, style)
    build: dict[str, Any] = {"concept": concept, "duration": duration_s, "seed": seed}
    build |= {"width": width, "height": height, "fps": fps}
    timeout = httpx.Timeout(llm.timeout_s, connect=min(10.0, llm.timeout_s))
    with httpx.Client(timeout=timeout, transport=transport) as client:
        if not llm.model:
            llm = reach(llm, client)
        build["asked"] = PlannerLLM(model=llm.model, host=host_of(llm.endpoint))
        api = chat_api(llm, client)
        reply = api.ask(system, user, draft_schema())
        try:
            return _styled(_build(_parse(reply), **build), style)
        except _Invalid as first:
            note = (
                f"That shot list is invalid: {first}. Answer again with the whole corrected "
                "JSON object only, following the schema; durations must add up to "
                f"{duration_s:g} s."
            )
            reply = api.repair(note)
        try:
            return _styled(_build(_parse(reply), **build), style)
        except _Invalid as second:
            raise PlannerError(
                f"the LLM ({llm.model} at {api.url}) gave an invalid shot list twice; the "
                f"second time: {second}. Try another model, --planner rules, or write the "
                "shot list by hand (videofactory plan ... -o shots.yaml, then edit it)"
            ) from None
