"""Binding detection on the captured fixture workflows and on every shipped template."""

from __future__ import annotations

import json

import pytest

from videofactory.comfy.detect import detect_bindings
from videofactory.comfy.workflow import load_template, load_workflow, template_names

from .conftest import FIXTURES, fixture_workflow

#: The parameters detection is expected to find (extras like camera/scale need a file).
STANDARD = {
    "prompt",
    "negative",
    "seed",
    "width",
    "height",
    "frames",
    "fps",
    "input_image",
    "input_video",
    "end_image",
    "output_prefix",
}


def targets(det, name):
    return [(t.node, t.input) for t in det.targets.get(name, [])]


@pytest.mark.parametrize("name", template_names())
def test_detection_agrees_with_every_shipped_bindings_file(name):
    set_name, kind = name.split("/")
    wf = load_template(kind, set_name)
    det = detect_bindings(wf.graph)
    for param, binding in wf.bindings.items():
        if param in STANDARD:
            assert targets(det, param) == list(binding.targets), (name, param, det.lines)
    assert det.lines  # it says what it found


def test_real_templates_bind_everything_a_task_needs():
    need = {
        "keyframe": {"prompt", "negative", "seed", "width", "height", "output_prefix"},
        "clip": {"input_image", "prompt", "seed", "width", "height", "frames", "fps"},
        "hero": {"input_video", "width", "height", "output_prefix"},
    }
    for name in template_names():
        set_name, kind = name.split("/")
        if set_name != "sim":
            assert need[kind] <= set(load_template(kind, set_name).bindings), name


def test_fixture_video_workflow():
    det = detect_bindings(fixture_workflow("video_frames_to_mp4.json"))
    assert targets(det, "width") == [("1", "width")] and targets(det, "batch") == [
        ("1", "batch_size")
    ]
    assert targets(det, "fps") == [("3", "fps")]
    assert targets(det, "output_prefix") == [("4", "filename_prefix")]
    assert targets(det, "seed") == [("2", "seed")]  # no sampler: the noise node's seed
    assert any(line.startswith("prompt: not detected") for line in det.lines)


def test_fixture_media_workflow_binds_every_save_and_fps():
    det = detect_bindings(fixture_workflow("media_multi_outputs.json"))
    prefixes = targets(det, "output_prefix")
    graph = fixture_workflow("media_multi_outputs.json")
    saving = [n for n, v in graph.items() if "filename_prefix" in v["inputs"]]
    assert [n for n, _ in prefixes] == saving
    assert len(targets(det, "fps")) == 3  # SaveWEBM, SaveAnimatedWEBP, SaveAnimatedPNG


def test_fixture_upload_workflow_binds_the_loader():
    det = detect_bindings(fixture_workflow("upload_roundtrip.json"))
    assert targets(det, "input_image") == [("1", "image")]
    assert targets(det, "width") == [("2", "width")]  # the resize sets the result's size


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "workflows").glob("*.json")))
def test_detection_never_fails_on_any_fixture(name):
    graph = json.loads((FIXTURES / "workflows" / name).read_text())
    det = detect_bindings(graph)
    for ts in det.targets.values():
        for t in ts:
            assert t.input in graph[t.node]["inputs"]


def test_text_traced_through_guidance_and_primitives():
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m"}},
        "2": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a cat"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": ["2", 0], "clip": ["1", 1]}},
        "4": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["3", 0], "guidance": 3}},
        "5": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["3", 0]}},
        "6": {"class_type": "PrimitiveInt", "inputs": {"value": 5}},
        "7": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 512, "height": ["6", 0]}},
        "8": {
            "class_type": "KSampler",
            "inputs": {"seed": 1, "positive": ["4", 0], "negative": ["5", 0]},
        },
        "9": {"class_type": "KSampler", "inputs": {"seed": 2, "positive": ["4", 0]}},
    }
    det = detect_bindings(graph)
    assert targets(det, "prompt") == [("2", "value")]  # the primitive feeding the encoder
    assert targets(det, "height") == [("6", "value")]
    assert targets(det, "seed") == [("8", "seed"), ("9", "seed")]  # both samplers


def test_detected_bindings_are_used_when_there_is_no_bindings_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(fixture_workflow("video_frames_to_mp4.json")))
    wf = load_workflow(path)
    assert wf.origin == "detected" and wf.notes
    graph = wf.bind({"width": 320, "fps": 8.0, "output_prefix": "x/y", "seed": 9})
    assert graph["1"]["inputs"]["width"] == 320 and graph["3"]["inputs"]["fps"] == 8.0


@pytest.mark.parametrize("template_set", ["wan22_flf", "sim"])
def test_an_exported_first_last_frame_workflow_gets_an_optional_end_frame(tmp_path, template_set):
    path = tmp_path / "flf_api.json"
    path.write_text(json.dumps(load_template("clip", template_set).graph))
    wf = load_workflow(path)
    shipped = load_template("clip", template_set)
    assert wf.bindings["end_image"] == shipped.bindings["end_image"]
    assert wf.bindings["input_image"] == shipped.bindings["input_image"]
    assert wf.optional == {"end_image"}
    assert not any("LoadImage nodes" in line for line in wf.notes)  # no doubt about which
    end = shipped.bindings["end_image"].node
    assert end not in wf.bind({"input_image": "k.png"}, strict=False)
