"""The simulator's painter: a deterministic landscape from a prompt and a seed, with the prompt
written on it, so every keyframe is recognisable in the finished video.

Everything is drawn with numpy and Pillow on the CPU. The same (prompt, seed, size) always gives
the same picture; colours come from theme words in the prompt (forest, night, sunset, ocean,
desert, snow, city ...) or, failing that, from the prompt's hash.

A prompt that names a person (warrior, woman, keeper ...) gets a character: a figure in a cloak
of a colour the scene lacks (or the colour the prompt names), standing off-centre the way a
photographer places a subject, always clear of the caption panel. ``paint_scene`` says where it
stands (``Scene.subject``), so tests can check what reframing does with it; the picture is laid
out for its own shape, so a 9:16 keyframe is composed upright rather than squeezed.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from videofactory.constants import SIM_TAG

__all__ = ["Scene", "paint_keyframe", "paint_scene", "prompt_rng"]

RGB = tuple[int, int, int]

#: theme -> (sky top, sky horizon, far land, near land, sun colour, sun height 0..1 from top)
THEMES: dict[str, tuple[RGB, RGB, RGB, RGB, RGB, float]] = {
    "forest": ((46, 84, 96), (188, 214, 176), (96, 138, 112), (18, 46, 30), (255, 244, 200), 0.22),
    "mystic": ((38, 30, 84), (150, 190, 190), (70, 110, 120), (14, 32, 38), (210, 255, 240), 0.25),
    "night": ((8, 12, 38), (58, 52, 110), (36, 40, 80), (8, 10, 24), (236, 236, 255), 0.2),
    "sunset": ((54, 40, 110), (255, 152, 84), (128, 70, 98), (34, 18, 40), (255, 214, 120), 0.62),
    "ocean": (
        (40, 110, 190),
        (196, 228, 246),
        (70, 130, 170),
        (18, 70, 110),
        (255, 250, 220),
        0.18,
    ),
    "desert": (
        (92, 150, 214),
        (250, 226, 180),
        (214, 160, 96),
        (150, 96, 52),
        (255, 250, 225),
        0.16,
    ),
    "snow": (
        (120, 156, 200),
        (232, 240, 250),
        (188, 204, 228),
        (236, 242, 250),
        (255, 255, 240),
        0.2,
    ),
    "city": ((20, 18, 52), (226, 84, 150), (60, 40, 90), (12, 10, 26), (255, 120, 200), 0.5),
    "storm": ((40, 46, 56), (132, 140, 150), (74, 80, 88), (28, 32, 36), (220, 220, 230), 0.3),
}

KEYWORDS: dict[str, str] = {
    "forest": "forest",
    "woods": "forest",
    "tree": "forest",
    "trees": "forest",
    "jungle": "forest",
    "mystical": "mystic",
    "magic": "mystic",
    "magical": "mystic",
    "fairy": "mystic",
    "enchanted": "mystic",
    "night": "night",
    "moon": "night",
    "stars": "night",
    "space": "night",
    "midnight": "night",
    "sunset": "sunset",
    "dusk": "sunset",
    "dawn": "sunset",
    "sunrise": "sunset",
    "fire": "sunset",
    "ember": "sunset",
    "ocean": "ocean",
    "sea": "ocean",
    "beach": "ocean",
    "lake": "ocean",
    "river": "ocean",
    "water": "ocean",
    "sky": "ocean",
    "desert": "desert",
    "sand": "desert",
    "dune": "desert",
    "dunes": "desert",
    "snow": "snow",
    "winter": "snow",
    "ice": "snow",
    "mountain": "snow",
    "mountains": "snow",
    "city": "city",
    "neon": "city",
    "cyberpunk": "city",
    "street": "city",
    "storm": "storm",
    "rain": "storm",
    "fog": "storm",
    "ruins": "storm",
}

FIGURES = {
    "warrior",
    "knight",
    "man",
    "woman",
    "girl",
    "boy",
    "hero",
    "person",
    "figure",
    "traveler",
    "traveller",
    "wanderer",
    "samurai",
    "wizard",
    "monk",
    "soldier",
    "explorer",
    "keeper",
    "dancer",
    "runner",
    "child",
    "character",
    "hunter",
    "pilgrim",
    "queen",
    "king",
    "princess",
    "prince",
    "witch",
    "sailor",
    "rider",
}

#: Colour words a prompt may give its character's clothes (RGB, fairly saturated).
COLOURS: dict[str, RGB] = {
    "red": (206, 38, 42),
    "crimson": (180, 20, 50),
    "orange": (236, 120, 30),
    "yellow": (238, 206, 40),
    "golden": (222, 170, 40),
    "green": (40, 170, 70),
    "blue": (40, 90, 220),
    "purple": (130, 50, 190),
    "violet": (140, 70, 210),
    "pink": (236, 90, 160),
    "white": (240, 240, 236),
    "black": (24, 24, 28),
    "silver": (190, 196, 206),
}


def prompt_rng(prompt: str, seed: int, salt: str = "") -> np.random.Generator:
    """A generator that depends on the prompt text, the seed and a purpose string."""
    digest = hashlib.sha256(f"{salt}\x00{seed}\x00{prompt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _theme(words: list[str], prompt: str, seed: int) -> tuple[np.ndarray, ...]:
    found = [KEYWORDS[w] for w in words if w in KEYWORDS]
    rng = prompt_rng(prompt, seed, "palette")
    if found:
        base = [np.array(c, np.float32) for c in THEMES[found[0]][:5]]
        sun_y = THEMES[found[0]][5]
        if len(found) > 1 and found[1] != found[0]:  # a second theme tints the sky
            other = THEMES[found[1]]
            base[0] = 0.7 * base[0] + 0.3 * np.array(other[0], np.float32)
            base[1] = 0.7 * base[1] + 0.3 * np.array(other[1], np.float32)
    else:
        hue = rng.random()
        base = [
            _hsv(hue, 0.55, 0.45),
            _hsv(hue + 0.08, 0.35, 0.95),
            _hsv(hue + 0.5, 0.3, 0.55),
            _hsv(hue + 0.45, 0.5, 0.18),
            _hsv(hue + 0.1, 0.2, 1.0),
        ]
        sun_y = 0.15 + 0.4 * rng.random()
    jitter = rng.normal(0, 10, size=(5, 3)).astype(np.float32)  # the seed varies the mood a bit
    colours = [np.clip(c + j, 0, 255) for c, j in zip(base, jitter, strict=True)]
    return (*colours, np.float32(sun_y))


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255


def _sky(
    w: int,
    h: int,
    top: np.ndarray,
    horizon: np.ndarray,
    sun: np.ndarray,
    sun_y: float,
    rng: np.random.Generator,
    night: bool,
) -> tuple[np.ndarray, float]:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None] ** 0.8
    sky = top * (1 - t) + horizon * t
    sky = np.broadcast_to(sky, (h, w, 3)).copy()
    cx, cy = w * (0.2 + 0.6 * rng.random()), h * sun_y
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - cx, yy - cy) / max(w, h)
    radius = 0.045 + 0.02 * rng.random()
    glow = np.exp(-((d / (radius * 4)) ** 2))[..., None] * 0.55
    disc = np.clip((radius - d) / (radius * 0.08), 0, 1)[..., None]
    sky = sky * (1 - glow) + sun * glow
    sky = sky * (1 - disc) + sun * disc
    if night:  # a few stars
        n = int(w * h / 900) + 5
        sx, sy = rng.integers(0, w, n), rng.integers(0, max(1, int(h * 0.6)), n)
        sky[sy, sx] = np.maximum(sky[sy, sx], rng.uniform(170, 255, (n, 1)))
    return sky, cx


def _ridge(
    w: int, h: int, base: float, amp: float, rng: np.random.Generator, sharp: bool
) -> np.ndarray:
    x = np.linspace(0, 1, w, dtype=np.float32)
    y = np.zeros(w, np.float32)
    for k in range(1, 6):
        wave = np.sin(2 * np.pi * (x * rng.uniform(0.6, 1.4) * k + rng.random()))
        # 1-|sin| has cusps at its maxima: sharp mountain peaks instead of rolling hills.
        y += ((1 - 2 * np.abs(wave)) if sharp and k < 3 else wave) / k
    return h * (base - amp * y / 2.2)


def _trees(
    draw: ImageDraw.ImageDraw,
    ridge: np.ndarray,
    h: int,
    colour: RGB,
    scale: float,
    rng: np.random.Generator,
    density: float,
) -> None:
    w = len(ridge)
    n = int(w / max(4.0, 40 * scale) * density)
    for x in np.sort(rng.integers(0, w, n)):
        top = float(ridge[x]) - h * scale * rng.uniform(0.6, 1.2)
        half = h * scale * rng.uniform(0.12, 0.2)
        base_y = float(ridge[x]) + 2
        for tier in range(3):  # stacked triangles read as pines at any size
            y0 = top + (base_y - top) * tier / 3.2
            y1 = base_y - (base_y - top) * (2 - tier) / 5
            hw = half * (0.55 + 0.35 * tier)
            draw.polygon([(x, y0), (x - hw, y1), (x + hw, y1)], fill=colour)


def _water(
    arr: np.ndarray, horizon_y: int, sun_x: float, sun: np.ndarray, rng: np.random.Generator
) -> None:
    """Flat water below the horizon: darkened sky reflection, ripples, a glitter path."""
    h, w, _ = arr.shape
    if horizon_y >= h - 1:
        return
    reflected = arr[max(0, 2 * horizon_y - h) : horizon_y][::-1]
    rows = h - horizon_y
    if reflected.shape[0] < rows:
        pad = np.repeat(reflected[-1:], rows - reflected.shape[0], axis=0)
        reflected = np.concatenate([reflected, pad], axis=0)
    water = reflected[:rows] * 0.55 + np.array([10, 40, 70], np.float32) * 0.45
    yy = np.arange(rows, dtype=np.float32)[:, None]
    ripples = np.sin(
        yy * (0.9 + rng.random()) * 60 / max(rows, 1) ** 0.5 + rng.uniform(0, 6.28, (1, w)) * 0.15
    )
    water += 10 * ripples[..., None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    spread = 0.02 * w + 0.25 * w * (yy / rows)
    path = np.exp(-(((xx - sun_x) / spread) ** 2)) * (ripples > 0.3)
    water = water * (1 - 0.6 * path[..., None]) + sun * 0.6 * path[..., None]
    arr[horizon_y:] = water


def _skyline(
    draw: ImageDraw.ImageDraw, w: int, h: int, colour: RGB, glow: RGB, rng: np.random.Generator
) -> None:
    """Tower blocks with lit windows along the bottom third."""
    x = -rng.integers(0, max(2, w // 20))
    while x < w:
        bw = int(rng.uniform(0.04, 0.1) * w) + 2
        top = int(h * rng.uniform(0.35, 0.7))
        draw.rectangle([x, top, x + bw, h], fill=colour)
        step = max(3, h // 60)
        for wy in range(top + step, h - step, step * 2):
            for wx in range(x + step, x + bw - step, step * 2):
                if rng.random() < 0.35:
                    draw.rectangle([wx, wy, wx + step - 1, wy + step - 1], fill=glow)
        x += bw + int(rng.uniform(0, 0.02) * w)


#: A box in pixels: (left, top, right, bottom).
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Scene:
    """A painted keyframe and where its character stands (None: the prompt names nobody)."""

    picture: np.ndarray
    #: The character's head-to-feet box in pixels (its raised staff reaches a little above).
    subject: Box | None = None


def _cloak(words: list[str], scene: np.ndarray) -> RGB:
    """The character's clothes: the colour the prompt names, else the hue opposite the scene's
    (saturated and bright enough to stand out, as a costume designer would choose)."""
    for word in words:
        if word in COLOURS:
            return COLOURS[word]
    hue, _sat, _val = colorsys.rgb_to_hsv(*(float(c) / 255 for c in scene))
    r, g, b = colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.78, 0.86)
    return round(r * 255), round(g * 255), round(b * 255)


def _figure(
    draw: ImageDraw.ImageDraw, x: float, ground: float, size: float, cloak: RGB, shade: RGB
) -> Box:
    """A cloaked figure with a raised staff, feet at ``ground``; returns its head-to-feet box."""
    head = size * 0.11
    outline = max(1, round(size * 0.015))
    draw.ellipse(
        [x - head, ground - size, x + head, ground - size + 2 * head],
        fill=tuple(min(255, round(c * 0.55 + 110)) for c in cloak),
        outline=shade,
        width=outline,
    )
    body = [
        (x - size * 0.14, ground - size * 0.78),
        (x + size * 0.14, ground - size * 0.78),
        (x + size * 0.2, ground - size * 0.05),
        (x - size * 0.2, ground - size * 0.05),
    ]
    draw.polygon(body, fill=cloak, outline=shade)
    draw.line(
        [(x + size * 0.16, ground - size * 0.7), (x + size * 0.45, ground - size * 1.15)],
        fill=shade,
        width=max(1, round(size * 0.04)),
    )  # a raised blade or staff
    return (x - size * 0.2, ground - size, x + size * 0.2, ground - size * 0.05)


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: float
) -> list[str]:
    """Greedy word wrap by measured width (long words are cut by characters)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while draw.textlength(word, font=font) > width and len(word) > 1:
            cut = 1
            for cut in range(len(word), 0, -1):
                if draw.textlength(word[:cut], font=font) <= width:
                    break
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


