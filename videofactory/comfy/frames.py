"""Frame rules of video models: which frame counts a model makes, and at what rate. Pure.

A video model makes clips of some lengths only. Wan's VAE packs four frames into each latent
frame after the first, so ``WanImageToVideo`` makes ``4n+1`` frames: ComfyUI gives its ``length``
a step of 4 and builds ``((length - 1) // 4) + 1`` latent frames, so 80 comes out as 77 frames.
LTX-Video packs eight (``LTXVImgToVideo``: step 8, at least 9 frames, ``8n+1``). A model also
has the rate it was trained at (Wan 2.1/2.2 14B: 16 fps; LTX-Video: 24 fps).

The factory therefore asks a clip workflow for the smallest count its model makes that lasts at
least the shot, at the model's own rate; the assembly converts the rate and trims the clip to
the shot's exact frames. A bindings file declares the rule::

    frame_rule: {frames: 4n+1, fps: 16}        # Wan 2.2 14B
    frame_rule: {frames: 8n+1, min: 9, fps: 24} # LTX-Video
    frame_rule: {frames: n}                    # any count, at the shot list's rate

Without one it is inferred (``infer_frame_rule``): the steps of the core ComfyUI video nodes
(``NODE_RULES``) and the rate the workflow itself encodes at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from videofactory.errors import WorkflowError
from videofactory.limits import MAX_FPS
from videofactory.timing import frames_covering, seconds_of

__all__ = [
    "ANY_COUNT",
    "ClipTiming",
    "FrameRule",
    "NODE_RULES",
    "clip_timing",
    "frames_for",
    "infer_frame_rule",
    "parse_frame_rule",
]

#: The key of a bindings file that declares the rule (not a parameter binding).
FRAME_RULE_KEY = "frame_rule"
_RULE_TEXT = re.compile(r"^\s*(\d*)\s*n\s*(?:\+\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class FrameRule:
    """The frame counts a model makes (``step * n + offset``, at least ``minimum``) and its
    native rate (``fps``; None: whatever rate the shot list has)."""

    step: int = 1
    offset: int = 0
    minimum: int = 1
    fps: float | None = None
    #: Where the rule came from, for people ("declared in x.bindings.yaml", ...).
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.step < 1 or self.offset < 0 or self.minimum < 1:
            raise ValueError(f"invalid frame rule {self.step}n+{self.offset} (min {self.minimum})")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"invalid native fps {self.fps}")

    @property
    def counts(self) -> str:
        """The counts as people write them: ``4n+1``, ``n``."""
        step = "" if self.step == 1 else str(self.step)
        return f"{step}n" + (f"+{self.offset}" if self.offset else "")

    def __str__(self) -> str:
        # "at least 9" only where the minimum cuts off counts the steps alone would allow.
        smallest = self.at_least(1)
        low = f" (at least {smallest})" if smallest > (self.offset or self.step) else ""
        rate = f"{self.fps:g} fps" if self.fps is not None else "the shot list's fps"
        return f"{self.counts} frames{low} at {rate}"

    def accepts(self, frames: int) -> bool:
        """Whether the model makes exactly ``frames`` frames (does not round them)."""
        return (
            frames >= self.minimum
            and frames >= self.offset
            and (frames - self.offset) % self.step == 0
        )

    def at_least(self, frames: int) -> int:
        """The smallest count the model makes that is at least ``frames``."""
        low = max(frames, self.minimum, self.offset, 1)
        n = -(-(low - self.offset) // self.step)  # ceiling division
        return self.offset + n * self.step


#: Any frame count, at the shot list's rate (the simulator, frame-by-frame workflows).
ANY_COUNT = FrameRule(source="any count")


@dataclass(frozen=True)
class ClipTiming:
    """What a clip workflow is asked for: ``frames`` frames at ``fps``."""

    frames: int
    fps: float

    @property
    def duration_s(self) -> float:
        """How long the clip lasts (at least its shot)."""
        return seconds_of(self.frames, self.fps)


def frames_for(duration_s: float, fps: float, rule: FrameRule = ANY_COUNT) -> int:
    """The smallest frame count ``rule`` allows that lasts at least ``duration_s`` at ``fps``.

    Wan (4n+1) at 16 fps: 5 s -> 81 frames, 4.8 s -> 77 (4.8125 s); LTX-Video (8n+1) at 24 fps:
    5 s (120 frames) -> 121.
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration must be > 0 s, got {duration_s}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be > 0, got {fps}")
    return rule.at_least(frames_covering(duration_s, fps))


