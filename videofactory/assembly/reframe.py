"""Reframing a clip to another aspect: the crop window, its path over the shot, and the ffmpeg
crop that follows it. Pure: numbers in, numbers and filter text out.

A 16:9 clip shown in a 9:16 frame keeps a window as high as the clip and 9/16 of that wide
(about a third of it); ``subject.track_subject`` measures where the subject is in sampled
frames (``saliency``), and ``plan_path`` turns those measurements into a camera an operator
would accept, the way automatic reframing tools do (Google's AutoFlip among them), the
steadiest that keeps the subject in the middle half of the window:

* **still**: every measurement fits one window: the crop does not move;
* **pan**: they lie along a line: one steady pan from the first to the last;
* **follow**: otherwise, a path through the measurements (a median of three against a
  stray frame, then a mean of three against jitter), straight between them.

The path becomes one ``crop`` whose x (or y) is an expression of the frame's time, evaluated
by ffmpeg for every frame; no frame is decoded twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "NEAR_ASPECT",
    "CropPath",
    "crop_filter",
    "crop_window",
    "needs_reframe",
    "plan_path",
]

#: Aspects closer than this share are the same shape: the few pixels of difference (a model
#: that makes sizes in steps of 32) are cropped, never padded.
NEAR_ASPECT = 0.03
#: How far from the window's centre the subject may stray in a still or panning window, as a
#: share of the window: it stays inside its middle half.
SLACK = 0.25

Axis = Literal["x", "y"]
Motion = Literal["still", "pan", "follow"]


@dataclass(frozen=True)
class CropPath:
    """Where the crop window is over a clip's time.

    ``keys`` are (seconds into the clip, centre of the window as a share of the source's
    side along ``axis``); between keys the window moves in a straight line, before the first
    and after the last it holds.
    """

    axis: Axis
    #: The window's side along ``axis`` as a share of the source's.
    size: float
    keys: tuple[tuple[float, float], ...]
    motion: Motion = "still"

    def centre_at(self, t: float) -> float:
        """The window's centre (share of the side) at ``t`` seconds."""
        keys = self.keys
        if t <= keys[0][0]:
            return keys[0][1]
        for (t0, c0), (t1, c1) in zip(keys, keys[1:], strict=False):
            if t < t1:
                return c0 + (c1 - c0) * (t - t0) / (t1 - t0)
        return keys[-1][1]


def needs_reframe(src_w: int, src_h: int, out_w: int, out_h: int) -> bool:
    """Whether a source of one shape shown in an output of another loses a visible part."""
    src, out = src_w / src_h, out_w / out_h
    return abs(src - out) / out > NEAR_ASPECT


def crop_window(src_w: int, src_h: int, out_w: int, out_h: int) -> tuple[int, int]:
    """The largest window of the output's aspect inside the source, in even pixels."""
    aspect = out_w / out_h
    if src_w / src_h > aspect:  # the source is wider: keep its height
        return min(src_w, 2 * max(1, round(src_h * aspect / 2))), src_h - src_h % 2
    return src_w - src_w % 2, min(src_h, 2 * max(1, round(src_w / aspect / 2)))


def _median3(values: Sequence[float]) -> list[float]:
    if len(values) < 3:
        return list(values)
    inner = [sorted(values[i - 1 : i + 2])[1] for i in range(1, len(values) - 1)]
    return [values[0], *inner, values[-1]]


def _mean3(values: Sequence[float]) -> list[float]:
    if len(values) < 3:
        return list(values)
    inner = [sum(values[i - 1 : i + 2]) / 3 for i in range(1, len(values) - 1)]
    return [values[0], *inner, values[-1]]


def plan_path(axis: Axis, size: float, samples: Sequence[tuple[float, float]]) -> CropPath:
    """The steadiest window path that keeps the measured subject centres (``samples``:
    seconds, centre as a share of the side) in the middle half of a window of ``size``.

    Raises:
        ValueError: no samples, or a size outside (0, 1].
    """
    if not samples:
        raise ValueError("a crop path needs at least one measurement")
    if not 0 < size <= 1:
        raise ValueError(f"window size must be in (0, 1], got {size}")
    half = size / 2
    samples = sorted(samples)
    times = [t for t, _ in samples]
    centres = _median3([min(max(c, half), 1 - half) for _, c in samples])
    slack = SLACK * size
    low, high = min(centres), max(centres)
    if high - low <= 2 * slack:
        return CropPath(axis, size, ((times[0], (low + high) / 2),), "still")
    n = len(times)
    mean_t, mean_c = sum(times) / n, sum(centres) / n
    var_t = sum((t - mean_t) ** 2 for t in times)
    slope = sum((t - mean_t) * (c - mean_c) for t, c in zip(times, centres, strict=True)) / var_t
    line = [mean_c + slope * (t - mean_t) for t in times]
    if all(abs(c - f) <= slack for c, f in zip(centres, line, strict=True)):
        ends = ((times[0], line[0]), (times[-1], line[-1]))
        return CropPath(axis, size, tuple((t, min(max(c, half), 1 - half)) for t, c in ends), "pan")
    smooth = _mean3(centres)
    keys = tuple((t, min(max(c, half), 1 - half)) for t, c in zip(times, smooth, strict=True))
    return CropPath(axis, size, keys, "follow")


def _num(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def _position(path: CropPath, span: int, window: int) -> str:
    """The window's left (or top) edge in source pixels as an ffmpeg expression of ``t``.

    Commas are escaped (``\\,``) for the filter graph parser.
    """

    def edge(centre: float) -> float:
        return min(max(centre * span - window / 2, 0.0), float(span - window))

    keys = [(t, edge(c)) for t, c in path.keys]
    expr = _num(keys[-1][1])
    for (t0, x0), (t1, x1) in reversed(list(zip(keys, keys[1:], strict=False))):
        if math.isclose(x0, x1, abs_tol=0.05):
            piece = _num(x0)
        else:
            piece = f"{_num(x0)}+{_num(x1 - x0)}*(t-{_num(t0)})/{_num(t1 - t0)}"
        expr = f"if(lt(t\\,{_num(t1)})\\,{piece}\\,{expr})"
    if len(keys) > 1:
        expr = f"if(lt(t\\,{_num(keys[0][0])})\\,{_num(keys[0][1])}\\,{expr})"
    return expr


def crop_filter(path: CropPath, src_w: int, src_h: int, out_w: int, out_h: int) -> str:
    """The ``crop`` that cuts the window of ``path`` out of a ``src_w``x``src_h`` clip (then
    ``scale`` it to the output), with its moving edge as an expression of the frame's time."""
    cw, ch = crop_window(src_w, src_h, out_w, out_h)
    if path.axis == "x":
        x, y = _position(path, src_w, cw), _num((src_h - ch) // 2)
    else:
        x, y = _num((src_w - cw) // 2), _position(path, src_h, ch)
    return f"crop=w={cw}:h={ch}:x={x}:y={y}"
