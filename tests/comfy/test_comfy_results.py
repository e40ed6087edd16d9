"""Reading ComfyUI's answers (the captured fixtures): verdicts, errors, output refs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videofactory.comfy.results import node_error_lines, parse_history_entry, rejection
from videofactory.errors import ExecutionFailed, Interrupted, OutOfMemory

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "comfyui"


def _entry(name):
    data = json.loads((FIX / name).read_text())
    ((pid, entry),) = data.items()
    return pid, entry


def test_video_success_lists_mp4_under_images():
    pid, entry = _entry("history_video.json")
    result = parse_history_entry(pid, entry, "http://x")
    (ref,) = result.outputs
    assert ref.filename == "clip_00001_.mp4" and ref.key == "images" and ref.animated
    assert not result.fully_cached


def test_cached_run_is_recognised():
    pid, entry = _entry("history_cached.json")
    assert parse_history_entry(pid, entry, "http://x").fully_cached


def test_media_multi_every_ref():
    pid, entry = _entry("history_media_multi.json")
    result = parse_history_entry(pid, entry, "http://x")
    suffixes = {r.suffix for r in result.outputs}
    assert {".webm", ".webp", ".png", ".flac"} <= suffixes


def test_error_and_interrupt():
    pid, entry = _entry("history_error.json")
    with pytest.raises(ExecutionFailed, match="LoadImage.*UnidentifiedImageError") as info:
        parse_history_entry(pid, entry, "http://x")
    assert not isinstance(info.value, OutOfMemory) and info.value.node_id == "1"
    pid, entry = _entry("history_interrupted.json")
    with pytest.raises(Interrupted, match="ImageInvert"):
        parse_history_entry(pid, entry, "http://x")


def test_out_of_memory_recognised():
    pid, entry = _entry("history_error.json")
    msg = entry["status"]["messages"][-1][1]
    msg["exception_type"] = "torch.OutOfMemoryError"
    msg["exception_message"] = "CUDA out of memory. Tried to allocate 2.00 GiB"
    with pytest.raises(OutOfMemory):
        parse_history_entry(pid, entry, "http://x")


#: The captured 400 answers with a JSON body (a 403 and a 500 come as plain text).
JSON_REJECTIONS = sorted(
    p.name for p in FIX.glob("prompt_error_*.json") if "error" in json.loads(p.read_text())
)


def test_the_captured_rejections_are_json_but_two():
    assert len(JSON_REJECTIONS) == len(list(FIX.glob("prompt_error_*.json"))) - 2 >= 10


@pytest.mark.parametrize("name", JSON_REJECTIONS)
def test_every_rejection_renders_lines(name):
    body = json.loads((FIX / name).read_text())
    err = rejection(body, None, "http://x")
    assert body["error"]["message"] in str(err) and err.error_type == body["error"]["type"]
    if body["node_errors"]:
        assert len(err.problems) == sum(len(n["errors"]) for n in body["node_errors"].values())


def test_node_error_line_has_node_title_input_reason():
    body = json.loads((FIX / "prompt_error_type_mismatch.json").read_text())
    wf = {"2": {"class_type": "SaveImage", "_meta": {"title": "Save it"}}}
    (line,) = node_error_lines(body["node_errors"], wf)
    assert line.startswith("node 2 (Save it, SaveImage) input 'images': Return type mismatch")
