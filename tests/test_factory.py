"""factory's own helpers that need no farm: the user's pictures kept in a run."""

from __future__ import annotations

import pytest
from PIL import Image

from videofactory.errors import ShotListError
from videofactory.factory import kept_pictures
from videofactory.shotlist import parse_shotlist


def shotlist(tmp_path, **extra):
    return parse_shotlist(
        {
            "concept": "a fox in the snow",
            "duration": 2.0,
            "width": 128,
            "height": 72,
            "shots": [
                {"id": "s1", "duration": 1.0, "prompt": "a fox", **extra},
                {"id": "s2", "duration": 1.0, "prompt": "the fox sleeps"},
            ],
        }
    )


def picture(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 9), colour).save(path)
    return path


def test_the_users_pictures_are_copied_into_the_run_and_named_there(tmp_path):
    ref = picture(tmp_path / "mine" / "fox.JPG", "orange")
    sheet = picture(tmp_path / "mine" / "sheet.png", "purple")
    plan = shotlist(tmp_path, reference_image=str(ref)).model_copy(
        update={"look": {"character": str(sheet)}}
    )
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)

    kept = kept_pictures(plan, run)

    assert kept.shots[0].reference_image == str((run / "inputs" / "s1-reference.jpg").resolve())
    assert kept.shots[1].reference_image is None
    assert kept.look == {"character": str((run / "look" / "character.png").resolve())}
    assert (run / "inputs" / "s1-reference.jpg").read_bytes() == ref.read_bytes()
    assert (run / "look" / "character.png").read_bytes() == sheet.read_bytes()
    # Kept once: a shot list already pointing into the run (a resumed run) stays as it is.
    assert kept_pictures(kept, run) == kept
    # Nothing to keep: the same shot list.
    assert kept_pictures(shotlist(tmp_path), run) == shotlist(tmp_path)


def test_a_picture_gone_before_it_is_kept_is_one_clear_error(tmp_path):
    ref = picture(tmp_path / "fox.png", "orange")
    plan = shotlist(tmp_path, reference_image=str(ref))
    ref.unlink()
    with pytest.raises(ShotListError, match=r"cannot keep .*fox\.png in the run"):
        kept_pictures(plan, tmp_path / "run")
