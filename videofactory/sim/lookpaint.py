"""The simulator's look painting: character sheets, and keyframes painted as edits of the
film's references (``SimImageEdit``), so that a consistency measure over a simulated film
means something.

A prompt that asks for a character sheet (``look.SHEET_WORDS``: "character sheet of ...") is
painted as one: the character standing large and centred on a plain grey background, in the
colour the prompt names, else one drawn from the prompt. An edit reads its pictures the way an
edit model's vision encoder would, by what they show: a picture with a plain border is a
character sheet, and the character of the keyframe wears its clothes' colour; any other picture
is a setting plate, and the keyframe takes on its palette (its colours moved toward the
plate's, the character left as the sheet shows it). Without pictures an edit paints exactly
what ``SimTextToImage`` paints.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from videofactory.sim.render import COLOURS, RGB, _figure, _panel_layout, _text_panel, paint_scene

__all__ = ["is_sheet_prompt", "paint_edit", "paint_sheet", "read_sheet"]

#: What opens a character sheet's prompt (videofactory.look writes it).
SHEET_PREFIX = "character sheet of"
#: The sheet's background grey, top and bottom.
SHEET_TOP, SHEET_BOTTOM = 150.0, 112.0
#: A picture whose border varies less than this (per channel, 0..255) is a plain background.
PLAIN_BORDER_STD = 10.0
#: How far a pixel must be from the background to belong to the character.
FIGURE_DISTANCE = 48.0
#: How much of the way a keyframe's colours move toward the setting plate's.
PALETTE_STRENGTH = 0.6


def is_sheet_prompt(prompt: str) -> bool:
    """Whether a prompt asks for a character sheet."""
    return prompt.strip().lower().startswith(SHEET_PREFIX)


def _sheet_cloak(prompt: str) -> RGB:
    """The sheet's clothes: the colour its prompt names, else one drawn from its words."""
    words = re.findall(r"[a-z]+", prompt.lower())
    for word in words:
        if word in COLOURS:
            return COLOURS[word]
    hue = int.from_bytes(prompt.strip().lower().encode("utf-8")[:64].ljust(4, b"\0")[-4:], "big")
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360, 0.78, 0.86)
    return round(r * 255), round(g * 255), round(b * 255)


def paint_sheet(
    prompt: str,
    seed: int,
    width: int,
    height: int,
    tick: Callable[[int], None] | None = None,
    steps: int = 1,
) -> np.ndarray:
    """A character sheet ``[H, W, 3]``: the character large and centred on plain grey."""
    ramp = np.linspace(SHEET_TOP, SHEET_BOTTOM, height, dtype=np.float32)[:, None, None]
    img = Image.fromarray(np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    panel = _panel_layout(width, height, prompt)
    floor = panel[0][1] - height * 0.03 if panel else height * 0.92
    size = min(floor * 0.8, width * 0.45)
    cloak = _sheet_cloak(prompt)
    _figure(draw, width / 2, floor, size, cloak, (40, 40, 44))
    for i in range(1, max(1, steps) + 1):
        if tick is not None:
            tick(i)
    _text_panel(img, prompt, seed)
    return np.asarray(img, dtype=np.uint8).copy()


def _border(picture: np.ndarray) -> np.ndarray:
    """The pixels of a picture's top rows and side columns (clear of any caption panel)."""
    h, w = picture.shape[:2]
    band = max(1, min(h, w) // 16)
    upper = picture[: int(h * 0.6)]
    return np.concatenate(
        [
            picture[:band].reshape(-1, 3),
            upper[:, :band].reshape(-1, 3),
            upper[:, w - band :].reshape(-1, 3),
        ]
    ).astype(np.float32)


def read_sheet(picture: np.ndarray) -> RGB | None:
    """The clothes' colour of the character on a character sheet (the commonest colour of the
    pixels that are not background), or None when the picture is no sheet (its border is not
    plain, or nothing stands on it)."""
    border = _border(picture)
    grey = float(np.ptp(border, axis=1).mean()) < PLAIN_BORDER_STD
    # The sheet's own gradient spreads its border a little; a landscape's sky far more.
    spread = PLAIN_BORDER_STD + abs(SHEET_TOP - SHEET_BOTTOM) / 2
    if not grey or float(border.std(axis=0).max()) > spread:
        return None
    rows = np.linspace(SHEET_TOP, SHEET_BOTTOM, picture.shape[0], dtype=np.float32)
    background = np.repeat(rows[:, None], 3, axis=1)[:, None, :]
    h = picture.shape[0]
    panel = _panel_layout(picture.shape[1], h, "x")
    top = int(panel[0][1] * 0.97) if panel else h
    area = picture[:top].astype(np.float32)
    far = np.linalg.norm(area - background[:top], axis=2) > FIGURE_DISTANCE
    pixels = area[far]
    # Clothes have colour; a caption panel and the outline are grey: the coloured pixels when
    # there are some (a sheet of someone dressed in black or white has none).
    coloured = pixels[np.ptp(pixels, axis=1) > FIGURE_DISTANCE]
    if len(coloured) >= 8:
        pixels = coloured
    if len(pixels) < 8:
        return None
    bins = (pixels // 16).astype(np.int32)
    codes = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    common = np.bincount(codes).argmax()
    chosen = pixels[codes == common].mean(axis=0)
    return int(chosen[0]), int(chosen[1]), int(chosen[2])


def _palette_of(plate: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A recolouring that moves a landscape's colours toward ``plate``'s (per channel mean
    and spread, of the upper part where the landscape is, clear of any caption)."""
    upper_plate = plate[: max(1, int(plate.shape[0] * 0.6))].astype(np.float32)
    mu_r, sd_r = upper_plate.mean(axis=(0, 1)), upper_plate.std(axis=(0, 1)) + 1e-3

    def restyle(picture: np.ndarray) -> np.ndarray:
        src = picture.astype(np.float32)
        upper = src[: max(1, int(src.shape[0] * 0.6))]
        mu_s, sd_s = upper.mean(axis=(0, 1)), upper.std(axis=(0, 1)) + 1e-3
        moved = (src - mu_s) / sd_s * sd_r + mu_r
        return np.clip(src + PALETTE_STRENGTH * (moved - src), 0, 255).astype(np.uint8)

    return restyle


def paint_edit(
    prompt: str,
    seed: int,
    width: int,
    height: int,
    pictures: Sequence[np.ndarray],
    tick: Callable[[int], None] | None = None,
    steps: int = 1,
) -> np.ndarray:
    """A keyframe ``[H, W, 3]`` painted from its prompt as an edit of ``pictures`` (each
    ``[H, W, 3]``): the character dressed as the first sheet shows, the palette of the first
    plate."""
    cloak: RGB | None = None
    plate: np.ndarray | None = None
    for picture in pictures:
        found = read_sheet(picture)
        if found is not None and cloak is None:
            cloak = found
        elif found is None and plate is None:
            plate = picture
    restyle = _palette_of(plate) if plate is not None else None
    scene = paint_scene(prompt, seed, width, height, tick, steps, cloak=cloak, restyle=restyle)
    return scene.picture
