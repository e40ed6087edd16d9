"""Contract: every captured ComfyUI answer is reproduced (status, types, messages, key sets)."""

from __future__ import annotations

from typing import Any

import pytest

from .simkit import FIXTURES, SimClient, load_fixture, png_bytes, workflow

INDEX = load_fixture("INDEX.json")

PROMPT_CASES = sorted(
    (name, entry)
    for name, entry in INDEX.items()
    if entry.get("path") == "/prompt"
    and entry.get("method") == "POST"
    and isinstance(entry.get("request"), str)
)


def _prepare(sim: SimClient, request: str) -> None:
    if request.endswith("runtime_error_corrupt_image.json"):
        assert sim.upload("broken.png", b"this is not an image").status_code == 200
    if request.endswith("upload_roundtrip.json"):
        assert sim.upload("ref.png", png_bytes(), subfolder="factory").status_code == 200


def assert_same_error(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Same type/message/details and extra_info keys; tracebacks are lists of strings."""
    assert actual["type"] == expected["type"]
    assert actual["message"] == expected["message"]
    assert actual["details"] == expected["details"]
    assert set(actual["extra_info"]) == set(expected["extra_info"])
    for key, value in expected["extra_info"].items():
        if key == "traceback":
            assert isinstance(actual["extra_info"][key], list)
            assert all(isinstance(line, str) for line in actual["extra_info"][key])
        else:
            assert actual["extra_info"][key] == value, key


def assert_same_node_errors(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Same failing nodes, classes, dependent outputs and errors."""
    assert set(actual) == set(expected)
    for node_id, exp in expected.items():
        got = actual[node_id]
        assert got["class_type"] == exp["class_type"]
        assert sorted(got["dependent_outputs"]) == sorted(exp["dependent_outputs"])
        assert len(got["errors"]) == len(exp["errors"])
        for g, e in zip(got["errors"], exp["errors"], strict=True):
            assert_same_error(g, e)


@pytest.mark.parametrize(("fixture", "entry"), PROMPT_CASES, ids=[c[0] for c in PROMPT_CASES])
def test_prompt_answer_matches_fixture(sim: SimClient, fixture: str, entry: dict[str, Any]) -> None:
    _prepare(sim, entry["request"])
    r = sim.submit(load_fixture(entry["request"]), client_id="contract")
    expected = load_fixture(fixture)
    assert r.status_code == entry["status"], r.text
    body = r.json()
    if r.status_code == 400:
        assert set(body) == {"error", "node_errors"}
        assert_same_error(body["error"], expected["error"])
    else:
        assert set(body) == {"prompt_id", "number", "node_errors"}
        sim.history(body["prompt_id"])
    assert_same_node_errors(body["node_errors"], expected["node_errors"])


def test_no_prompt_malformed_json_and_origin(sim: SimClient) -> None:
    r = sim.http.post("/prompt", json={"client_id": "abc"})
    assert r.status_code == 400
    assert r.json() == load_fixture("prompt_error_no_prompt.json")

    malformed = load_fixture("prompt_error_malformed_json.json")
    for path in ("/prompt", "/queue", "/free", "/history", "/api/prompt"):
        r = sim.http.post(path, content=b"{not json")
        assert (r.status_code, r.text) == (malformed["status"], malformed["body_text"]), path

    r = sim.http.post(
        "/prompt",
        json={"prompt": workflow("image_empty_to_save.json")},
        headers={"Origin": "http://evil.example"},
    )
    assert (r.status_code, r.text) == (403, "")
    # Interrupt tolerates an empty body.
    assert (sim.http.post("/interrupt").status_code, sim.http.post("/interrupt").text) == (200, "")


def test_number_counts_every_parsed_post(sim: SimClient) -> None:
    sim.http.post("/prompt", json={"client_id": "x"})  # 400, still counted
    sim.submit(workflow("invalid_value_range.json"))  # 400, counted
    r = sim.submit(workflow("image_empty_to_save.json"))
    assert r.json()["number"] == 2
    own = sim.submit(workflow("image_empty_to_save.json"), prompt_id="mine-1")
    assert own.json()["prompt_id"] == "mine-1" and own.json()["number"] == 3
    sim.history("mine-1")


def test_read_only_routes_match_fixtures(sim: SimClient) -> None:
    for prefix in ("", "/api"):
        assert sim.http.get(prefix + "/features").json() == load_fixture("features.json")
        assert sim.http.get(prefix + "/prompt").json() == load_fixture("prompt_get_idle.json")
        assert sim.http.get(prefix + "/queue").json() == load_fixture("queue_idle.json")
        assert sim.http.get(prefix + "/models").json() == load_fixture("models.json")
        assert sim.http.get(prefix + "/models/checkpoints").json() == load_fixture(
            "models_checkpoints.json"
        )
        assert sim.http.get(prefix + "/embeddings").json() == load_fixture("embeddings.json")
        assert sim.http.get(prefix + "/object_info/NoSuchNode").json() == load_fixture(
            "object_info_unknown.json"
        )
        r = sim.http.get(prefix + "/models/not_a_folder")
        assert (r.status_code, r.text) == (404, "")
    assert sim.http.get("/history/unknown").json() == load_fixture("history_unknown_id.json")


def test_system_stats_shape_and_simulated_gpu(sim: SimClient) -> None:
    from videofactory.constants import SIM_TAG

    stats = sim.http.get("/api/system_stats").json()
    expected = load_fixture("system_stats.json")
    assert set(stats) == set(expected)
    assert set(stats["system"]) == set(expected["system"])
    assert stats["system"]["comfyui_version"] == "0.3.64"
    assert isinstance(stats["system"]["argv"], list)
    (device,) = stats["devices"]
    assert set(device) == set(expected["devices"][0])
    assert SIM_TAG in device["name"] and device["name"].startswith("cuda:0 NVIDIA GeForce RTX 5090")
    assert (device["type"], device["index"]) == ("cuda", 0)
    assert device["vram_total"] == device["torch_vram_total"] == 32 * 1024**3
    assert 0 < device["vram_free"] < device["vram_total"]


def test_object_info_reuses_real_definitions(sim: SimClient) -> None:
    info = sim.http.get("/object_info").json()
    real = load_fixture("object_info_subset.json")
    for name, definition in real.items():
        got = info[name]
        if name == "LoadImage":  # lists this server's input/ (a stock ComfyUI has example.png)
            assert got["input"]["required"]["image"] == definition["input"]["required"]["image"]
        assert got == definition, name
    required = {
        "ImageScaleBy",
        "ImageFromBatch",
        "ImageCrop",
        "SaveAudioOpus",
        "AudioConcat",
        "TrimAudioDuration",
        "SimTextToImage",
        "SimImageToVideo",
        "SimSharpen",
    }
    assert required <= set(info)
    for name in required:
        assert set(info[name]) >= set(real["ImageScale"]), name
        assert info[name]["input_order"]["required"] == list(info[name]["input"]["required"])
    one = sim.http.get("/object_info/SimImageToVideo").json()
    assert list(one) == ["SimImageToVideo"]
    assert one["SimImageToVideo"]["input"]["required"]["camera"][0][0] == "static"


@pytest.mark.parametrize(
    "name",
    [
        "history_image.json",
        "history_video.json",
        "history_media_multi.json",
        "history_error.json",
        "history_error_unvalidated_combo.json",
        "history_partial.json",
    ],
)
def test_history_entry_matches_fixture(sim: SimClient, name: str) -> None:
    expected = next(iter(load_fixture(name).values()))
    prompt = expected["prompt"][2]
    if name == "history_error.json":
        sim.upload("broken.png", b"not a png")
    body = {"client_id": "hist"} if "client_id" in expected["prompt"][3] else {}
    got = sim.run(prompt, **body)
    assert list(got) == ["prompt", "outputs", "status", "meta"]
    assert len(got["prompt"]) == 5 and got["prompt"][2] == prompt
    assert got["prompt"][3] == expected["prompt"][3] | ({"client_id": "hist"} if body else {})
    assert sorted(got["prompt"][4]) == sorted(expected["prompt"][4])
    assert set(got["outputs"]) == set(expected["outputs"])
    for node_id, ui in expected["outputs"].items():
        assert set(got["outputs"][node_id]) == set(ui)
        for key, refs in ui.items():
            if key == "animated" or key == "text":
                assert got["outputs"][node_id][key] == refs
                continue
            for g, e in zip(got["outputs"][node_id][key], refs, strict=True):
                assert (g["subfolder"], g["type"]) == (e["subfolder"], e["type"])
                assert g["filename"].rsplit(".", 1)[1] == e["filename"].rsplit(".", 1)[1]
                if e["type"] == "output":
                    assert g["filename"] == e["filename"]
                assert sim.file(g).stat().st_size > 0
    assert got["meta"] == expected["meta"]
    status, exp_status = got["status"], expected["status"]
    assert (status["status_str"], status["completed"]) == (
        exp_status["status_str"],
        exp_status["completed"],
    )
    assert [m[0] for m in status["messages"]] == [m[0] for m in exp_status["messages"]]
    for (_, g), (_, e) in zip(status["messages"], exp_status["messages"], strict=True):
        assert set(g) == set(e)
    last, exp_last = status["messages"][-1][1], exp_status["messages"][-1][1]
    if "exception_type" in exp_last:
        assert last["exception_type"] == exp_last["exception_type"]
        assert last["node_id"] == exp_last["node_id"] and last["node_type"] == exp_last["node_type"]
        assert sorted(last["executed"]) == sorted(exp_last["executed"])
        assert sorted(last["current_outputs"]) == sorted(exp_last["current_outputs"])
        assert set(last["current_inputs"]) == set(exp_last["current_inputs"])
        if name == "history_error_unvalidated_combo.json":
            assert last["exception_message"] == exp_last["exception_message"]
        else:
            assert last["exception_message"].startswith("cannot identify image file")


def test_fixture_copy_is_complete() -> None:
    # The fixtures are copied from shared/fixtures/comfyui; every INDEX entry must be present.
    for name in INDEX:
        assert (FIXTURES / name).exists(), name


def test_other_validation_errors_follow_the_doc(sim: SimClient) -> None:
    # An upstream node that cannot be validated: reported on that node, as "inner".
    prompt = {
        "1": {"class_type": "ImageInvert", "inputs": {"image": ["99", 0]}},
        "2": {
            "class_type": "ImageScale",
            "inputs": {
                "image": ["1", 0],
                "upscale_method": "area",
                "width": 99999,
                "height": 8,
                "crop": "disabled",
            },
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0, 1]}},
    }
    body = sim.submit(prompt).json()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    errors = {nid: [e["type"] for e in ne["errors"]] for nid, ne in body["node_errors"].items()}
    assert errors == {
        "1": ["exception_during_inner_validation"],
        "2": ["value_bigger_than_max"],
        "4": ["bad_linked_input"],
    }
    inner = body["node_errors"]["1"]["errors"][0]
    assert set(inner["extra_info"]) == {
        "input_name",
        "input_config",
        "exception_message",
        "exception_type",
        "traceback",
        "linked_node",
    }
    assert (inner["details"], inner["extra_info"]["exception_type"]) == ("'99'", "KeyError")
    big = body["node_errors"]["2"]["errors"][0]
    assert (big["message"], big["details"]) == ("Value 99999 bigger than max of 16384", "width")
    # ComfyUI's quirk: nodes that failed earlier also collect later failing outputs.
    assert body["node_errors"]["4"]["dependent_outputs"] == ["4"]
    assert sorted(body["node_errors"]["1"]["dependent_outputs"]) == ["3", "4"]


def test_literals_are_coerced_into_the_queued_prompt(sim: SimClient) -> None:
    prompt = workflow("media_multi_outputs.json")
    prompt["1"]["inputs"]["width"] = "96"
    prompt["4"]["inputs"]["lossless"] = "false"  # Python truthiness, as ComfyUI does
    entry = sim.run(prompt, partial_execution_targets=["4"])
    queued = entry["prompt"][2]
    assert queued["1"]["inputs"]["width"] == 96 and queued["4"]["inputs"]["lossless"] is True
