"""Where the subject of a picture is: a saliency map made with numpy, and the window that holds
the most of it. Pure: pictures in, numbers out.

Reframing a 16:9 film to 9:16 keeps a third of each frame; which third should be the one a
viewer looks at. Without a person detector (no model ships with videofactory) the measure is
the classic one of saliency research, two cues that a subject in a frame shows and a backdrop
does not:

* **colour rarity** (histogram contrast, Cheng et al. 2011): each pixel's colour scored by its
  distance from every other colour in the frame, weighted by how common those are. A costume,
  a face or a product against sky, foliage or a wall scores high; the backdrop, being most of
  the frame, scores low.
* **centre-surround contrast** (Itti et al. 1998): the difference between the picture seen
  sharp and seen blurred over a tenth of its height. A compact object stands out from its
  surroundings; a large smooth region (a sky gradient, a wall) does not.

Both are measured in CIELAB with lightness weighted half as much as colour: bright skies and
windows are seldom the subject, and a light-only cue would pick the sun. The map is their
geometric mean (both must agree), and the window is placed where the map's mass, raised to a
power that favours its peaks over a diffuse background, is largest, then centred on that mass.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lab", "saliency_map", "subject_centre", "window_centre"]

#: Weights of L*, a*, b* in every colour distance: colour counts twice as much as lightness.
LAB_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)
#: Width of a colour bin for the rarity histogram, in weighted Lab units.
BIN = 10.0
#: Power the map is raised to before windows are compared: peaks win over a diffuse glow.
PEAK_POWER = 4.0
#: Strength of the preference for the middle of the frame when the map does not decide.
CENTRE_PRIOR = 0.25

_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]], np.float32
)
_D65 = np.array([0.95047, 1.0, 1.08883], np.float32)


def lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an ``[H, W, 3]`` uint8 sRGB picture, float32 ``[H, W, 3]``."""
    c = rgb.astype(np.float32) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (c @ _SRGB_TO_XYZ.T) / _D65
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    ).astype(np.float32)


def _blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian blur of one plane, edges extended."""
    radius = max(1, int(3 * sigma + 0.5))
    k = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-(k * k) / (2 * sigma * sigma))
    k /= k.sum()
    h, w = plane.shape
    rows = np.pad(plane, ((0, 0), (radius, radius)), mode="edge")
    out = sum(k[i] * rows[:, i : i + w] for i in range(len(k)))
    cols = np.pad(out, ((radius, radius), (0, 0)), mode="edge")
    return np.asarray(sum(k[i] * cols[i : i + h] for i in range(len(k))), np.float32)


def _rarity(weighted: np.ndarray) -> np.ndarray:
    """Histogram contrast: each colour bin's mean distance to every pixel of the frame."""
    bins = np.floor(weighted / BIN).astype(np.int64).reshape(-1, 3)
    _keys, inverse, counts = np.unique(bins, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    centres = np.zeros((len(counts), 3), np.float64)
    np.add.at(centres, inverse, weighted.reshape(-1, 3))
    centres /= counts[:, None]
    share = counts / counts.sum()
    dist = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    score = (dist * share[None, :]).sum(axis=1)
    rarity = score[inverse].reshape(weighted.shape[:2]).astype(np.float32)
    rarity = _blur(rarity, 1.0)
    rarity = np.clip(rarity - np.median(rarity), 0, None)  # the backdrop's own score is 0
    return rarity / (float(rarity.max()) or 1.0)


def saliency_map(rgb: np.ndarray) -> np.ndarray:
    """How much each pixel of ``rgb`` (``[H, W, 3]`` uint8) looks like the subject, 0..1.

    Best on a picture about 144 pixels high: the scales are set by its height.
    """
    weighted = lab(rgb) * LAB_WEIGHTS
    h = rgb.shape[0]
    fine = np.stack([_blur(weighted[..., i], max(0.5, h / 180)) for i in range(3)], -1)
    coarse = np.stack([_blur(weighted[..., i], max(3.0, h / 18)) for i in range(3)], -1)
    contrast = np.sqrt(((fine - coarse) ** 2).sum(-1))
    contrast /= float(contrast.max()) or 1.0
    s = np.sqrt(contrast * _rarity(weighted))
    return s / (float(s.max()) or 1.0)


def window_centre(profile: np.ndarray, window: float) -> float:
    """The centre (0..1 of the profile's length) of the window of ``window`` (0..1) of the
    length that holds most of ``profile``'s mass, centred on the mass inside it.

    A flat or empty profile gives the middle.
    """
    n = len(profile)
    size = max(1, min(n, round(window * n)))
    if size >= n:
        return 0.5
    x = (np.arange(n, dtype=np.float64) + 0.5) / n
    weights = profile.astype(np.float64) * (1 - CENTRE_PRIOR * ((x - 0.5) / 0.5) ** 2)
    if not np.isfinite(weights).all() or weights.sum() <= 1e-9:
        return 0.5
    sums = np.concatenate([[0.0], np.cumsum(weights)])
    start = int(np.argmax(sums[size:] - sums[:-size]))
    inside = weights[start : start + size]
    if inside.sum() <= 1e-9:
        return 0.5
    centre = (start + (inside * (np.arange(size) + 0.5)).sum() / inside.sum()) / n
    half = size / n / 2
    return float(min(max(centre, half), 1 - half))


def subject_centre(rgb: np.ndarray, axis: str, window: float) -> float:
    """Where along ``axis`` ("x": across, "y": down; 0..1) a window of ``window`` (0..1 of that
    side) should be centred to hold the picture's subject."""
    s = saliency_map(rgb) ** PEAK_POWER
    return window_centre(s.sum(axis=0 if axis == "x" else 1), window)
