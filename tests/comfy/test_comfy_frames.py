"""Frame rules (pure): the counts a video model makes, and what a shot asks a clip workflow for."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from videofactory.comfy.frames import (
    ANY_COUNT,
    FrameRule,
    clip_timing,
    frames_for,
    infer_frame_rule,
    parse_frame_rule,
)
from videofactory.comfy.workflow import load_template, load_workflow
from videofactory.errors import WorkflowError

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

WAN = FrameRule(4, 1, 1, 16.0)
LTXV = FrameRule(8, 1, 9, 24.0)


def comfy_makes(length: int, step: int) -> int:
    """The frames a ComfyUI Wan/LTX node really makes for ``length``: it builds
    ``((length - 1) // step) + 1`` latent frames, which decode to ``(latent - 1) * step + 1``."""
    return ((length - 1) // step) * step + 1


@pytest.mark.parametrize(
    ("duration", "fps", "rule", "frames"),
    [
        (5.0, 16, WAN, 81),  # 80 frames needed: 81 is the next 4n+1
        (4.8, 16, WAN, 77),  # 76.8 -> 77 = 4 x 19 + 1 (4.8125 s)
        (2.0, 16, WAN, 33),
        (7.3, 16, WAN, 117),  # 116.8 -> 117 = 4 x 29 + 1
        (5.0, 24, LTXV, 121),  # 120 frames needed: 121 is the next 8n+1
        (4.8, 24, LTXV, 121),  # 115.2 -> 121 (113 would be 4.708 s: too short)
        (7.3, 24, LTXV, 177),
        (5.0, 24, ANY_COUNT, 120),  # an exact multiple stays as it is
        (7.3, 24, ANY_COUNT, 176),  # 175.2 -> 176, never 175 (shorter than the shot)
        (0.1, 30, ANY_COUNT, 3),  # 0.1 x 30 is 3.0000000000000004 in floats: still 3
    ],
)
def test_frames_for_is_the_smallest_allowed_count_that_lasts_the_shot(
    duration, fps, rule, frames
) -> None:
    got = frames_for(duration, fps, rule)
    assert got == frames
    assert rule.accepts(got)
    assert got / fps >= duration - 1e-9
    smaller = [n for n in range(1, got) if rule.accepts(n)]
    assert not smaller or smaller[-1] / fps < duration


def test_exact_multiples_of_the_rule_are_kept() -> None:
    # 81 frames at 16 fps is 5.0625 s: a shot of exactly that asks for 81, not 85.
    assert frames_for(81 / 16, 16, WAN) == 81
    assert frames_for(97 / 24, 24, LTXV) == 97
    assert frames_for(1 / 16, 16, WAN) == 1


def test_very_short_shots_get_the_models_smallest_clip() -> None:
    assert frames_for(0.01, 16, WAN) == 1  # Wan makes one frame (a still)
    assert frames_for(0.01, 24, LTXV) == 9  # LTXVImgToVideo's length is at least 9
    assert frames_for(0.2, 24, LTXV) == 9
    assert frames_for(0.01, 24, ANY_COUNT) == 1
    assert frames_for(0.01, 24, FrameRule(4)) == 4  # 4n: 0 frames is no clip
    assert FrameRule(6, 1, 7).at_least(1) == 7  # Mochi: 6n+1, at least 7


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_frames_for_refuses_what_is_not_a_length(bad) -> None:
    with pytest.raises(ValueError):
        frames_for(bad, 24)
    with pytest.raises(ValueError):
        frames_for(1.0, bad)


def test_every_allowed_count_and_only_those() -> None:
    for rule in (WAN, LTXV, FrameRule(6, 1, 7), FrameRule(4), ANY_COUNT):
        made = [rule.at_least(n) for n in range(1, 300)]
        assert all(rule.accepts(m) for m in made)
        assert all(m >= n for n, m in zip(range(1, 300), made, strict=True))
        # nothing allowed is skipped between a request and its answer
        assert all(
            not rule.accepts(k)
            for n, m in zip(range(1, 300), made, strict=True)
            for k in range(n, m)
        )
    for length in range(9, 200):
        assert WAN.accepts(length) == (comfy_makes(length, 4) == length)
        assert LTXV.accepts(length) == (comfy_makes(length, 8) == length)


def test_clip_timing_uses_the_models_rate_or_the_shot_lists() -> None:
    wan = clip_timing(4.8, 24, WAN)
    assert (wan.frames, wan.fps) == (77, 16.0) and wan.duration_s == pytest.approx(4.8125)
    sim = clip_timing(4.8, 24, ANY_COUNT)
    assert (sim.frames, sim.fps) == (116, 24.0)
    assert clip_timing(5.0, 30, ANY_COUNT).frames == 150


@pytest.mark.parametrize("rule", [WAN, LTXV, ANY_COUNT], ids=["wan", "ltxv", "any"])
@pytest.mark.parametrize("scale", [0.75, 0.5625, 0.5])
@pytest.mark.parametrize("duration", [2.0, 4.8, 5.0, 7.3])
def test_a_shrunk_clip_still_follows_the_rule_and_lasts_the_shot(rule, scale, duration) -> None:
    full = clip_timing(duration, 24, rule)
    small = clip_timing(duration, 24, rule, scale)
    assert rule.accepts(small.frames)
    assert small.frames < full.frames  # fewer frames: less memory
    assert small.fps == round((rule.fps or 24) * scale)  # a whole rate, as CreateVideo wants
    assert small.duration_s >= duration  # still no freeze on the last frame
    assert small.frames == frames_for(duration, small.fps, rule)


def test_clip_timing_refuses_a_scale_outside_0_1() -> None:
    for bad in (0.0, 1.5, -0.5):
        with pytest.raises(ValueError):
            clip_timing(5.0, 24, WAN, bad)


def test_rules_read_as_people_write_them() -> None:
    assert str(WAN) == "4n+1 frames at 16 fps"
    assert str(LTXV) == "8n+1 frames (at least 9) at 24 fps"
    assert str(ANY_COUNT) == "n frames at the shot list's fps"
    assert str(FrameRule(4)) == "4n frames at the shot list's fps"


def test_parse_declared_rules() -> None:
    rule = parse_frame_rule({"frames": "4n+1", "fps": 16}, "w.yaml")
    assert rule == WAN and rule.source == "declared in w.yaml"
    assert parse_frame_rule({"frames": "8n + 1", "min": 9, "fps": 24.0}, "w.yaml") == LTXV
    assert parse_frame_rule({"frames": "n"}, "w.yaml") == ANY_COUNT
    assert parse_frame_rule({"frames": "1n+0"}, "w.yaml") == ANY_COUNT
    assert parse_frame_rule({}, "w.yaml") == ANY_COUNT


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("4n+1", "must look like"),
        ({"frames": "4k+1"}, "'4k\\+1' is not a count rule"),
        ({"frames": "0n+1"}, "is not a count rule"),
        ({"frames": "4n-1"}, "is not a count rule"),
        ({"frames": "4n+1", "fps": 0}, "fps must be the model's frame rate"),
        ({"frames": "4n+1", "fps": 500}, "fps must be the model's frame rate"),
        ({"frames": "4n+1", "fps": "16"}, "fps must be the model's frame rate"),
        ({"frames": "8n+1", "min": 0}, "min must be a whole number"),
        ({"frames": "8n+1", "min": 2.5}, "min must be a whole number"),
        ({"frames": "4n+1", "rate": 16}, "unknown: rate"),
    ],
)
def test_bad_declared_rules_say_how_to_write_one(raw, match) -> None:
    with pytest.raises(WorkflowError, match=match) as info:
        parse_frame_rule(raw, "mine.bindings.yaml")
    assert str(info.value).startswith("mine.bindings.yaml: frame_rule")
    assert "\n" not in str(info.value)


