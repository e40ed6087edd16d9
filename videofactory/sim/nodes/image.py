"""Weight-free core image nodes, behaving like ComfyUI's (nodes.py, nodes_images.py)."""

from __future__ import annotations

import hashlib
import json
import os
import random
from typing import Any

import numpy as np
from PIL import Image, ImageOps, ImageSequence
from PIL.PngImagePlugin import PngInfo

from videofactory.sim.nodes.base import NodeContext, NodeOutput, parallel_map, register
from videofactory.sim.paths import Folders, get_save_path

RESAMPLE = {
    "nearest-exact": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "area": Image.BOX,
    "bicubic": Image.BICUBIC,
    "lanczos": Image.LANCZOS,
}


def upscale(images: np.ndarray, width: int, height: int, method: str, crop: str) -> np.ndarray:
    """ComfyUI's common_upscale on a uint8 batch: optional centre crop to the aspect, resize."""
    b, old_h, old_w, _ = images.shape
    x = y = 0
    if crop == "center" and old_h and height:
        old_aspect, new_aspect = old_w / old_h, width / height
        if old_aspect > new_aspect:
            x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
        elif old_aspect < new_aspect:
            y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    box = (x, y, old_w - x, old_h - y)
    out = np.empty((b, height, width, 3), np.uint8)

    def one(i: int) -> None:
        out[i] = np.asarray(
            Image.fromarray(images[i]).resize((width, height), RESAMPLE[method], box=box)
        )

    parallel_map(one, range(b))
    return out


def png_metadata(ctx: NodeContext) -> PngInfo | None:
    """The prompt and extra_pnginfo as PNG text chunks, unless --disable-metadata."""
    if ctx.disable_metadata:
        return None
    meta = PngInfo()
    meta.add_text("prompt", json.dumps(ctx.prompt))
    for key, value in (ctx.extra_pnginfo or {}).items():
        meta.add_text(key, json.dumps(value))
    return meta


