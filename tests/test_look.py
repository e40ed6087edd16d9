"""The look stage's plan (pure): which references a film gets, the user's own pictures in the
shot list (checked as user files), and where the look tasks sit in the task graph."""

from __future__ import annotations

import pytest
from PIL import Image

from videofactory.errors import ShotListError
from videofactory.farm.dag import build_tasks
from videofactory.farm.params import task_references, task_shot
from videofactory.look import look_items, look_shot
from videofactory.shotlist import dump_shotlist, load_shotlist, parse_shotlist
from videofactory.vocabulary import TaskKind

pytestmark = pytest.mark.core


def plan(**fields):
    data = {
        "concept": "a journey",
        "duration": 4.0,
        "character": "a lone warrior in a red cloak",
        "setting": "a misty forest",
        "style": "painterly",
        "shots": [
            {"id": "s1", "duration": 2.0, "prompt": "the warrior walks", "seed": 1},
            {"id": "s2", "duration": 2.0, "prompt": "the warrior rests", "seed": 2},
        ],
        **fields,
    }
    return parse_shotlist({k: v for k, v in data.items() if v is not None})


def test_a_character_sheet_and_a_setting_plate_by_default():
    items = look_items(plan())
    assert [(i.name, i.role, i.picture) for i in items] == [
        ("character", "character", None),
        ("setting", "setting", None),
    ]
    sheet, plate = items
    assert sheet.prompt.startswith("character sheet of a lone warrior in a red cloak")
    assert sheet.prompt.endswith(", painterly") and "no people" in plate.prompt
    # Seeded by its own words: a change elsewhere in the plan keeps the look.
    assert look_items(plan(style="ink"))[0].seed == sheet.seed
    assert look_items(plan(character="a knight"))[0].seed != sheet.seed


def test_several_characters_and_the_three_picture_limit():
    two = look_items(plan(character="a warrior; an old sage"))
    assert [i.name for i in two] == ["character", "character-2", "setting"]
    assert two[1].description == "an old sage"
    three = look_items(plan(character="a warrior; a sage; a fox; a crow"))
    assert [i.name for i in three] == ["character", "character-2", "character-3"]
    assert look_items(plan(character="", setting="")) == []
    assert [i.name for i in look_items(plan(character=""))] == ["setting"]
    assert look_items(plan(look="off")) == []


def test_the_graph_makes_the_look_first_and_keyframes_wait_for_it():
    tasks = {t.id: t for t in build_tasks("r", plan())}
    assert [t.id for t in tasks.values()][:2] == ["r/character/look", "r/setting/look"]
    assert tasks["r/character/look"].kind is TaskKind.look
    for sid in ("s1", "s2"):
        assert tasks[f"r/{sid}/keyframe"].deps == ("r/character/look", "r/setting/look")
    off = {t.id: t for t in build_tasks("r", plan(look="off"))}
    assert not [t for t in off.values() if t.kind is TaskKind.look]
    assert off["r/s1/keyframe"].deps == ()


def test_a_look_task_binds_as_a_shot_of_its_own():
    p = plan()
    shot = task_shot(TaskKind.look, "setting", p)
    assert shot == look_shot(p, "setting") and shot.prompt.startswith("a misty forest")
    assert task_shot(TaskKind.keyframe, "s2", p).prompt == "the warrior rests"
    assert [i.name for i in task_references(TaskKind.keyframe, p)] == ["character", "setting"]
    assert task_references(TaskKind.clip, p) == []


def write_png(path, colour=(200, 30, 30)):
    Image.new("RGB", (32, 18), colour).save(path)
    return path


def test_your_own_pictures_replace_look_tasks(tmp_path):
    (tmp_path / "refs").mkdir()
    write_png(tmp_path / "refs" / "me.png")
    path = tmp_path / "shots.yaml"
    path.write_text(dump_shotlist(plan(look={"character": "refs/me.png"})))
    loaded = load_shotlist(path)
    assert loaded.look == {"character": str((tmp_path / "refs" / "me.png").resolve())}
    items = look_items(loaded)
    assert [(i.name, i.picture) for i in items] == [
        ("character", loaded.look["character"]),
        ("setting", None),
    ]
    tasks = {t.id: t for t in build_tasks("r", loaded)}
    assert "r/character/look" not in tasks  # a given picture: no task
    assert tasks["r/s1/keyframe"].deps == ("r/setting/look",)
    # A picture given where the plan describes no one still counts.
    only = plan(character="", look={"character": str(tmp_path / "refs" / "me.png")})
    assert [i.name for i in look_items(only)] == ["character", "setting"]


@pytest.mark.parametrize(
    ("look", "make", "words"),
    [
        ({"hero": "me.png"}, None, "'hero' is no look picture; name one of character"),
        ({"setting": "me.gif"}, None, "setting: 'me.gif' is not a picture file"),
        ({"setting": "missing.png"}, None, "look picture 'setting': .*missing.png does not exist"),
        ({"setting": "dir.png"}, "dir", "dir.png is a folder; give the picture file itself"),
        ({"setting": "empty.png"}, "empty", "empty.png is empty; give a PNG, JPEG or WebP"),
        ({"setting": "text.png"}, "text", "text.png is not a PNG, JPEG or WebP picture"),
    ],
)
def test_bad_look_pictures_get_one_clear_line(tmp_path, look, make, words):
    target = tmp_path / next(iter(look.values()))
    if make == "dir":
        target.mkdir()
    elif make == "empty":
        target.write_bytes(b"")
    elif make == "text":
        target.write_text("not a picture")
    path = tmp_path / "shots.yaml"
    data = plan().model_dump(mode="json")
    data["look"] = look
    import yaml

    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ShotListError, match=words):
        load_shotlist(path)


def test_a_jpeg_or_webp_with_any_suffix_case_passes(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.JPG", format="JPEG")
    Image.new("RGB", (8, 8)).save(tmp_path / "b.webp", format="WEBP")
    path = tmp_path / "shots.yaml"
    path.write_text(dump_shotlist(plan(look={"character": "a.JPG", "setting": "b.webp"})))
    assert set(load_shotlist(path).look) == {"character", "setting"}


def test_look_off_as_a_person_writes_it(tmp_path):
    assert "look:" not in dump_shotlist(plan())  # made: no key
    path = tmp_path / "shots.yaml"
    path.write_text(dump_shotlist(plan()) + "look: off\n")  # YAML 1.1 reads it as false
    assert load_shotlist(path).look == "off"
    path.write_text(dump_shotlist(plan(look="off")))
    assert load_shotlist(path).look == "off"
