"""Workflows from users and farm files: formats, bindings, specs per kind and per worker."""

from __future__ import annotations

import json

import pytest

from videofactory.comfy.workflow import load_spec, load_template, load_workflow, template_names
from videofactory.config import WorkflowSpec, load_farm
from videofactory.errors import ConfigError, WorkflowError
from videofactory.vocabulary import TaskKind

from .conftest import fixture_workflow


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_bundled_template_sets():
    assert template_names("keyframe") == [
        "flux/keyframe",
        "flux_kontext/keyframe",
        "qwen_edit/keyframe",
        "sdxl/keyframe",
        "sim/keyframe",
        "sim_edit/keyframe",
    ]
    # A look picture is made by a set's keyframe template (no set has a look.json of its own).
    assert template_names("look") == template_names("keyframe")
    assert load_template("look", "flux").graph == load_template("keyframe", "flux").graph
    assert template_names("clip") == ["ltxv/clip", "sim/clip", "wan22/clip", "wan22_flf/clip"]
    assert template_names("hero") == ["sim/hero", "upscale/hero"]


def test_multi_target_binding_writes_every_target():
    wf = load_template("clip", "ltxv")
    graph = wf.bind({"fps": 30.0, "frames": 121, "camera": "pan_left"}, strict=False)
    assert graph["69"]["inputs"]["frame_rate"] == 30.0 and graph["79"]["inputs"]["fps"] == 30.0
    assert graph["77"]["inputs"]["length"] == 121
    with pytest.raises(WorkflowError, match="no binding for camera"):
        wf.bind({"camera": "pan_left"})


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"nodes": [], "links": [], "version": 0.4}), r"Export \(API\)"),
        (json.dumps([1, 2]), "not an API-format workflow"),
        (json.dumps({"1": {"inputs": {}}}), "node '1' has no class_type"),
    ],
)
def test_bad_workflow_files(tmp_path, content, match):
    with pytest.raises(WorkflowError, match=match):
        load_workflow(write(tmp_path, "w.json", content))


def test_broken_links_refused_at_load(tmp_path):
    with pytest.raises(WorkflowError, match="links to node 99, which the workflow lacks"):
        load_workflow(write(tmp_path, "a.json", fixture_workflow("invalid_bad_link.json")))
    with pytest.raises(WorkflowError, match="integer node id"):
        load_workflow(write(tmp_path, "b.json", fixture_workflow("invalid_int_node_id_link.json")))


def test_bindings_file_errors(tmp_path):
    path = write(tmp_path, "w.json", fixture_workflow("video_frames_to_mp4.json"))
    cases = {
        "seed: {node: '2', input: sed}\n": "names input 'sed' of node 2 .*has image, seed",
        "seed: {node: '42', input: seed}\n": "names node 42, which the workflow lacks",
        "seed: {title: Nope, input: seed}\n": "title 'Nope', which no node has",
        "seed: 3\n": "must look like",
        "- a\n": "must be a mapping",
        "seed: [\n": "not valid YAML",
    }
    for text, match in cases.items():
        write(tmp_path, "w.bindings.yaml", text)
        with pytest.raises(WorkflowError, match=match):
            load_workflow(path)
    other = write(tmp_path, "other.yaml", "fps: [{node: '3', input: fps}]\n")
    wf = load_workflow(path, other)
    assert wf.origin == str(other) and list(wf.bindings) == ["fps"]


def test_specs_by_file_template_and_mapping(tmp_path):
    write(tmp_path, "mine.json", fixture_workflow("video_frames_to_mp4.json"))
    assert load_spec("flux", "keyframe").name == "flux/keyframe"
    assert load_spec("wan22/clip", "clip").name == "wan22/clip"
    assert load_spec("mine.json", "clip", base_dir=tmp_path).origin == "detected"
    spec = WorkflowSpec(file="mine.json")
    assert load_spec(spec, "clip", base_dir=tmp_path).name == "mine"
    with pytest.raises(WorkflowError, match="is a keyframe workflow, not a clip one"):
        load_spec("flux/keyframe", "clip")
    with pytest.raises(WorkflowError, match="no bundled template nope/clip; there are"):
        load_spec("nope", "clip")


