"""The simulated GPU: how much VRAM a prompt needs, how long its render nodes take, and the
out-of-memory error a real card raises when the need does not fit.

The render nodes stand for real models, so their needs and costs are those of the models
(measured on an RTX 5090, speed 1.0): SimTextToImage is an SDXL/Flux still, SimImageToVideo a
Wan 2.2 14B fp8 clip, SimSharpen the hero detail pass. Core nodes hold only their images, so
they use the size estimate of ``options.estimate_vram_gb``. A prompt needs its largest node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videofactory.sim.options import GIB, IDLE_VRAM_GB, node_size_vram_gb

__all__ = [
    "RENDER_NODES",
    "RenderModel",
    "format_size",
    "gpu_seconds",
    "node_vram_gb",
    "oom_message",
    "prompt_vram_gb",
]


@dataclass(frozen=True)
class RenderModel:
    """What one simulated render node stands for on a real card."""

    #: VRAM the real model holds while it runs at ``ref_work`` (weights + activations), GB.
    vram_gb: float
    #: GPU seconds on a speed-1.0 card (RTX 5090) for ``ref_work`` pixels x frames.
    ref_seconds: float
    ref_work: float
    #: Of ``vram_gb``, the model's weights: the rest (activations, latents) grows with the
    #: pixels x frames it renders, so a smaller render needs less (and may fit after OOM).
    weights_gb: float = 0.0
    #: Frames the reference work has (a node whose frame count is not in the prompt is
    #: counted at this many).
    ref_frames: int = 1

    def need_gb(self, work: float | None) -> float:
        """VRAM for ``work`` pixels x frames (None: unknown, counted as the reference)."""
        if work is None:
            return self.vram_gb
        return self.weights_gb + (self.vram_gb - self.weights_gb) * work / self.ref_work


RENDER_NODES: dict[str, RenderModel] = {
    # SDXL / Flux keyframe: 6 s for one 1280x720 still.
    "SimTextToImage": RenderModel(12.0, 6.0, 1280 * 720, weights_gb=8.0),
    # Qwen-Image-Edit / Flux Kontext keyframe from reference pictures: 9 s for one 1280x720.
    "SimImageEdit": RenderModel(12.0, 9.0, 1280 * 720, weights_gb=8.0),
    # Wan 2.2 14B fp8 image-to-video: 90 s for 120 frames at 1280x720.
    "SimImageToVideo": RenderModel(20.0, 90.0, 1280 * 720 * 120, weights_gb=14.0, ref_frames=120),
    # Hero detail pass: 60 s for 120 frames at 1920x1080.
    "SimSharpen": RenderModel(28.0, 60.0, 1920 * 1080 * 120, weights_gb=20.0, ref_frames=120),
}


def gpu_seconds(class_type: str, work: float) -> float:
    """Modelled GPU seconds on a speed-1.0 card for ``work`` pixels x frames of a render node."""
    model = RENDER_NODES[class_type]
    return model.ref_seconds * work / model.ref_work


def node_vram_gb(node: Any, prompt: dict[str, Any] | None = None) -> float:
    """Modelled VRAM need of one prompt node (0 for something that is not a node).

    A render node needs its model's weights plus activations that grow with the pixels x
    frames it renders, read from its literal width/height/length (or, for a node that takes
    frames, from the width/height of the node feeding it: a hero pass's scale node).
    """
    if not isinstance(node, dict):
        return 0.0
    model = RENDER_NODES.get(node.get("class_type"))  # type: ignore[arg-type]
    size = node_size_vram_gb(node)
    if model is None:
        return size
    return max(model.need_gb(_render_work(node, prompt or {}, model)), size)


def _render_work(node: dict[str, Any], prompt: dict[str, Any], model: RenderModel) -> float | None:
    """Pixels x frames a render node will make, as far as the prompt says (None: unknown)."""

    def number(inputs: Any, name: str) -> float | None:
        value = inputs.get(name) if isinstance(inputs, dict) else None
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        return float(value) if ok else None

    inputs = node.get("inputs") or {}
    width, height = number(inputs, "width"), number(inputs, "height")
    if width is None or height is None:
        source = inputs.get("image")
        feeder = prompt.get(source[0]) if isinstance(source, list) and source else None
        feeder_inputs = feeder.get("inputs") if isinstance(feeder, dict) else None
        width, height = number(feeder_inputs, "width"), number(feeder_inputs, "height")
    if width is None or height is None:
        return None
    return width * height * (number(inputs, "length") or model.ref_frames)


def prompt_vram_gb(prompt: dict[str, Any]) -> float:
    """Modelled VRAM need of a prompt: its largest node's."""
    return max((node_vram_gb(n, prompt) for n in prompt.values()), default=0.0)


def format_size(size: float) -> str:
    """A byte count as PyTorch's allocator prints it (``format_size`` in c10/cuda)."""
    size = int(size)
    if size <= 1024:
        return f"{size} bytes"
    if size <= 1048576:
        return f"{size / 1024.0:.2f} KiB"
    if size <= 1073741824:
        return f"{size / 1048576.0:.2f} MiB"
    return f"{size / 1073741824.0:.2f} GiB"


def oom_message(need_gb: float, limit_gb: float, total_gb: float, device: int = 0) -> str:
    """The message of torch.OutOfMemoryError under ComfyUI's default cudaMallocAsync backend.

    ``limit_gb`` is what this process may use (the card, or less when something else holds
    memory); the model had loaded most of it when the next allocation did not fit.
    """
    usable = max(0.0, limit_gb - IDLE_VRAM_GB)
    allocated = usable * 0.92
    requested = max(need_gb - allocated, 0.05)
    free = max(0.0, usable - allocated) if limit_gb < total_gb else 0.0
    return (
        f"Allocation on device {device} would exceed allowed memory. (out of memory)\n"
        f"Currently allocated     : {format_size(allocated * GIB)}\n"
        f"Requested               : {format_size(requested * GIB)}\n"
        f"Device limit            : {format_size(total_gb * GIB)}\n"
        f"Free (according to CUDA): {format_size(free * GIB)}\n"
        "PyTorch limit (set by user-supplied memory fraction)\n"
        "                        : 17179869184.00 GiB"
    )
