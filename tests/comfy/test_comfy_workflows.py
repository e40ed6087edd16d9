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
    assert template_names("keyframe") == ["flux/keyframe", "sdxl/keyframe", "sim/keyframe"]
    assert template_names("clip") == ["ltxv/clip", "sim/clip", "wan22/clip"]
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