def clip_timing(
    duration_s: float, output_fps: float, rule: FrameRule = ANY_COUNT, scale: float = 1.0
) -> ClipTiming:
    """Frames and rate to ask a clip workflow for, for a shot of ``duration_s``.

    The rate is the model's own (the shot list's when the rule has none). ``scale`` below 1 is
    a task shrunk after running out of memory: it asks for that share of the frames by lowering
    the rate (to a whole number, as CreateVideo's fps steps by 1), so the clip still lasts the
    shot, a little slower and jerkier, rather than freezing on its last frame.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    rate = float(rule.fps if rule.fps is not None else output_fps)
    if scale < 1:
        rate = max(1.0, float(round(rate * scale)))
    return ClipTiming(frames_for(duration_s, rate, rule), rate)


def parse_frame_rule(raw: Any, source: str) -> FrameRule:
    """A declared rule (``{frames: 4n+1, min: 9, fps: 16}``); a clear error for anything else."""
    how = f"{source}: {FRAME_RULE_KEY} must look like {{frames: 4n+1, fps: 16}}"
    if not isinstance(raw, Mapping):
        raise WorkflowError(f"{how}, got {raw!r}")
    unknown = sorted(set(map(str, raw)) - {"frames", "min", "fps"})
    if unknown:
        raise WorkflowError(f"{how} (keys frames, min, fps); unknown: {', '.join(unknown)}")
    text = str(raw.get("frames", "n"))
    match = _RULE_TEXT.match(text)
    if not match or match.group(1) == "0":
        raise WorkflowError(
            f"{how}: frames {text!r} is not a count rule; write it as <step>n+<offset> "
            "(4n+1: the model makes 1, 5, 9, ... frames; n: any count)"
        )
    step, offset = int(match.group(1) or 1), int(match.group(2) or 0)
    minimum = raw.get("min", 1)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        raise WorkflowError(f"{how}: min must be a whole number of frames >= 1, got {minimum!r}")
    fps = raw.get("fps")
    if fps is not None and (
        isinstance(fps, bool)
        or not isinstance(fps, int | float)
        or not (math.isfinite(fps) and 0 < fps <= MAX_FPS)
    ):
        raise WorkflowError(
            f"{how}: fps must be the model's frame rate (1-{MAX_FPS:g}) or left out for the "
            f"shot list's, got {fps!r}"
        )
    return FrameRule(
        step,
        offset,
        minimum,
        None if fps is None else float(fps),
        source=f"declared in {source}",
    )


#: Core ComfyUI video latent nodes -> (step, offset, minimum) of their ``length`` input, as the
#: nodes define it (comfy_extras/nodes_wan.py, nodes_lt.py, nodes_hunyuan.py, nodes_mochi.py,
#: nodes_cosmos.py): each makes ``((length - 1) // step) + 1`` latent frames.
NODE_RULES: dict[str, tuple[int, int, int]] = {
    "WanImageToVideo": (4, 1, 1),
    "WanFunControlToVideo": (4, 1, 1),
    "WanFunInpaintToVideo": (4, 1, 1),
    "WanFirstLastFrameToVideo": (4, 1, 1),
    "WanVaceToVideo": (4, 1, 1),
    "Wan22ImageToVideoLatent": (4, 1, 1),
    "EmptyHunyuanLatentVideo": (4, 1, 1),
    "HunyuanImageToVideo": (4, 1, 1),
    "EmptyLTXVLatentVideo": (8, 1, 1),
    "LTXVImgToVideo": (8, 1, 9),
    "EmptyMochiLatentVideo": (6, 1, 7),
    "EmptyCosmosLatentVideo": (8, 1, 1),
    "CosmosImageToVideoLatent": (8, 1, 1),
}


def infer_frame_rule(
    graph: Mapping[str, Any],
    frames_targets: Iterable[tuple[str, str]],
    fps_targets: Iterable[tuple[str, str]],
) -> FrameRule:
    """The rule of a workflow that declares none.

    The counts are those of the node the frame count is written to (``NODE_RULES``; any count
    for a node not known there). The rate is the one the workflow encodes at as exported (the
    first literal value the fps is written to): a workflow made for Wan says 16 there. With no
    such value, the shot list's rate.
    """
    step, offset, minimum, why = 1, 0, 1, "any count"
    for node, _input in frames_targets:
        cls = str((graph.get(node) or {}).get("class_type", ""))
        if cls in NODE_RULES:
            step, offset, minimum = NODE_RULES[cls]
            why = f"{cls} node {node}"
            break
    fps: float | None = None
    for node, input_name in fps_targets:
        value = ((graph.get(node) or {}).get("inputs") or {}).get(input_name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and 0 < value <= MAX_FPS:
                fps = float(value)
                why += f", the rate the workflow encodes at (node {node} {input_name})"
                break
    return FrameRule(step, offset, minimum, fps, source=f"inferred: {why}")
