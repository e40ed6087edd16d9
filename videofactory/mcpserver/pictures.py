"""A shot's picture for an MCP client: a keyframe as it is, or one frame of a clip, scaled to
fit a size a model reads comfortably and encoded as PNG (JPEG for a large photo-like one)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.errors import MediaError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PNG_LIMIT", "encode", "frame_of", "still_of"]

#: Above this many bytes of PNG a picture goes as JPEG (quality 90): a client's context holds
#: the picture's base64 text, and a 1280x720 render is several megabytes as PNG.
PNG_LIMIT = 1_500_000


def still_of(path: Path) -> Image.Image:
    """A picture file (a keyframe) as RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            return picture.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise MediaError(f"cannot read the picture {path}: {exc}", path=str(path)) from exc


def frame_of(path: Path, at_s: float) -> Image.Image:
    """The frame a clip shows ``at_s`` seconds in (its last one for a time past its end)."""
    import av

    if at_s < 0:
        raise MediaError(f"at_s must be 0 or more seconds into the clip, got {at_s:g}")
    last = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                last = frame
                t = float(frame.time) if frame.time is not None else 0.0
                if t + 1e-6 >= at_s:
                    break
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"cannot read the frames of {path}: {exc}", path=str(path)) from exc
    if last is None:
        raise MediaError(f"{path} has no video frames", path=str(path))
    return last.to_image().convert("RGB")


def encode(picture: Image.Image, max_side: int) -> tuple[bytes, str]:
    """The picture scaled down to ``max_side`` (its aspect kept; never scaled up), as PNG, or
    JPEG when the PNG would pass ``PNG_LIMIT``; returns the bytes and their MIME type."""
    picture = picture.copy()
    picture.thumbnail((max_side, max_side))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    if out.tell() <= PNG_LIMIT:
        return out.getvalue(), "image/png"
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue(), "image/jpeg"
