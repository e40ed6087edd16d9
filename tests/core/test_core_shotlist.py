"""Shot lists: validation names the shot and the field; YAML round trips."""

from __future__ import annotations

import pytest

from videofactory.errors import ShotListError
from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist, load_shotlist, parse_shotlist


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


def test_not_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("shots: [unclosed", encoding="utf-8")
    with pytest.raises(ShotListError, match="not valid YAML"):
        load_shotlist(path)
