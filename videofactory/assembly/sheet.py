"""The thumbnail and the contact sheet, from pictures the render writes as it goes.

The render writes every shot's middle frame and the thumbnail frame (``graph.picture_frames``)
as full-size JPEGs, each the moment it passes (``picture_pattern``); the thumbnail is one of
them and ``compose`` lays the middles out on a grid afterwards. ffmpeg's ``tile`` filter could
draw the grid in the render itself, but it emits its one picture only at the very end, and an
output that has written nothing holds back ffmpeg's scheduler (it keeps the streams of a run
within a fraction of a second of the one furthest behind): rendering 12 shots of 720p, ffmpeg
9 reported no ``-progress`` at all until 95 % of the video was encoded, and its memory held
the encoded video meanwhile (400 MB against 345 MB without it). A thumbnail of its own, late
in the video, did the same until it passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["MARGIN_PX", "PADDING_PX", "compose", "picture_paths", "picture_pattern"]

#: Space between tiles and around the grid, in pixels (black, as ffmpeg's tile filter draws).
PADDING_PX = 4
MARGIN_PX = 4
#: JPEG quality of the composed sheet.
SHEET_QUALITY = 90


def picture_pattern(folder: Path) -> str:
    """The image2 output name of the pictures in ``folder`` (``000.jpg``, ``001.jpg``, ...).

    image2 reads ``%`` in the name as a frame-number field: one in the folder's own name is
    doubled so that it stays literal.
    """
    return str(folder).replace("%", "%%") + "/%03d.jpg"


def picture_paths(folder: Path, count: int) -> list[Path]:
    """The files ``picture_pattern`` names for ``count`` pictures, in the order written."""
    return [folder / f"{i:03d}.jpg" for i in range(count)]


def compose(tiles: Sequence[Path], layout: tuple[int, int, int, int], dest: Path) -> None:
    """Lay ``tiles`` out row by row on a black sheet (``graph.contact_layout``'s columns, rows
    and tile size) and save it as a JPEG at ``dest``; a missing tile stays black, as the tile
    filter left it."""
    from PIL import Image  # here: the render needs Pillow only once it has finished

    columns, rows, tile_w, tile_h = layout
    width = 2 * MARGIN_PX + columns * tile_w + (columns - 1) * PADDING_PX
    height = 2 * MARGIN_PX + rows * tile_h + (rows - 1) * PADDING_PX
    sheet = Image.new("RGB", (width, height), "black")
    for i, path in enumerate(tiles):
        row, column = divmod(i, columns)
        if not path.exists():  # a picture ffmpeg did not write stays black
            continue
        with Image.open(path) as tile:
            tile.draft("RGB", (tile_w, tile_h))  # a JPEG decodes straight at 1/2, 1/4 or 1/8
            picture = tile.convert("RGB")
        if picture.size != (tile_w, tile_h):
            picture = picture.resize((tile_w, tile_h), Image.Resampling.LANCZOS)
        x = MARGIN_PX + column * (tile_w + PADDING_PX)
        y = MARGIN_PX + row * (tile_h + PADDING_PX)
        sheet.paste(picture, (x, y))
    sheet.save(dest, format="JPEG", quality=SHEET_QUALITY)
