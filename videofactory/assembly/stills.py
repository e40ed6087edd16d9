"""Stills taken from clips: the last frame of a clip, the picture a shot that carries on from
it (``continuity: continue``) starts from. Decoded with PyAV, written as PNG atomically."""

from __future__ import annotations

import os
from pathlib import Path

from videofactory.errors import MediaError

__all__ = ["last_frame"]


def last_frame(video: Path, dest: Path) -> Path:
    """Write the last frame of ``video`` to ``dest`` (a PNG) and return ``dest``.

    Raises:
        MediaError: the file cannot be decoded or holds no video frame.
    """
    import av
    from PIL import Image

    last = None
    try:
        with av.open(str(video)) as container:
            for frame in container.decode(video=0):
                last = frame
            picture: Image.Image | None = None if last is None else last.to_image()
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise MediaError(f"{video}: cannot read its last frame ({exc})", path=str(video)) from exc
    if picture is None:
        raise MediaError(f"{video}: holds no video frame to start from", path=str(video))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    picture.save(tmp, "PNG")
    os.replace(tmp, dest)
    return dest
