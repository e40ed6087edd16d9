"""The simulator's own render nodes, standing in for text-to-image, image-to-video and a detail
pass. They report sampler-like progress, honour /interrupt at every tick and take simulated time
proportional to their work: ``SimOptions.speed`` per megapixel-step, plus the modelled GPU time
of the model they stand for (``videofactory.sim.gpu``) scaled by ``gpu_speed``/``time_scale``,
spread evenly over their ticks."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from videofactory.sim.gpu import gpu_seconds
from videofactory.sim.lookpaint import is_sheet_prompt, paint_sheet
from videofactory.sim.motion import camera_frames, morph_into
from videofactory.sim.nodes.base import NodeContext, NodeOutput, parallel_map, register
from videofactory.sim.render import paint_keyframe

MEGA = 1_000_000


@register("SimTextToImage", self_timed=True)
def sim_text_to_image(
    ctx: NodeContext, prompt: str, negative: str, seed: int, width: int, height: int, steps: int
) -> NodeOutput:
    """Paint a keyframe; one progress tick per step."""
    per_step = width * height / MEGA
    gpu_per_step = gpu_seconds("SimTextToImage", width * height) / steps

    def tick(i: int) -> None:
        ctx.work(per_step)
        ctx.gpu(gpu_per_step)
        ctx.progress(i, steps)

    # A prompt asking for a character sheet (the look stage's) is painted as one.
    painter = paint_sheet if is_sheet_prompt(prompt) else paint_keyframe
    image = painter(prompt, seed, width, height, tick=tick, steps=steps)
    return NodeOutput((image[None],))


@register("SimImageToVideo", self_timed=True)
def sim_image_to_video(
    ctx: NodeContext,
    image: np.ndarray,
    prompt: str,
    camera: str,
    width: int,
    height: int,
    length: int,
    seed: int,
    steps: int,
    end_image: np.ndarray | None = None,
) -> NodeOutput:
    """Animate the first image of the batch; ``steps`` ticks over the frames. With an
    ``end_image`` (the last of its batch) the clip morphs into it and ends on it, as Wan's
    first-last-frame node makes a clip between two pictures."""
    ticks = max(1, min(steps, length))
    # A real video model runs every step over every frame: that is the simulated cost.
    per_tick = steps * length * width * height / MEGA / ticks
    gpu_per_tick = gpu_seconds("SimImageToVideo", length * width * height) / ticks

    def tick(i: int) -> None:
        ctx.work(per_tick)
        ctx.gpu(gpu_per_tick)
        ctx.progress(i, ticks)

    frames = camera_frames(image[0], width, height, length, camera, seed, steps=ticks, tick=tick)
    if end_image is not None:
        morph_into(frames, end_image[-1])
    return NodeOutput((frames,))


@register("SimSharpen", self_timed=True)
def sim_sharpen(ctx: NodeContext, image: np.ndarray, amount: float, radius: float) -> NodeOutput:
    """Unsharp mask on every frame, in up to 20 progress ticks."""
    out = np.empty_like(image)
    n = image.shape[0]
    ticks = max(1, min(20, n))
    bounds = [round(n * i / ticks) for i in range(ticks + 1)]
    unsharp = ImageFilter.UnsharpMask(radius=radius, percent=round(amount * 100), threshold=2)

    def one(i: int) -> None:
        out[i] = np.asarray(Image.fromarray(image[i]).filter(unsharp))

    for t in range(ticks):
        parallel_map(one, range(bounds[t], bounds[t + 1]))
        work = (bounds[t + 1] - bounds[t]) * image.shape[1] * image.shape[2]
        ctx.work(work / MEGA)
        ctx.gpu(gpu_seconds("SimSharpen", work))
        ctx.progress(t + 1, ticks)
    return NodeOutput((out,))
