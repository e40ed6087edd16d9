"""Follow a clip's subject: decode a few frames small, find the subject in each (``saliency``)
and plan the crop window's path over the shot (``reframe.plan_path``).

Only pictures are read, no metadata: the same measure serves generated clips and real
footage. Frames are decoded in order (a seek per sample would decode from the previous key
frame anyway) and only the sampled ones are scaled down and converted.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from videofactory.assembly.reframe import CropPath, crop_window, plan_path
from videofactory.assembly.saliency import subject_centre
from videofactory.errors import MediaError

__all__ = ["ANALYSIS_SIDE", "SAMPLES_PER_SECOND", "sample_times", "track_subject"]

#: The short side, in pixels, of the frames the saliency is measured on.
ANALYSIS_SIDE = 144
#: Measurements per second of the shot, and their bounds per shot.
SAMPLES_PER_SECOND = 2.0
MIN_SAMPLES, MAX_SAMPLES = 3, 16


def sample_times(seconds: float) -> list[float]:
    """When to measure a shot of ``seconds``: evenly from its first frame to near its end."""
    n = min(MAX_SAMPLES, max(MIN_SAMPLES, math.ceil(seconds * SAMPLES_PER_SECOND) + 1))
    last = max(0.0, seconds - 0.05)
    return [last * i / (n - 1) for i in range(n)]


def _frames_at(path: Path, times: list[float], size: tuple[int, int]) -> list[np.ndarray]:
    """The frame shown at each of ``times`` (the last one for times past the end), scaled to
    ``size`` as RGB arrays."""
    import av  # here, not at the top: PyAV takes a tenth of a second to import

    out: list[np.ndarray] = []
    width, height = size
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            last = None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                while len(out) < len(times) and t + 1e-6 >= times[len(out)]:
                    out.append(frame.reformat(width, height, "rgb24").to_ndarray())
                if len(out) == len(times):
                    break
                last = frame
            if last is not None:
                while len(out) < len(times):
                    out.append(last.reformat(width, height, "rgb24").to_ndarray())
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise MediaError(f"cannot read the frames of {path}: {exc}", path=str(path)) from exc
    if not out:
        raise MediaError(f"{path} has no video frames to reframe", path=str(path))
    return out


def track_subject(
    path: Path, seconds: float, src: tuple[int, int], out: tuple[int, int]
) -> CropPath:
    """The crop path that keeps the subject of the clip at ``path`` (``src`` its width and
    height) in a window of the output's shape (``out``) over its first ``seconds``."""
    src_w, src_h = src
    out_w, out_h = out
    cw, ch = crop_window(src_w, src_h, out_w, out_h)
    axis = "x" if cw < src_w else "y"
    size = cw / src_w if axis == "x" else ch / src_h
    scale = ANALYSIS_SIDE / min(src_w, src_h)
    small = (max(16, 2 * round(src_w * scale / 2)), max(16, 2 * round(src_h * scale / 2)))
    times = sample_times(seconds)
    frames = _frames_at(Path(path), times, small)
    centres = [subject_centre(frame, axis, size) for frame in frames]
    return plan_path(axis, size, list(zip(times, centres, strict=True)))