@register("EmptyImage")
def empty_image(
    ctx: NodeContext, width: int, height: int, batch_size: int = 1, color: int = 0
) -> NodeOutput:
    """A batch of one flat colour (RGB packed in an int)."""
    rgb = np.array([(color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF], np.uint8)
    return NodeOutput((np.broadcast_to(rgb, (batch_size, height, width, 3)).copy(),))


@register("ImageAddNoise")
def image_add_noise(ctx: NodeContext, image: np.ndarray, seed: int, strength: float) -> NodeOutput:
    """Seeded gaussian noise per pixel (frames of a batch differ)."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(image)
    for i, frame in enumerate(image):  # frame by frame: float32 of a whole batch is too big
        noisy = frame.astype(np.float32) + strength * 255.0 * rng.standard_normal(
            frame.shape, np.float32
        )
        out[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return NodeOutput((out,))


@register("ImageScale")
def image_scale(
    ctx: NodeContext, image: np.ndarray, upscale_method: str, width: int, height: int, crop: str
) -> NodeOutput:
    """Resize to width x height (0 keeps the aspect)."""
    if width == 0 and height == 0:
        return NodeOutput((image,))
    h, w = image.shape[1:3]
    if width == 0:
        width = max(1, round(w * height / h))
    elif height == 0:
        height = max(1, round(h * width / w))
    return NodeOutput((upscale(image, width, height, upscale_method, crop),))


@register("ImageScaleBy")
def image_scale_by(
    ctx: NodeContext, image: np.ndarray, upscale_method: str, scale_by: float
) -> NodeOutput:
    """Resize by a factor."""
    h, w = image.shape[1:3]
    return NodeOutput(
        (upscale(image, round(w * scale_by), round(h * scale_by), upscale_method, "disabled"),)
    )


@register("ImageInvert")
def image_invert(ctx: NodeContext, image: np.ndarray) -> NodeOutput:
    """Negative."""
    return NodeOutput((255 - image,))


@register("ImageBatch")
def image_batch(ctx: NodeContext, image1: np.ndarray, image2: np.ndarray) -> NodeOutput:
    """Concatenate two batches; the second is resized (bilinear, centre crop) to the first."""
    if image1.shape[1:] != image2.shape[1:]:
        image2 = upscale(image2, image1.shape[2], image1.shape[1], "bilinear", "center")
    return NodeOutput((np.concatenate([image1, image2]),))


@register("RepeatImageBatch")
def repeat_image_batch(ctx: NodeContext, image: np.ndarray, amount: int) -> NodeOutput:
    """Repeat the whole batch ``amount`` times."""
    return NodeOutput((np.tile(image, (amount, 1, 1, 1)),))


@register("ImageFromBatch")
def image_from_batch(
    ctx: NodeContext, image: np.ndarray, batch_index: int, length: int
) -> NodeOutput:
    """A slice of the batch (clamped like ComfyUI)."""
    index = min(image.shape[0] - 1, batch_index)
    length = min(image.shape[0] - index, length)
    return NodeOutput((image[index : index + length].copy(),))


@register("ImageCrop")
def image_crop(
    ctx: NodeContext, image: np.ndarray, width: int, height: int, x: int, y: int
) -> NodeOutput:
    """Crop a rectangle (clamped like ComfyUI)."""
    x = min(x, image.shape[2] - 1)
    y = min(y, image.shape[1] - 1)
    return NodeOutput((image[:, y : y + height, x : x + width].copy(),))


@register("GetImageSize", unique_id_in_key=True)
def get_image_size(ctx: NodeContext, image: np.ndarray) -> NodeOutput:
    """Width, height, batch size; also shown as progress text (binary event 3, broadcast)."""
    batch, height, width = (int(v) for v in image.shape[:3])
    ctx.send_text(f"width: {width}, height: {height}\n batch size: {batch}")
    return NodeOutput((width, height, batch))


def _validate_load_image(folders: Folders, image: str) -> bool | str:
    if not folders.exists_annotated(image):
        return f"Invalid image file: {image}"
    return True


def _file_fingerprint(folders: Folders, **inputs: Any) -> str:
    (name,) = inputs.values()
    with open(folders.annotated_path(name), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@register(
    "LoadImage",
    validate=_validate_load_image,
    validate_inputs=("image",),
    fingerprint=_file_fingerprint,
)
def load_image(ctx: NodeContext, image: str) -> NodeOutput:
    """Load a file from input/ (all same-size frames of an animation become a batch) + mask."""
    img = Image.open(ctx.folders.annotated_path(image))
    frames, masks = [], []
    for frame in ImageSequence.Iterator(img):
        frame = ImageOps.exif_transpose(frame)
        if frame.mode == "I":
            frame = frame.point(lambda v: v * (1 / 255))
        rgb = frame.convert("RGB")
        if frames and rgb.size != (frames[0].shape[1], frames[0].shape[0]):
            continue
        frames.append(np.asarray(rgb, np.uint8))
        if "A" in frame.getbands():
            masks.append(1.0 - np.asarray(frame.getchannel("A"), np.float32) / 255.0)
        elif frame.mode == "P" and "transparency" in frame.info:
            alpha = frame.convert("RGBA").getchannel("A")
            masks.append(1.0 - np.asarray(alpha, np.float32) / 255.0)
        else:
            masks.append(np.zeros((64, 64), np.float32))
    if len(frames) > 1 and img.format != "MPO":
        try:
            return NodeOutput((np.stack(frames), np.stack(masks)))
        except ValueError:  # masks of different shapes (some 64x64 placeholders)
            return NodeOutput((np.stack(frames), np.stack([m for m in masks[:1]])))
    return NodeOutput((frames[0][None], masks[0][None]))


def save_images(
    ctx: NodeContext, images: np.ndarray, prefix: str, folder: str, kind: str, compress_level: int
) -> dict[str, Any]:
    """SaveImage/PreviewImage: one PNG per batch item, counter per folder."""
    where = get_save_path(prefix, folder, int(images.shape[2]), int(images.shape[1]))
    meta = png_metadata(ctx)
    results = []
    counter = where.counter
    for batch_number, frame in enumerate(images):
        name = where.filename.replace("%batch_num%", str(batch_number))
        file = f"{name}_{counter:05}_.png"
        Image.fromarray(frame).save(
            os.path.join(where.folder, file), pnginfo=meta, compress_level=compress_level
        )
        results.append({"filename": file, "subfolder": where.subfolder, "type": kind})
        counter += 1
    return {"images": results}


@register("SaveImage")
def save_image(
    ctx: NodeContext, images: np.ndarray, filename_prefix: str = "ComfyUI"
) -> NodeOutput:
    """PNG files in output/."""
    return NodeOutput(ui=save_images(ctx, images, filename_prefix, ctx.folders.output, "output", 4))


def temp_prefix(prefix: str = "ComfyUI") -> str:
    """PreviewImage's random prefix; the alphabet is ComfyUI's own (no 'w', two 'p')."""
    return (
        prefix + "_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
    )


@register("PreviewImage")
def preview_image(ctx: NodeContext, images: np.ndarray) -> NodeOutput:
    """PNG files in temp/ (fast compression)."""
    return NodeOutput(ui=save_images(ctx, images, temp_prefix(), ctx.folders.temp, "temp", 1))


@register("SaveAnimatedWEBP")
def save_animated_webp(
    ctx: NodeContext,
    images: np.ndarray,
    filename_prefix: str,
    fps: float,
    lossless: bool,
    quality: int,
    method: str,
) -> NodeOutput:
    """One animated WebP of the whole batch."""
    where = get_save_path(
        filename_prefix, ctx.folders.output, int(images.shape[2]), int(images.shape[1])
    )
    frames = [Image.fromarray(f) for f in images]
    exif = frames[0].getexif()
    if not ctx.disable_metadata:
        exif[0x0110] = "prompt:" + json.dumps(ctx.prompt)  # ComfyUI's Model tag
    file = f"{where.filename}_{where.counter:05}_.webp"
    frames[0].save(
        os.path.join(where.folder, file),
        save_all=True,
        duration=int(1000.0 / fps),
        append_images=frames[1:],
        exif=exif,
        lossless=lossless,
        quality=quality,
        method={"default": 4, "fastest": 0, "slowest": 6}[method],
    )
    ref = {"filename": file, "subfolder": where.subfolder, "type": "output"}
    return NodeOutput(ui={"images": [ref], "animated": (len(frames) != 1,)})


@register("SaveAnimatedPNG")
def save_animated_png(
    ctx: NodeContext, images: np.ndarray, filename_prefix: str, fps: float, compress_level: int
) -> NodeOutput:
    """One APNG of the whole batch."""
    where = get_save_path(
        filename_prefix, ctx.folders.output, int(images.shape[2]), int(images.shape[1])
    )
    frames = [Image.fromarray(f) for f in images]
    file = f"{where.filename}_{where.counter:05}_.png"
    frames[0].save(
        os.path.join(where.folder, file),
        pnginfo=png_metadata(ctx),
        compress_level=compress_level,
        save_all=True,
        duration=int(1000.0 / fps),
        append_images=frames[1:],
    )
    ref = {"filename": file, "subfolder": where.subfolder, "type": "output"}
    return NodeOutput(ui={"images": [ref], "animated": (True,)})