#: Below this height the text panel would hide most of the picture and no line of it would be
#: legible (tiny test renders): such stills carry no panel.
TEXT_PANEL_MIN_HEIGHT = 128


#: Fonts parsed so far, per thread (a FreeType face is not to be shared between threads, and
#: tests run several simulated servers in one process).
_FONTS = threading.local()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at a pixel size, parsed once per size and thread."""
    fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = _FONTS.__dict__.setdefault(
        "by_size", {}
    )
    if size not in fonts:
        fonts[size] = ImageFont.load_default(size=size)
    return fonts[size]


def _panel_layout(
    w: int, h: int, prompt: str
) -> tuple[tuple[int, int, int, int], list[str], int] | None:
    """Where the caption panel goes: its box, its lines and its font size (None: no panel).

    The font is sized by the frame's short side, so a 9:16 frame gets the same text as a 16:9
    one of its width rather than text sized for its height that would wrap into a column.
    """
    if h < TEXT_PANEL_MIN_HEIGHT:
        return None
    size = max(8, round(min(w, h) / 24))
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, right, bottom = round(w * 0.13), round(w * 0.87), round(h * 0.865)
    lines = _wrap(draw, prompt.strip() or "(empty prompt)", _font(size), right - left - size)[:4]
    line_h = round(size * 1.25)
    tag_h = round(size * 0.9)
    top = bottom - (line_h * len(lines) + tag_h + size)
    return (left, top, right, bottom), lines, size


def _text_panel(img: Image.Image, prompt: str, seed: int) -> None:
    """The prompt, word-wrapped, and the simulator tag, in a panel inside the area that every
    camera move of SimImageToVideo keeps in view (12%..88% of width and height)."""
    layout = _panel_layout(*img.size, prompt)
    if layout is None:
        return
    (left, top, right, bottom), lines, size = layout
    font = _font(size)
    small = _font(max(7, round(size * 0.6)))
    draw = ImageDraw.Draw(img, "RGBA")
    line_h = round(size * 1.25)
    draw.rectangle([left, top, right, bottom], fill=(0, 0, 0, 125))
    y = top + size // 2
    for line in lines:
        draw.text((left + size // 2, y), line, font=font, fill=(255, 255, 255, 240))
        y += line_h
    draw.text(
        (left + size // 2, y + size // 8),
        f"{SIM_TAG} · seed {seed}",
        font=small,
        fill=(255, 255, 255, 165),
    )


def paint_keyframe(
    prompt: str,
    seed: int,
    width: int,
    height: int,
    tick: Callable[[int], None] | None = None,
    steps: int = 1,
) -> np.ndarray:
    """Paint one picture ``[H, W, 3]`` uint8; ``tick(i)`` is called ``steps`` times as it goes."""
    return paint_scene(prompt, seed, width, height, tick, steps).picture


def paint_scene(
    prompt: str,
    seed: int,
    width: int,
    height: int,
    tick: Callable[[int], None] | None = None,
    steps: int = 1,
    cloak: RGB | None = None,
    restyle: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Scene:
    """Paint one picture (``paint_keyframe``) and say where its character stands. An edit
    (``sim.lookpaint``) may dress the character in a given colour (``cloak``) and recolour
    the landscape before the character is drawn on it (``restyle``)."""
    steps = max(1, steps)
    done = 0

    def stage(fraction: float) -> None:
        nonlocal done
        target = min(steps, round(steps * fraction))
        while tick is not None and done < target:
            done += 1
            tick(done)

    words = re.findall(r"[a-z]+", prompt.lower())
    top, horizon, far, near, sun, sun_y = _theme(words, prompt, seed)
    rng = prompt_rng(prompt, seed, "layout")
    night = any(KEYWORDS.get(w) in ("night", "city") for w in words)
    sky, sun_x = _sky(width, height, top, horizon, sun, float(sun_y), rng, night)
    stage(0.3)
    img = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    themes = {KEYWORDS.get(w) for w in words}
    sharp = "snow" in themes
    forest = bool(themes & {"forest", "mystic"})
    layers = 2 if "ocean" in themes else 4
    last_ridge = None
    for i in range(layers):
        depth = i / 3  # 0 far .. 1 near
        colour = tuple(
            int(c) for c in (horizon * (1 - depth) * 0.55 + far * (1 - depth) * 0.45 + near * depth)
        )
        ridge = _ridge(width, height, 0.5 + 0.13 * i, 0.2 - 0.03 * i, rng, sharp and i < 2)
        pts = [(0, height)] + [(x, float(ridge[x])) for x in range(width)] + [(width, height)]
        draw.polygon(pts, fill=colour)
        if forest and i >= 1:
            _trees(draw, ridge, height, colour, 0.06 + 0.06 * i, rng, 0.6 + 0.5 * i)
        last_ridge = ridge
        stage(0.3 + 0.4 * (i + 1) / layers)
    if "city" in themes:
        _skyline(
            draw, width, height, tuple(int(c * 0.6) for c in near), tuple(int(c) for c in sun), rng
        )
    if "ocean" in themes:
        arr = np.asarray(img).astype(np.float32)
        _water(arr, int(height * 0.62), sun_x, sun, rng)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        last_ridge = np.full(width, height * 0.9, np.float32)
    if restyle is not None:
        img = Image.fromarray(restyle(np.asarray(img)))
        draw = ImageDraw.Draw(img)
    subject = None
    if last_ridge is not None and FIGURES.intersection(words):
        # Off-centre, as a subject is framed: anywhere from a fifth to four fifths across.
        x = width * (0.2 + 0.6 * rng.random())
        # Stand above the caption panel so the subject stays visible.
        panel = _panel_layout(width, height, prompt)
        floor = min(height * 0.72, panel[0][1] - height * 0.01) if panel else height * 0.72
        ground = min(float(last_ridge[min(width - 1, int(x))]) + height * 0.01, floor)
        shade = tuple(int(c * 0.5) for c in near)
        dress = cloak or _cloak(words, (far + near) / 2)
        subject = _figure(draw, x, ground, min(height * 0.2, width * 0.3), dress, shade)
    img = img.filter(ImageFilter.GaussianBlur(radius=max(0.5, height / 900)))
    arr = np.asarray(img).astype(np.float32)
    # Painterly texture: soft colour blotches plus fine grain.
    grid = (max(2, height // 40), max(2, width // 40))
    # Mostly brightness, a little colour: reads as brush texture, not confetti.
    blotch = rng.normal(0, 1, (*grid, 1)) * 0.8 + rng.normal(0, 1, (*grid, 3)) * 0.35
    blotch_img = Image.fromarray(np.uint8(np.clip(128 + 40 * blotch, 0, 255)))
    blotch_img = blotch_img.resize((width, height), Image.BICUBIC)
    blotch_img = blotch_img.filter(ImageFilter.GaussianBlur(radius=max(1.0, height / 60)))
    blotch = np.asarray(blotch_img, np.float32) - 128
    arr += 0.35 * blotch + rng.normal(0, 2.5, arr.shape).astype(np.float32)
    stage(0.9)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    _text_panel(out, prompt, seed)
    stage(1.0)
    return Scene(np.asarray(out, dtype=np.uint8).copy(), subject)