def _graph(latent: str, length_input: str = "length", fps: object = 16.0) -> dict:
    return {
        "1": {"class_type": latent, "inputs": {length_input: 81, "width": 832, "height": 480}},
        "2": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": fps}},
    }


def test_rules_are_inferred_from_the_core_video_nodes_and_the_workflows_rate() -> None:
    wan = infer_frame_rule(_graph("WanImageToVideo"), [("1", "length")], [("2", "fps")])
    assert wan == WAN
    assert "WanImageToVideo node 1" in wan.source and "node 2 fps" in wan.source
    ltx = infer_frame_rule(_graph("LTXVImgToVideo", fps=24), [("1", "length")], [("2", "fps")])
    assert ltx == LTXV
    mochi = infer_frame_rule(_graph("EmptyMochiLatentVideo", fps=["9", 0]), [("1", "length")], [])
    assert mochi == FrameRule(6, 1, 7, None)  # a linked rate is not a value: the shot list's
    other = infer_frame_rule(_graph("SimImageToVideo", fps=24), [("1", "length")], [("2", "fps")])
    assert other == FrameRule(1, 0, 1, 24.0)


def test_a_user_workflow_declares_its_rule_in_its_bindings_file(tmp_path) -> None:
    graph = _graph("WanImageToVideo", fps=24.0)
    (tmp_path / "wan.json").write_text(json.dumps(graph))
    (tmp_path / "wan.bindings.yaml").write_text(
        "frames: {node: '1', input: length}\nfps: {node: '2', input: fps}\n"
        "frame_rule: {frames: 4n+1, fps: 16}\n"
    )
    wf = load_workflow(tmp_path / "wan.json")
    assert wf.frame_rule == WAN and "frame_rule" not in wf.bindings
    assert wf.describe()[-1] == (
        f"frame rule: 4n+1 frames at 16 fps (declared in {tmp_path / 'wan.bindings.yaml'})"
    )
    timing = wf.clip_timing(4.8, 24)
    bound = wf.bind({"frames": timing.frames, "fps": timing.fps})
    assert bound["1"]["inputs"]["length"] == 77 and bound["2"]["inputs"]["fps"] == 16.0

    (tmp_path / "wan.bindings.yaml").write_text(
        "frames: {node: '1', input: length}\nframe_rule: {frames: 4x}\n"
    )
    with pytest.raises(WorkflowError, match="wan.bindings.yaml: frame_rule"):
        load_workflow(tmp_path / "wan.json")


