"""The simulator's look painting (pure): character sheets, and edits that take the character
from the sheet among their pictures and the palette from the setting plate."""

from __future__ import annotations

import numpy as np
import pytest

from videofactory.look import look_items
from videofactory.shotlist import parse_shotlist
from videofactory.sim.lookpaint import is_sheet_prompt, paint_edit, paint_sheet, read_sheet
from videofactory.sim.render import COLOURS, paint_keyframe, paint_scene

pytestmark = pytest.mark.core

W, H = 160, 90
PROMPT = "a lone warrior walks through a misty forest"


def test_a_sheet_is_read_back_and_a_landscape_is_no_sheet():
    sheet = paint_sheet("character sheet of a knight in a red cloak", 1, W, H)
    assert is_sheet_prompt("Character sheet of a knight") and not is_sheet_prompt(PROMPT)
    colour = read_sheet(sheet)
    assert colour is not None and np.abs(np.subtract(colour, COLOURS["red"])).max() < 24
    assert read_sheet(paint_keyframe("a misty forest at dawn", 2, W, H)) is None


def test_an_edit_dresses_the_character_as_the_sheet_shows():
    plan = parse_shotlist({
        "concept": "x", "duration": 1, "character": "a lone warrior in a blue cloak",
        "setting": "a snowy valley", "shots": [{"id": "a", "duration": 1, "prompt": PROMPT}],
    })  # fmt: skip
    sheet_item, plate_item = look_items(plan)
    sheet = paint_sheet(sheet_item.prompt, sheet_item.seed, W, H)
    plate = paint_keyframe(plate_item.prompt, plate_item.seed, W, H)
    plain = paint_scene(PROMPT, 5, W, H)
    left, top, right, bottom = (int(v) for v in plain.subject)
    edit = paint_edit(PROMPT, 5, W, H, [plate, sheet])  # the sheet is found by what it shows
    clothes = edit[(top + bottom) // 2 + 2, (left + right) // 2]
    assert np.abs(clothes.astype(int) - COLOURS["blue"]).max() < 40
    assert np.abs(plain.picture[(top + bottom) // 2 + 2, (left + right) // 2].astype(int)
                  - COLOURS["blue"]).max() > 40  # fmt: skip
    # The landscape moved toward the plate's colours; with no pictures, a plain keyframe.
    assert not np.array_equal(edit, paint_edit(PROMPT, 5, W, H, [sheet]))
    assert np.array_equal(paint_edit(PROMPT, 5, W, H, []), plain.picture)
