"""Workflows and bindings: templates load, bind, and bad input is refused clearly."""

from __future__ import annotations

import json

import pytest

from videofactory.comfy.workflow import load_template, load_workflow
from videofactory.errors import WorkflowError

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


@pytest.mark.parametrize("kind", ["keyframe", "clip", "hero"])
def test_bundled_templates_bind(kind):
    wf = load_template(kind)
    params = {name: "x" for name in wf.bindings}
    graph = wf.bind(params)
    for b in wf.bindings.values():
        assert graph[b.node]["inputs"][b.input] == "x"
    assert wf.graph != graph  # bind copies


def test_unknown_parameter_refused():
    with pytest.raises(WorkflowError, match="no binding for bogus"):
        load_template("keyframe").bind({"bogus": 1})


def test_ui_format_refused_with_how_to(tmp_path):
    path = tmp_path / "ui.json"
    path.write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    with pytest.raises(WorkflowError, match="Export \\(API\\)"):
        load_workflow(path)


def test_malformed_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(WorkflowError, match="not valid JSON"):
        load_workflow(path)


def test_bindings_by_title_and_bad_input(tmp_path):
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64}, "_meta": {"title": "Size"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    path = tmp_path / "w.json"
    path.write_text(json.dumps(graph))
    (tmp_path / "w.bindings.yaml").write_text("width: {title: Size, input: width}\n")
    wf = load_workflow(path)
    assert wf.bind({"width": 128})["1"]["inputs"]["width"] == 128
    (tmp_path / "w.bindings.yaml").write_text("width: {node: '1', input: wdth}\n")
    with pytest.raises(WorkflowError, match="input 'wdth' of node 1 .*has width"):
        load_workflow(path)
    (tmp_path / "w.bindings.yaml").write_text("width: {node: '9', input: width}\n")
    with pytest.raises(WorkflowError, match="node 9"):
        load_workflow(path)


@pytest.mark.parametrize("template_set", ["wan22_flf", "sim"])
def test_an_unbound_optional_end_frame_leaves_its_loader_and_link_out(template_set):
    wf = load_template("clip", template_set)
    assert wf.optional == {"end_image"}
    end, _ = wf.bindings["end_image"].targets[0]
    with_end = wf.bind({"input_image": "a.png", "end_image": "b.png"}, strict=False)
    consumer = next(n for n in with_end.values() if n["inputs"].get("end_image") == [end, 0])
    assert with_end[end]["inputs"]["image"] == "b.png"
    plain = wf.bind({"input_image": "a.png"}, strict=False)
    assert end not in plain
    assert not any(v == [end, 0] for n in plain.values() for v in n["inputs"].values())
    assert "end_image" not in plain[next(k for k, n in with_end.items() if n is consumer)]["inputs"]
    assert end in wf.graph  # the template itself is untouched
    assert "end_image is optional: its node is left out when nothing is bound" in wf.describe()


def test_optional_must_name_bindings(tmp_path):
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    }
    path = tmp_path / "w.json"
    path.write_text(json.dumps(graph))
    (tmp_path / "w.bindings.yaml").write_text(
        "input_image: {node: '1', input: image}\noptional: [end_image]\n"
    )
    with pytest.raises(WorkflowError, match="optional names end_image, which it does not bind"):
        load_workflow(path)
    (tmp_path / "w.bindings.yaml").write_text(
        "input_image: {node: '1', input: image}\noptional: 3\n"
    )
    with pytest.raises(WorkflowError, match="optional must be a list of binding names"):
        load_workflow(path)