def test_a_detected_workflow_infers_its_rule_and_says_so(tmp_path) -> None:
    (tmp_path / "wan.json").write_text(json.dumps(_graph("WanImageToVideo")))
    wf = load_workflow(tmp_path / "wan.json")
    assert wf.origin == "detected" and wf.frame_rule == WAN
    assert any(
        line.startswith("frame rule: 4n+1 frames at 16 fps [inferred: WanImageToVideo node 1")
        for line in wf.notes
    )
    # 4.8 s at Wan's 16 fps: 77 frames, which Wan makes as asked (80 would come out as 77)
    assert wf.clip_timing(4.8, 24).frames == 77


def test_the_workflows_readme_shows_what_the_templates_ask_for() -> None:
    readme = Path(__file__).resolve().parents[2] / "videofactory" / "workflows" / "README.md"
    rows = [line for line in readme.read_text().splitlines() if line.startswith("| `")]
    table = {row.split("`")[1]: row for row in rows if "/clip` | `{frames" in row}
    assert sorted(table) == ["ltxv/clip", "sim/clip", "wan22/clip", "wan22_flf/clip"]
    for name, row in table.items():
        wf = load_template("clip", name.split("/")[0])
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert parse_frame_rule(yaml.safe_load(cells[1].strip("`")), "") == wf.frame_rule
        counts = [int(c.split()[0]) for c in cells[3:]]
        assert counts == [wf.clip_timing(d, 24).frames for d in (2.0, 4.8, 5.0, 7.3)], name
