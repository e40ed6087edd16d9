"""Camera moves over a still: the simulator's image-to-video.

Each frame is a sub-pixel crop box of the source resized with Pillow (``resize(box=...)``), so
pans and zooms are smooth at any speed. A seeded hand-held drift, a slow breathing of the light
and a few drifting motes make every frame differ, as a generated clip would.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

__all__ = ["CAMERAS", "camera_frames", "cover", "crop_box", "morph_into"]

CAMERAS = ("static", "pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out")

#: Share of the frame the camera travels over on a pan, and the zoom range.
#: Gentle on purpose: every move keeps the centre 76% of the keyframe (its caption) in view.
PAN_SCALE = 0.88
ZOOM_NEAR = 0.84
STATIC_SCALE = 0.96


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)  # smoothstep: starts and stops gently


def crop_box(
    src_w: int, src_h: int, out_w: int, out_h: int, camera: str, t: float
) -> tuple[float, float, float, float]:
    """The crop box (left, top, right, bottom) in source pixels at time ``t`` in 0..1."""
    aspect = out_w / out_h
    # Largest window of the output's aspect that fits in the source.
    cover_w = min(src_w, src_h * aspect)
    cover_h = cover_w / aspect
    e = _ease(min(1.0, max(0.0, t)))
    if camera == "zoom_in":
        scale = 1 - (1 - ZOOM_NEAR) * e
    elif camera == "zoom_out":
        scale = ZOOM_NEAR + (1 - ZOOM_NEAR) * e
    elif camera == "static":
        scale = STATIC_SCALE
    else:
        scale = PAN_SCALE
    w, h = cover_w * scale, cover_h * scale
    spare_x, spare_y = src_w - w, src_h - h
    cx, cy = src_w / 2, src_h / 2
    if camera == "pan_left":  # the camera turns left: the window slides right to left
        cx = w / 2 + spare_x * (1 - e)
    elif camera == "pan_right":
        cx = w / 2 + spare_x * e
    elif camera == "pan_up":
        cy = h / 2 + spare_y * (1 - e)
    elif camera == "pan_down":
        cy = h / 2 + spare_y * e
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


class _Motion:
    """Seeded hand-held drift, light breathing and motes for one clip."""

    def __init__(self, seed: int, width: int, height: int) -> None:
        rng = np.random.default_rng(seed)
        self.freqs = rng.uniform(0.3, 1.3, (2, 3))
        self.phases = rng.uniform(0, 2 * math.pi, (2, 3))
        self.breath = (rng.uniform(0.5, 1.5), rng.uniform(0, 2 * math.pi))
        n = 8 + int(rng.integers(0, 16))
        self.motes = rng.uniform(0, 1, (n, 2))
        self.velocity = rng.normal(0, 0.06, (n, 2)) + np.array([0.0, -0.05])
        self.radius = rng.uniform(0.004, 0.012, n) * max(width, height)
        self.glow = rng.uniform(25, 70, n)

    def shake(self, t: float, w: float, h: float) -> tuple[float, float]:
        """Offset in source pixels (about half a percent of the window)."""
        s = np.sin(2 * np.pi * self.freqs * t + self.phases).sum(axis=1) / 3
        return float(s[0]) * w * 0.006, float(s[1]) * h * 0.006

    def light(self, t: float) -> float:
        """Brightness factor."""
        f, p = self.breath
        return 1.0 + 0.03 * math.sin(2 * math.pi * f * t + p)

    def add_motes(self, frame: np.ndarray, t: float) -> None:
        """Soft bright dots drifting across ``frame`` (float32, in place)."""
        h, w, _ = frame.shape
        pos = (self.motes + self.velocity * t) % 1.0
        for (x, y), r, g in zip(pos, self.radius, self.glow, strict=True):
            px, py, rad = x * w, y * h, max(1.0, r)
            x0, x1 = max(0, int(px - 2 * rad)), min(w, int(px + 2 * rad) + 1)
            y0, y1 = max(0, int(py - 2 * rad)), min(h, int(py + 2 * rad) + 1)
            if x0 >= x1 or y0 >= y1:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            spot = np.exp(-(((xx - px) ** 2 + (yy - py) ** 2) / (rad * rad)))
            frame[y0:y1, x0:x1] += (g * spot)[..., None]


def camera_frames(
    src: np.ndarray,
    width: int,
    height: int,
    length: int,
    camera: str,
    seed: int,
    steps: int = 1,
    tick: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``length`` frames ``[N, H, W, 3]`` uint8 of ``src`` seen through a moving camera.

    Frames are made in ``steps`` chunks and ``tick(i)`` is called after each (progress and the
    interrupt check of the caller).
    """
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera move {camera!r}; one of {', '.join(CAMERAS)}")
    image = Image.fromarray(src)
    src_w, src_h = image.size
    motion = _Motion(seed, width, height)
    out = np.empty((length, height, width, 3), np.uint8)
    steps = max(1, min(steps, length))
    bounds = [round(length * i / steps) for i in range(steps + 1)]
    for step in range(steps):
        for i in range(bounds[step], bounds[step + 1]):
            t = i / (length - 1) if length > 1 else 0.0
            left, top, right, bottom = crop_box(src_w, src_h, width, height, camera, t)
            dx, dy = motion.shake(t, right - left, bottom - top)
            # Keep the shaken box inside the source so no edge ever shows.
            dx = min(max(dx, -left), src_w - right)
            dy = min(max(dy, -top), src_h - bottom)
            box = (left + dx, top + dy, right + dx, bottom + dy)
            frame = np.asarray(image.resize((width, height), Image.BICUBIC, box=box), np.float32)
            frame = frame * motion.light(t)
            motion.add_motes(frame, t)
            out[i] = np.clip(frame, 0, 255).astype(np.uint8)
        if tick is not None:
            tick(step + 1)
    return out


def cover(src: np.ndarray, width: int, height: int) -> np.ndarray:
    """``src`` scaled to cover ``width`` x ``height`` and centre-cropped to it (uint8), as
    ComfyUI's video nodes fit a start or end image (``common_upscale(..., "center")``)."""
    image = Image.fromarray(src)
    # The largest window of the output's aspect that fits in the source, centred.
    w = min(float(image.width), image.height * width / height)
    h = w * height / width
    left, top = (image.width - w) / 2, (image.height - h) / 2
    box = (left, top, left + w, top + h)
    return np.asarray(image.resize((width, height), Image.BILINEAR, box=box), np.uint8)


def morph_into(frames: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The clip ``frames`` ``[N, H, W, 3]`` dissolving into the picture ``end`` over its whole
    length (eased), so that it starts as it was and its last frame is ``end`` (covered to the
    frame): the simulator's first-last-frame clip, whose cut to the next shot lands on that
    shot's keyframe. In place; returns ``frames``."""
    n, height, width, _ = frames.shape
    target = cover(end, width, height).astype(np.float32)
    for i in range(n):
        w = _ease(i / (n - 1)) if n > 1 else 1.0
        if w <= 0.0:
            continue
        mixed = frames[i].astype(np.float32) * (1.0 - w) + target * w
        frames[i] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return frames
