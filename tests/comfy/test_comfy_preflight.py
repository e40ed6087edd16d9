"""Preflight against /object_info (pure): every problem kind, one line each, with choices."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from videofactory.comfy.preflight import Problem, check_graph, check_workflow
from videofactory.comfy.workflow import Workflow, load_template, template_names

from .conftest import FIXTURES, fixture_workflow

SUBSET = json.loads((FIXTURES / "object_info_subset.json").read_text())
REAL = json.loads((Path(__file__).parent / "data" / "object_info_templates.json").read_text())

#: Fixture workflow -> (node, input, kind) of the one problem preflight must find.
EXPECTED = {
    "invalid_unknown_class.json": ("1", None, "unknown_node"),
    "invalid_missing_class_type.json": ("1", None, "unknown_node"),
    "invalid_no_outputs.json": (None, None, "no_output"),
    "invalid_bad_link.json": ("2", "images", "bad_link"),
    "invalid_int_node_id_link.json": ("2", "images", "bad_link"),
    "invalid_bad_output_index.json": ("2", "images", "bad_link"),
    "invalid_missing_input.json": ("1", "height", "missing_input"),
    "invalid_value_range.json": ("1", "width", "out_of_range"),
    "invalid_invalid_type.json": ("1", "width", "bad_value"),
    "invalid_value_not_in_list.json": ("2", "upscale_method", "not_in_list"),
    "invalid_load_image_missing_file.json": ("1", "image", "not_in_list"),
    "invalid_type_mismatch.json": ("2", "images", "bad_link"),
    "unvalidated_combo_saveVideo_webm.json": ("4", "format", "not_in_list"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_invalid_fixture_gives_its_problem(name):
    problems = check_graph(fixture_workflow(name), SUBSET)
    assert [(p.node_id, p.input, p.kind) for p in problems] == [EXPECTED[name]]
    line = str(problems[0])
    assert "\n" not in line
    if problems[0].node_id:
        assert line.startswith(f"node {problems[0].node_id} (")


@pytest.mark.parametrize(
    "name", ["image_empty_to_save.json", "video_frames_to_mp4.json", "media_multi_outputs.json"]
)
def test_valid_fixtures_pass(name):
    assert check_graph(fixture_workflow(name), SUBSET) == []


def test_lines_name_title_input_and_choices():
    (p,) = check_graph(fixture_workflow("invalid_value_not_in_list.json"), SUBSET)
    assert p.choices == ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
    assert str(p) == (
        "node 2 (ImageScale) input 'upscale_method': value 'bogus' is not one of the choices; "
        "it has: nearest-exact, bilinear, area, bicubic, lanczos"
    )
    assert p.to_json()["line"] == str(p)


@pytest.mark.parametrize("name", [n for n in template_names() if not n.startswith("sim")])
def test_real_templates_on_a_real_catalogue_only_miss_model_files(name):
    set_name, kind = name.split("/")
    wf = load_template(kind, set_name)
    problems = check_workflow(wf, REAL)
    assert problems and {p.kind for p in problems} == {"missing_model"}
    for p in problems:
        assert "is not on this server (put it in models/" in str(p)
    # With those files installed (listed in the loaders' choices) nothing is left.
    installed = copy.deepcopy(REAL)
    for p in problems:
        cls = wf.graph[p.node_id]["class_type"]
        spec = installed[cls]["input"]["required"][p.input]
        options = spec[0] if isinstance(spec[0], list) else spec[1]["options"]
        options.append(wf.graph[p.node_id]["inputs"][p.input])
    assert check_workflow(wf, installed) == []


def test_uploaded_inputs_are_not_held_to_the_current_file_list():
    wf = load_template("clip", "wan22")
    installed = _with_models(REAL, wf)
    assert check_workflow(wf, installed, {"input_image": "vf/new_upload.png"}) == []
    # ... but an unbound LoadImage naming a file the server lacks is a problem.
    graph = copy.deepcopy(dict(wf.graph))
    graph["99"] = {"class_type": "LoadImage", "inputs": {"image": "gone.png"}}
    graph["98"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["99", 0], "filename_prefix": "p"},
    }
    problems = check_workflow(Workflow(wf.name, graph, wf.bindings), installed)
    assert [(p.node_id, p.kind) for p in problems] == [("99", "not_in_list")]


def test_bound_values_are_checked():
    wf = load_template("keyframe", "sdxl")
    installed = _with_models(REAL, wf)
    (p,) = check_workflow(wf, installed, {"width": 0})
    assert (p.node_id, p.input, p.kind) == ("5", "width", "out_of_range")


def test_boolean_string_and_literal_for_a_link():
    graph = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "2": {
            "class_type": "SaveAnimatedWEBP",
            "inputs": {
                "images": ["1", 0],
                "filename_prefix": "x",
                "fps": 6.0,
                "lossless": "false",
                "quality": 80,
                "method": "default",
            },
        },
        "3": {"class_type": "VAEDecode", "inputs": {"samples": "latent", "vae": ["1", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "y"}},
    }
    problems = {(p.node_id, p.input): p for p in check_graph(graph, SUBSET)}
    assert "reads as True" in str(problems[("2", "lossless")])
    assert "needs a link from a node that outputs LATENT" in str(problems[("3", "samples")])
    assert "gets IMAGE" in str(problems[("3", "vae")]) and "needs VAE" in str(
        problems[("3", "vae")]
    )


def test_problem_without_node_is_one_plain_line():
    assert str(Problem("workflow", "cannot read x.json")) == "cannot read x.json"


def _with_models(info, wf):
    installed = copy.deepcopy(info)
    for p in check_workflow(wf, info):
        cls = wf.graph[p.node_id]["class_type"]
        spec = installed[cls]["input"]["required"][p.input]
        options = spec[0] if isinstance(spec[0], list) else spec[1]["options"]
        options.append(wf.graph[p.node_id]["inputs"][p.input])
    return installed
