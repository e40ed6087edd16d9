"""Shot lists: validation names the shot and the field; YAML round trips."""

from __future__ import annotations

import pytest
import yaml

from videofactory.errors import ShotListError
from videofactory.planning import plan_rules
from videofactory.shotlist import aspect_of, dump_shotlist, load_shotlist, parse_shotlist

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


def _data(**over):
    data = {
        "concept": "test",
        "duration": 6.0,
        "shots": [
            {"id": "a", "duration": 2.0, "prompt": "one"},
            {"id": "b", "duration": 4.0, "prompt": "two"},
        ],
    }
    data.update(over)
    return data


def test_round_trip(tmp_path):
    sl = plan_rules("warrior in mystical forest", 30)
    path = tmp_path / "shots.yaml"
    path.write_text(dump_shotlist(sl), encoding="utf-8")
    assert load_shotlist(path) == sl


def test_duplicate_ids_refused():
    data = _data()
    data["shots"][1]["id"] = "a"
    with pytest.raises(ShotListError, match="'a' is used twice"):
        parse_shotlist(data)


def test_durations_must_sum():
    with pytest.raises(ShotListError, match="sum to 6.000 s but the video is 7.000 s"):
        parse_shotlist(_data(duration=7.0))


def test_unknown_field_names_shot_and_field():
    data = _data()
    data["shots"][1]["camera_move"] = "pan"
    with pytest.raises(ShotListError, match=r"shot 'b', field 'camera_move': unknown field"):
        parse_shotlist(data)


def test_wrong_type_names_shot_and_field():
    data = _data()
    data["shots"][0]["duration"] = "long"
    with pytest.raises(ShotListError, match=r"shot 'a', field 'duration'"):
        parse_shotlist(data)


def test_first_shot_cannot_continue():
    data = _data()
    data["shots"][0]["continuity"] = "continue"
    with pytest.raises(ShotListError, match="first shot cannot 'continue'"):
        parse_shotlist(data)


def test_last_shot_cannot_flow_and_others_can():
    data = _data()
    data["shots"][0]["continuity"] = "flow"
    assert parse_shotlist(data).shots[0].continuity == "flow"
    data["shots"][1]["continuity"] = "flow"
    with pytest.raises(ShotListError) as err:
        parse_shotlist(data)
    assert str(err.value) == (
        "shot list: shot 'b': the last shot cannot 'flow' (no next shot to end on); set its "
        "continuity to 'cut'"
    )


def test_not_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("shots: [unclosed", encoding="utf-8")
    with pytest.raises(ShotListError, match="not valid YAML"):
        load_shotlist(path)


def test_aspect_must_match_the_resolution():
    with pytest.raises(ShotListError, match=r"aspect 16:9 does not match 1080x1920 \(9:16\)"):
        parse_shotlist(_data(width=1080, height=1920))
    assert parse_shotlist(_data(aspect="9:16", width=1080, height=1920)).aspect == "9:16"
    assert parse_shotlist(_data(aspect="16:9", width=854, height=480)).width == 854  # ~16:9
    with pytest.raises(ShotListError, match="field 'aspect'|aspect: String should match"):
        parse_shotlist(_data(aspect="wide"))


def test_aspect_of():
    assert aspect_of(1280, 720) == "16:9" and aspect_of(720, 1280) == "9:16"
    assert aspect_of(1024, 768) == "4:3" and aspect_of(500, 300) == "5:3"


def test_blank_prompt_and_bad_picture_are_named():
    data = _data()
    data["shots"][1]["prompt"] = "   "
    with pytest.raises(ShotListError, match="shot 'b', field 'prompt': the prompt is blank"):
        parse_shotlist(data)
    data = _data()
    data["shots"][0]["reference_image"] = "ref.gif"
    with pytest.raises(ShotListError, match="shot 'a', field 'reference_image': 'ref.gif' is not"):
        parse_shotlist(data)


def test_reference_images_are_relative_to_the_file(tmp_path):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    data = _data()
    data["shots"][0]["reference_image"] = "refs/a.png"
    path = tmp_path / "shots.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    sl = load_shotlist(path)
    assert sl.shots[0].reference_image == str((tmp_path / "refs" / "a.png").resolve())
    data["shots"][1]["reference_image"] = "refs/missing.png"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ShotListError, match="shot 'b', field 'reference_image': .*does not exist"):
        load_shotlist(path)


def test_whole_list_problems_read_without_a_field_prefix():
    with pytest.raises(ShotListError) as info:
        parse_shotlist(_data(duration=7.0), source="shots.yaml")
    assert str(info.value).startswith("shots.yaml: shot durations sum to")


def test_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(ShotListError, match="expected a mapping"):
        parse_shotlist(["a", "b"])
    with pytest.raises(ShotListError, match="cannot read shot list"):
        load_shotlist(tmp_path / "none.yaml")
