"""Queue control, interrupt, partial runs, uploads, /view and file naming on a real server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from videofactory.sim import OutOfMemoryError, SimHooks

from .simkit import TEMPLATES, SimClient, load_fixture, new_id, png_bytes, start_sim, workflow


def slow_prompt(steps: int = 200) -> dict[str, Any]:
    """A keyframe that takes ``steps`` ticks (slow with the speed seam)."""
    return {
        "1": {
            "class_type": "SimTextToImage",
            "inputs": {
                "prompt": "slow",
                "negative": "",
                "seed": 1,
                "width": 64,
                "height": 48,
                "steps": steps,
            },
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "slow"}},
    }


def small_prompt(prefix: str, color: int = 1118481) -> dict[str, Any]:
    """A fast image prompt with its own prefix."""
    wf = workflow("image_empty_to_save.json")
    wf["1"]["inputs"]["color"] = color
    wf["2"]["inputs"]["filename_prefix"] = prefix
    return wf


@pytest.fixture
def slow_sim(tmp_path: Path) -> Iterator[SimClient]:
    """A server whose generative nodes take 60 ms per 64x48 step (speed seam)."""
    server, client = start_sim(tmp_path, speed=20.0)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def test_interrupt_running_and_delete_pending(slow_sim: SimClient) -> None:
    sim = slow_sim
    ws = sim.ws(new_id())
    p1 = sim.submit(slow_prompt(), client_id=ws.client_id).json()["prompt_id"]
    p2 = sim.submit(small_prompt("factory/pending1"), client_id=ws.client_id).json()["prompt_id"]
    p3 = sim.submit(small_prompt("factory/pending2", 2236962), client_id=ws.client_id).json()[
        "prompt_id"
    ]
    ws.wait_for(lambda m: m.get("type") == "progress" and m["data"]["prompt_id"] == p1)

    assert sim.http.get("/prompt").json() == load_fixture("prompt_get_busy.json")
    busy = sim.http.get("/system_stats").json()["devices"][0]
    assert busy["vram_free"] < busy["vram_total"] - 2 * 1024**3  # a prompt holds VRAM
    queue = sim.http.get("/queue").json()
    assert [item[1] for item in queue["queue_running"]] == [p1]
    assert sorted(item[1] for item in queue["queue_pending"]) == sorted([p2, p3])
    assert all(len(item) == 5 for item in queue["queue_running"] + queue["queue_pending"])
    assert sim.http.get(f"/history/{p1}").json() == {}  # running: not in history yet

    r = sim.http.post("/queue", json={"delete": [p2]})
    assert (r.status_code, r.text) == (200, "")
    assert [i[1] for i in sim.http.get("/queue").json()["queue_pending"]] == [p3]
    p4 = sim.submit(small_prompt("factory/front", 3355443), front=True).json()["prompt_id"]

    # Naming a prompt that is not running interrupts nothing.
    assert sim.http.post("/interrupt", json={"prompt_id": p3}).status_code == 200
    ticks = len([m for m in ws.snapshot() if m.get("type") == "progress"])
    ws.wait_for(lambda m: m.get("type") == "progress" and m["data"]["value"] > ticks + 1)

    started = time.monotonic()
    r = sim.http.post("/interrupt", json={"prompt_id": p1})
    assert (r.status_code, r.text) == (200, "")
    entry = sim.history(p1)
    assert time.monotonic() - started < 2.0  # honoured at the next progress tick
    assert (entry["status"]["status_str"], entry["status"]["completed"]) == ("error", False)
    last_event, last = entry["status"]["messages"][-1]
    expected = next(iter(load_fixture("history_interrupted.json").values()))
    assert last_event == "execution_interrupted"
    assert set(last) == set(expected["status"]["messages"][-1][1])
    assert (last["node_id"], last["node_type"], last["executed"]) == ("1", "SimTextToImage", [])
    assert entry["outputs"] == {} and entry["meta"] == {}

    sim.history(p3)
    idle = sim.http.get("/system_stats").json()["devices"][0]
    assert idle["vram_free"] > busy["vram_free"]
    assert sim.http.get(f"/history/{p2}").json() == {}  # deleted: never reaches history
    order = list(sim.http.get("/history").json())
    assert order == [p1, p4, p3]  # front jumped ahead of p3
    assert list(sim.http.get("/history", params={"max_items": 2}).json()) == [p4, p3]

    messages = ws.wait_done(p3)
    kinds = [m["type"] for m in messages if "type" in m]
    i = kinds.index("execution_interrupted")
    assert kinds[i : i + 4] == ["execution_interrupted", "status", "executing", "status"]
    progress = [m for m in messages if m.get("type") == "progress"]
    assert {tuple(sorted(m["data"])) for m in progress} == {("max", "node", "prompt_id", "value")}
    state = [
        m for m in messages if m.get("type") == "progress_state" and m["data"]["prompt_id"] == p1
    ][-1]["data"]["nodes"]["1"]
    assert state["state"] == "running" and state["max"] == 200


def test_stale_interrupt_is_cleared(sim: SimClient) -> None:
    assert sim.http.post("/interrupt", json={}).status_code == 200  # idle: sets a stale flag
    entry = sim.run(small_prompt("factory/after"))
    assert entry["status"]["status_str"] == "success"


def test_partial_outputs_and_targets(sim: SimClient) -> None:
    r = sim.submit(workflow("partial_one_bad_output.json"))
    body = r.json()
    assert r.status_code == 200 and list(body["node_errors"]) == ["3"]
    entry = sim.history(body["prompt_id"])
    assert entry["prompt"][4] == ["2"] and list(entry["outputs"]) == ["2"]

    entry = sim.run(workflow("media_multi_outputs.json"), partial_execution_targets=["7"])
    assert entry["prompt"][4] == ["7"] and list(entry["outputs"]) == ["7"]


def test_upload_rules(sim: SimClient) -> None:
    first = png_bytes()
    r = sim.upload("ref.png", first, subfolder="factory", overwrite="true", type="input")
    assert r.json() == load_fixture("upload_image.json")
    r = sim.upload("ref.png", png_bytes(colour=(1, 2, 3)), subfolder="factory")
    assert r.json() == load_fixture("upload_image_renamed.json")
    r = sim.upload("ref.png", first, subfolder="factory")
    assert r.json() == load_fixture("upload_image_duplicate.json")
    r = sim.upload("ref.png", png_bytes(colour=(1, 2, 3)), subfolder="factory")
    assert r.json()["name"] == "ref (1).png"  # same bytes as the renamed one
    assert sorted(p.name for p in (sim.root / "input" / "factory").iterdir()) == [
        "ref (1).png",
        "ref.png",
    ]
    # Any file type; other folders; bad requests.
    assert sim.upload("clip.mp4", b"\x00\x00\x00\x18ftypisom", type="temp").json() == {
        "name": "clip.mp4",
        "subfolder": "",
        "type": "temp",
    }
    r = sim.upload("x.png", first, type="bogus")
    assert r.status_code == 500
    r = sim.http.post("/upload/image", data={"subfolder": "factory"}, files={"other": ("a", b"1")})
    assert (r.status_code, r.text) == (400, "")
    assert sim.upload("x.png", first, subfolder="../escape").status_code == 400
    # The uploaded file feeds LoadImage.
    entry = sim.run(workflow("upload_roundtrip.json"))
    assert entry["status"]["status_str"] == "success"
    assert entry["outputs"]["3"]["images"][0]["filename"] == "roundtrip_00001_.png"
    info = sim.http.get("/object_info/LoadImage").json()["LoadImage"]
    assert info["input"]["required"]["image"][0] == ["example.png"]  # top-level images only


def test_view(sim: SimClient) -> None:
    entry = sim.run(workflow("media_multi_outputs.json"))
    ref = entry["outputs"]["3"]["images"][0]
    expected = load_fixture("view_responses.json")
    r = sim.http.get("/view", params=ref)
    assert (r.status_code, r.headers["content-type"]) == (200, expected["webm"]["content_type"])
    audio = entry["outputs"]["7"]["audio"][0]
    assert sim.http.get("/api/view", params=audio).headers["content-type"] == "audio/flac"
    png = sim.run(workflow("image_empty_to_save.json"))["outputs"]["2"]["images"][0]
    r = sim.http.get("/view", params=png)
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == expected["png"]["content_disposition"]
    assert r.content[:8].hex() == expected["png"]["magic"]
    r = sim.http.get("/view", params=png, headers={"Range": "bytes=0-7"})
    assert (r.status_code, len(r.content)) == (206, 8)
    r = sim.http.get("/view", params={**png, "preview": "jpeg;80"})
    assert r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    annotated = {"filename": f"{png['filename']} [output]", "subfolder": "factory"}
    assert sim.http.get("/view", params=annotated).status_code == 200
    for params, status in [
        ({"filename": "missing.png"}, 404),
        ({}, 404),
        ({"filename": ""}, 400),
        ({"filename": "/etc/passwd"}, 400),
        ({"filename": "../x.png"}, 400),
        ({"filename": png["filename"], "type": "bogus"}, 400),
        ({"filename": png["filename"], "subfolder": "../.."}, 403),
    ]:
        r = sim.http.get("/view", params=params)
        assert (r.status_code, r.text) == (status, ""), params


def test_save_naming_rules(sim: SimClient) -> None:
    prompt = small_prompt("a/b/%width%x%height%_shot")
    ref = sim.run(prompt)["outputs"]["2"]["images"][0]
    assert (ref["subfolder"], ref["filename"]) == ("a/b", "64x48_shot_00001_.png")
    prompt["1"]["inputs"]["color"] = 5  # not cached: a new file with the next counter
    assert sim.run(prompt)["outputs"]["2"]["images"][0]["filename"] == "64x48_shot_00002_.png"
    batch = small_prompt("batch/img_%batch_num%")
    batch["1"]["inputs"]["batch_size"] = 2
    refs = sim.run(batch)["outputs"]["2"]["images"]
    assert [r["filename"] for r in refs] == ["img_0_00001_.png", "img_1_00002_.png"]
    entry = sim.run(small_prompt("../../escape"))
    error = entry["status"]["messages"][-1][1]
    assert entry["status"]["messages"][-1][0] == "execution_error"
    assert "Saving image outside the output folder is not allowed" in error["exception_message"]
    assert error["exception_type"] == "Exception"


def test_model_nodes_listed_but_not_runnable(sim: SimClient) -> None:
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl.safetensors"}},
        "2": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1},
        },
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["1", 1]}},
        "4": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "seed": 0,
                "steps": 1,
                "cfg": 1.0,
                "sampler_name": "euler",
                "scheduler": "simple",
                "positive": ["3", 0],
                "negative": ["3", 0],
                "latent_image": ["2", 0],
                "denoise": 1.0,
            },
        },
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}},
    }
    r = sim.submit(prompt)
    assert r.status_code == 400
    (error,) = r.json()["node_errors"]["1"]["errors"]
    assert error["type"] == "value_not_in_list"
    assert error["details"] == "ckpt_name: 'sd_xl.safetensors' not in []"


def test_history_delete_clear_free_and_request_log(sim: SimClient) -> None:
    prompt = workflow("image_empty_to_save.json")
    a = sim.run(prompt, prompt_id="a")
    assert a["status"]["status_str"] == "success"
    assert sim.http.post("/free", json={"unload_models": True, "free_memory": True}).text == ""
    time.sleep(0.1)  # the worker drops its cache between prompts
    b = sim.run(prompt, prompt_id="b")
    assert b["status"]["messages"][1][1]["nodes"] == []
    assert b["outputs"]["2"]["images"][0]["filename"] == "image_00002_.png"
    assert sim.http.post("/history", json={"delete": ["a"]}).text == ""
    assert list(sim.http.get("/history").json()) == ["b"]
    assert sim.http.post("/api/history", json={"clear": True}).status_code == 200
    assert sim.http.get("/history").json() == {}
    log = sim.http.get("/sim/requests").json()
    posts = [e for e in log if e["method"] == "POST" and e["path"] == "/prompt"]
    assert [e["prompt_id"] for e in posts] == ["a", "b"]
    assert all(e["status"] == 200 for e in posts)


class OomOnVideo(SimHooks):
    """Fault seam example: the video node runs out of memory."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        self.seen.append((node_id, class_type))
        if class_type == "SimImageToVideo":
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_fault_seam_reports_oom_like_a_gpu(tmp_path: Path) -> None:
    hooks = OomOnVideo()
    server, sim = start_sim(tmp_path, hooks=hooks)
    try:
        clip = json.loads((TEMPLATES / "clip.json").read_text())
        del clip["5"], clip["2"]["inputs"]["end_image"]  # no end frame: a plain clip
        clip["2"]["inputs"].update(width=32, height=32, length=2)
        entry = sim.run(clip)
    finally:
        sim.close()
        server.stop()
    event, error = entry["status"]["messages"][-1]
    assert event == "execution_error"
    assert (error["node_id"], error["exception_type"]) == ("2", "torch.OutOfMemoryError")
    assert "ran out of memory on your GPU" in error["exception_message"]
    assert hooks.seen == [("1", "LoadImage"), ("2", "SimImageToVideo")]
