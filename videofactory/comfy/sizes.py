"""Picture sizes a model makes: the step its width and height come in. Pure.

A latent holds one value per 8x8 pixels (SD, SDXL, Flux, Wan 2.1/2.2 14B, Hunyuan), per 16x16
(Wan 2.2 5B) or per 32x32 (LTX-Video), and ComfyUI's latent nodes round a size **down** to
that step: ``LTXVImgToVideo`` asked for 720x1280 builds ``720 // 32 = 22`` latent columns and
decodes a 704x1280 clip, narrower than the frame it was made for. The factory therefore asks
a workflow for the frame's size rounded **up** to its step (736x1280), and the assembly crops
the few extra pixels away rather than pad the few missing ones (``assembly.reframe``).

A bindings file declares the step (``size_rule: {multiple: 32}``); without one it is inferred
from the node the width is written to (``NODE_STEPS``), else 2 (H.264's even sizes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from videofactory.errors import WorkflowError

__all__ = ["NODE_STEPS", "SIZE_RULE_KEY", "frame_size", "infer_size_step", "parse_size_rule"]

#: The key of a bindings file that declares the size step (not a parameter binding).
SIZE_RULE_KEY = "size_rule"
#: The step of the sizes that core ComfyUI's latent makers build, by node type.
NODE_STEPS: dict[str, int] = {
    "EmptyLatentImage": 8,
    "EmptySD3LatentImage": 8,
    "WanImageToVideo": 8,
    "WanFunControlToVideo": 8,
    "WanFunInpaintToVideo": 8,
    "WanFirstLastFrameToVideo": 8,
    "WanVaceToVideo": 8,
    "Wan22ImageToVideoLatent": 16,
    "EmptyHunyuanLatentVideo": 8,
    "EmptyMochiLatentVideo": 8,
    "EmptyCosmosLatentVideo": 8,
    "EmptyLTXVLatentVideo": 32,
    "LTXVImgToVideo": 32,
}
#: The step when nothing says otherwise: H.264 in 4:2:0 needs even sizes.
EVEN = 2
#: The largest step a bindings file may declare.
MAX_STEP = 256


def parse_size_rule(raw: Any, source: str) -> int:
    """The step a bindings file declares: ``size_rule: {multiple: 32}``.

    Raises:
        WorkflowError: anything else, saying what it must look like.
    """
    step = raw.get("multiple") if isinstance(raw, Mapping) and set(raw) == {"multiple"} else None
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= MAX_STEP:
        raise WorkflowError(
            f"{source}: size_rule must look like {{multiple: 32}} (the step of the widths and "
            f"heights the model makes, 1 to {MAX_STEP}), got {raw!r}"
        )
    return step


def infer_size_step(graph: Mapping[str, Any], targets: Iterable[tuple[str, str]]) -> int:
    """The step of the node the width is written to (``NODE_STEPS``), else ``EVEN``."""
    for node, _input in targets:
        cls = str((graph.get(node) or {}).get("class_type", ""))
        if cls in NODE_STEPS:
            return NODE_STEPS[cls]
    return EVEN


def frame_size(width: int, height: int, step: int) -> tuple[int, int]:
    """The size to ask a model of ``step`` for a frame of ``width`` x ``height``: each side
    rounded up to the step (and to an even number), so that the picture covers the frame."""
    step = max(1, step)
    if step % 2:
        step *= 2  # even as well: a multiple of both
    return -(-width // step) * step, -(-height // step) * step
