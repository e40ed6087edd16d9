"""The contact sheet's layout (sheet.py), on pictures made here."""

from __future__ import annotations

import numpy as np
from PIL import Image

from videofactory.assembly.sheet import (
    MARGIN_PX,
    PADDING_PX,
    compose,
    picture_paths,
    picture_pattern,
)


def test_tiles_are_laid_out_row_by_row_and_a_missing_one_stays_black(tmp_path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), None, (255, 255, 255)]
    tiles = picture_paths(tmp_path, len(colours))
    for path, colour in zip(tiles, colours, strict=True):
        if colour is not None:
            Image.new("RGB", (40, 20), colour).save(path, quality=95)
    sheet = tmp_path / "sheet.jpg"
    compose(tiles, (3, 2, 40, 20), sheet)
    pixels = np.asarray(Image.open(sheet).convert("RGB")).astype(int)
    width = 2 * MARGIN_PX + 3 * 40 + 2 * PADDING_PX
    height = 2 * MARGIN_PX + 2 * 20 + PADDING_PX
    assert pixels.shape == (height, width, 3)

    def centre(row: int, column: int) -> list[int]:
        y = MARGIN_PX + row * (20 + PADDING_PX) + 10
        x = MARGIN_PX + column * (40 + PADDING_PX) + 20
        return [round(v / 255) for v in pixels[y, x]]

    assert [centre(0, c) for c in range(3)] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert [centre(1, c) for c in range(3)] == [[0, 0, 0], [1, 1, 1], [0, 0, 0]]
    assert pixels[0, 0].max() < 20 and pixels[MARGIN_PX + 10, MARGIN_PX + 40 + 1].max() < 40


def test_a_percent_in_the_folder_stays_literal_for_image2(tmp_path) -> None:
    folder = tmp_path / "100% done"
    assert picture_pattern(folder) == str(tmp_path) + "/100%% done/%03d.jpg"
    assert [p.name for p in picture_paths(folder, 3)] == ["000.jpg", "001.jpg", "002.jpg"]