def test_farm_file_names_workflows_per_worker_and_kind(tmp_path):
    (tmp_path / "wf").mkdir()
    write(tmp_path / "wf", "mine.json", fixture_workflow("video_frames_to_mp4.json"))
    farm = write(
        tmp_path,
        "factory.yaml",
        "workers:\n"
        "  - id: a\n    url: http://127.0.0.1:1\n"
        "    workflows: {keyframe: flux, clip: wf/mine.json,"
        " hero: {file: wf/mine.json, bindings: wf/b.yaml}}\n"
        "  - id: b\n    url: http://127.0.0.1:2\n",
    )
    config = load_farm(farm)
    a, b = config.workers
    assert a.workflow_spec(TaskKind.keyframe) == WorkflowSpec(template="flux")
    assert a.workflows[TaskKind.clip] == str(tmp_path / "wf" / "mine.json")  # anchored
    hero = a.workflow_spec(TaskKind.hero)
    assert hero.file == str(tmp_path / "wf" / "mine.json")
    assert hero.bindings == str(tmp_path / "wf" / "b.yaml")
    assert b.workflow_spec(TaskKind.keyframe) is None
    write(tmp_path, "bad.yaml", "workers:\n  - {id: a, url: 'http://x', workflows: {clip: {}}}\n")
    with pytest.raises(ConfigError, match="either file"):
        load_farm(tmp_path / "bad.yaml")


#: What ComfyUI's latent makers build for a requested size: each side rounded down to the
#: node's step (``EmptyLatentImage``: ``width // 8``; ``LTXVImgToVideo``: ``width // 32``).
MADE_BY = {"EmptyLatentImage": 8, "EmptySD3LatentImage": 8, "WanImageToVideo": 8,
           "LTXVImgToVideo": 32}  # fmt: skip


@pytest.mark.parametrize("name", template_names())
def test_every_bundled_template_makes_a_vertical_frame_that_covers_it(name):
    """A 9:16 plan (720x1280; its hero pass 1080x1920) binds its size into every bundled
    template, no node keeps a landscape size of its own, and what the model makes covers the
    frame in the frame's shape: the assembly crops a few pixels, never pads."""
    from videofactory.assembly.reframe import needs_reframe

    set_name, kind = name.split("/")
    wf = load_template(kind, set_name)
    frame = (1080, 1920) if kind == "hero" else (720, 1280)
    width, height = frame if kind == "hero" else wf.frame_size(*frame)
    graph = wf.bind({"width": width, "height": height}, strict=False)
    sized = [
        (nid, node) for nid, node in graph.items() if {"width", "height"} <= set(node["inputs"])
    ]
    assert sized, f"{name} has no node that sets the picture's size"
    for nid, node in sized:
        inputs = node["inputs"]
        assert (inputs["width"], inputs["height"]) == (width, height), f"node {nid} not bound"
        step = MADE_BY.get(node["class_type"], 1)
        made = (inputs["width"] // step * step, inputs["height"] // step * step)
        assert made[0] >= frame[0] and made[1] >= frame[1], (name, made)
        assert not needs_reframe(*made, *frame), (name, made)
    if set_name == "ltxv":
        assert (width, height) == (736, 1280)  # 720 is no multiple of 32: rounded up
    elif kind != "hero":
        assert (width, height) == (720, 1280)
    assert wf.frame_size(1280, 720) == ((1280, 736) if set_name == "ltxv" else (1280, 720))


def test_a_size_rule_is_declared_or_inferred(tmp_path):
    ltxv = load_template("clip", "ltxv")
    assert ltxv.size_step == 32 and "steps of 32" in "\n".join(ltxv.describe())
    graph = json.loads(json.dumps(ltxv.graph))
    detected = load_workflow(write(tmp_path, "ltx.json", graph))  # no bindings file
    assert detected.origin == "detected" and detected.size_step == 32
    assert load_template("keyframe", "sim").size_step == 2
    path = write(tmp_path, "w.json", fixture_workflow("video_frames_to_mp4.json"))
    write(
        tmp_path, "w.bindings.yaml", "size_rule: {multiple: 64}\nseed: {node: '2', input: seed}\n"
    )
    assert load_workflow(path).size_step == 64 and load_workflow(path).frame_size(720, 1280) == (
        768,
        1280,
    )
    for bad in ("size_rule: 32\n", "size_rule: {multiple: 0}\n", "size_rule: {step: 8}\n"):
        write(tmp_path, "w.bindings.yaml", bad)
        with pytest.raises(WorkflowError, match="size_rule must look like"):
            load_workflow(path)
