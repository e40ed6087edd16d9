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
