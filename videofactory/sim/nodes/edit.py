"""The simulator's stand-in for an edit model: ``SimImageEdit`` paints a keyframe from its
prompt as an edit of up to three reference pictures (``videofactory.sim.lookpaint``), the way
TextEncodeQwenImageEditPlus and a sampler (or Flux Kontext's ReferenceLatent chain) make one
from the film's character sheet and setting plate. It ticks and takes simulated time like
``SimTextToImage``."""

from __future__ import annotations

import numpy as np

from videofactory.sim.gpu import gpu_seconds
from videofactory.sim.lookpaint import paint_edit
from videofactory.sim.nodes.base import NodeContext, NodeOutput, register

MEGA = 1_000_000


@register("SimImageEdit", self_timed=True)
def sim_image_edit(
    ctx: NodeContext,
    prompt: str,
    negative: str,
    seed: int,
    width: int,
    height: int,
    steps: int,
    image1: np.ndarray | None = None,
    image2: np.ndarray | None = None,
    image3: np.ndarray | None = None,
) -> NodeOutput:
    """Paint a keyframe from the prompt and the first picture of each batch given."""
    per_step = width * height / MEGA
    gpu_per_step = gpu_seconds("SimImageEdit", width * height) / steps

    def tick(i: int) -> None:
        ctx.work(per_step)
        ctx.gpu(gpu_per_step)
        ctx.progress(i, steps)

    pictures = [img[0] for img in (image1, image2, image3) if img is not None]
    image = paint_edit(prompt, seed, width, height, pictures, tick=tick, steps=steps)
    return NodeOutput((image[None],))
