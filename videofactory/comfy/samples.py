"""Sample inputs for ``videofactory test --workflow``: a picture, a short clip, a sound.

A workflow that starts from a LoadImage, LoadVideo or LoadAudio node names a file in the
server's input/ folder, which on a fresh server holds nothing of the user's. The check makes a
small input of its own, sized like the workflow's bound width and height, uploads it and binds
its name, so that the round trip runs anywhere. Pictures are drawn with Pillow, clips are
encoded by ffmpeg (its ``testsrc2`` pattern, H.264 yuv420p), sounds are written as WAV.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videofactory.comfy.workflow import Workflow

__all__ = [
    "LOADED",
    "Sample",
    "kind_of_file",
    "loaders",
    "make_sample",
    "sample_clip",
    "sample_picture",
    "sample_sound",
]

#: Parameter a Load* node is bound to -> what kind of file it loads.
#: An edit workflow's reference slots (``comfy.references``) load pictures too.
LOADED = {
    "input_image": "picture",
    "input_video": "clip",
    "input_audio": "sound",
    "reference_1": "picture",
    "reference_2": "picture",
    "reference_3": "picture",
}
#: File suffixes of each kind (to tell which binding a user's own --input file is for).
SUFFIXES = {
    "picture": (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"),
    "clip": (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v"),
    "sound": (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".aac"),
}
#: Size of a sample when the workflow binds none (a square every model accepts).
DEFAULT_SIZE = (512, 512)
#: Sides of a sample are kept to this range (a workflow's own size may be anything).
MIN_SAMPLE_SIDE, MAX_SAMPLE_SIDE = 64, 2048
#: Longest side of a sample clip: small and quick to encode, upload and decode (a video
#: workflow scales its input to the size it works at; an upscaler wants a small one anyway).
MAX_CLIP_SIDE = 640
#: Frame rate of a sample clip when the workflow binds none, and its length in seconds.
DEFAULT_FPS = 16
CLIP_SECONDS = 1.0


@dataclass(frozen=True)
class Sample:
    """A sample input made for one binding."""

    param: str
    kind: str
    path: Path
    description: str


def sample_picture(path: Path, width: int, height: int) -> Path:
    """A PNG gradient with a grid and the words "videofactory test input" on it."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    img = Image.fromarray(np.stack([x, y, 255 - x], axis=-1).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    step = max(16, min(width, height) // 8)
    for gx in range(0, width, step):
        draw.line([(gx, 0), (gx, height)], fill=(255, 255, 255), width=1)
    for gy in range(0, height, step):
        draw.line([(0, gy), (width, gy)], fill=(255, 255, 255), width=1)
    font = ImageFont.load_default(size=max(10, min(width, height) // 14))
    text = f"videofactory test input\n{width}x{height}"
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    left = (width - (box[2] - box[0])) / 2
    top = (height - (box[3] - box[1])) / 2
    pad = step // 4
    draw.rectangle(
        [left - pad, top - pad, left + box[2] - box[0] + pad, top + box[3] - box[1] + pad],
        fill=(0, 0, 0),
    )
    draw.multiline_text((left, top - box[1]), text, font=font, fill=(255, 255, 255), align="center")
    img.save(path, format="PNG")
    return path


def sample_clip(path: Path, width: int, height: int, fps: int) -> Path:
    """A one-second H.264 MP4 of ffmpeg's moving test pattern (yuv420p, even sizes)."""
    from videofactory.assembly.ffmpeg import find_ffmpeg, run_ffmpeg

    source = f"testsrc2=size={width}x{height}:rate={fps}:duration={CLIP_SECONDS:g}"
    args = ["-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "ultrafast"]
    args += ["-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    run_ffmpeg(find_ffmpeg(), args, duration_s=CLIP_SECONDS, label="the sample clip")
    return path


def sample_sound(path: Path, rate: int = 44100) -> Path:
    """One second of a 440 Hz tone, 16-bit mono WAV, fading in and out (no clicks)."""
    n = int(rate * CLIP_SECONDS)
    fade = rate // 50
    samples = []
    for i in range(n):
        gain = min(1.0, i / fade, (n - 1 - i) / fade)
        samples.append(round(0.3 * 32767 * gain * math.sin(2 * math.pi * 440 * i / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{n}h", *samples))
    return path


def make_sample(param: str, wf: Workflow, folder: Path) -> Sample:
    """A sample input for ``param`` (input_image/video/audio), sized from the workflow."""
    kind = LOADED[param]
    width, height = _size(wf)
    if kind == "picture":
        path = sample_picture(folder / f"sample-{width}x{height}.png", width, height)
        return Sample(param, kind, path, f"sample picture {width}x{height} PNG")
    if kind == "clip":
        width, height = _fit(width, height, MAX_CLIP_SIDE)
        fps = _bound_int(wf, "fps", 1, 60) or DEFAULT_FPS
        name = f"sample-{width}x{height}-{fps}fps.mp4"
        path = sample_clip(folder / name, width, height, fps)
        return Sample(param, kind, path, f"sample clip {width}x{height} {fps} fps 1 s H.264")
    path = sample_sound(folder / "sample-440hz.wav")
    return Sample(param, kind, path, "sample sound 1 s 440 Hz WAV")


def _size(wf: Workflow) -> tuple[int, int]:
    """The workflow's bound width and height (kept in range, even), else the default."""
    width = _bound_int(wf, "width", 1, 1 << 16)
    height = _bound_int(wf, "height", 1, 1 << 16)
    if width is None or height is None:
        return DEFAULT_SIZE
    return _side(width), _side(height)


def _fit(width: int, height: int, longest: int) -> tuple[int, int]:
    """The size scaled down (aspect kept, even sides) so that no side passes ``longest``."""
    scale = min(1.0, longest / max(width, height))
    return _side(round(width * scale)), _side(round(height * scale))


def _side(value: int) -> int:
    return min(MAX_SAMPLE_SIDE, max(MIN_SAMPLE_SIDE, value)) // 2 * 2  # yuv420p needs even sides


def _bound_int(wf: Workflow, param: str, low: int, high: int) -> int | None:
    """The literal number the workflow holds where ``param`` is bound (None if there is none)."""
    binding = wf.bindings.get(param)
    if binding is None:
        return None
    node, input_name = binding.targets[0]
    value: Any = (wf.graph.get(node) or {}).get("inputs", {}).get(input_name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    number = round(value)
    return number if low <= number <= high else None


def kind_of_file(path: Path) -> str | None:
    """Whether a file is a picture, a clip or a sound, by its suffix (None if unknown)."""
    suffix = path.suffix.lower()
    for kind, suffixes in SUFFIXES.items():
        if suffix in suffixes:
            return kind
    return None


def loaders(wf: Workflow) -> Mapping[str, str]:
    """The upload bindings the workflow has: parameter -> kind, in LOADED's order."""
    return {p: k for p, k in LOADED.items() if wf.accepts(p)}
