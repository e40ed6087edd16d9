"""Fault injection seen through the protocol: history, websocket, files, request log, routes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image, UnidentifiedImageError
from typer.testing import CliRunner

from videofactory.cli import app
from videofactory.comfy.results import is_out_of_memory
from videofactory.errors import ConfigError
from videofactory.sim import SimFarm, SimFaults, SimWorkerSpec
from videofactory.sim.farm import fault_args, with_faults
from videofactory.sim.faults import parse_fault_spec

from .simkit import TEMPLATES, SimClient, load_fixture, new_id, start_sim, tiny


def keyframe(prefix: str = "kf", steps: int = 4, size: tuple[int, int] = (64, 48)) -> dict:
    """The sim keyframe template at a small size."""
    wf = json.loads((TEMPLATES / "keyframe.json").read_text())
    wf["1"]["inputs"].update(width=size[0], height=size[1], steps=steps, prompt=prefix)
    wf["2"]["inputs"]["filename_prefix"] = prefix
    return wf


def clip(length: int = 4) -> dict:
    """The sim clip template at 32x32, without an end frame (a plain clip)."""
    wf = json.loads((TEMPLATES / "clip.json").read_text())
    del wf["5"], wf["2"]["inputs"]["end_image"]
    wf["2"]["inputs"].update(width=32, height=32, length=length, steps=4)
    return wf


def last_message(entry: dict) -> tuple[str, dict]:
    event, data = entry["status"]["messages"][-1]
    return event, data


def test_fail_rate_is_a_cuda_error_in_the_render_node(servers: Any) -> None:
    sim = servers(faults=SimFaults(fail_rate=1.0))
    ws = sim.ws(new_id())
    pid = sim.submit(keyframe(steps=4), client_id=ws.client_id).json()["prompt_id"]
    entry = sim.history(pid)
    event, error = last_message(entry)
    assert (entry["status"]["status_str"], entry["status"]["completed"]) == ("error", False)
    assert event == "execution_error"
    assert (error["node_id"], error["node_type"], error["exception_type"]) == (
        "1",
        "SimTextToImage",
        "RuntimeError",
    )
    assert error["exception_message"].startswith(
        "CUDA error: an illegal memory access was encountered\n"
    )
    assert not is_out_of_memory(error["exception_type"], error["exception_message"])
    expected = next(iter(load_fixture("history_error.json").values()))
    assert set(error) == set(expected["status"]["messages"][-1][1])
    # It failed mid-way: the first half of the sampler's ticks went out, the rest never did.
    messages = ws.wait_done(pid)
    ticks = [m["data"]["value"] for m in messages if m.get("type") == "progress"]
    assert ticks == [1]


def oom_parts(message: str) -> dict[str, str]:
    """The 'name : value' lines of PyTorch's cudaMallocAsync OOM message."""
    return {
        k.strip(): v.strip() for k, v in re.findall(r"^([A-Za-z ()]+?)\s*: (.+)$", message, re.M)
    }


def test_card_smaller_than_the_model_runs_out_of_memory_like_comfyui(servers: Any) -> None:
    sim = servers(card="RTX 3060", vram_gb=12)
    assert sim.run(keyframe())["status"]["status_str"] == "success"  # 8 GB of weights fit
    entry = sim.run(clip())  # Wan 2.2 14B's weights alone are 14 GB
    event, error = last_message(entry)
    assert event == "execution_error"
    assert (error["node_id"], error["node_type"], error["executed"]) == (
        "2",
        "SimImageToVideo",
        ["1"],
    )
    assert error["exception_type"] == "torch.OutOfMemoryError"
    message = error["exception_message"]
    # torch's message, then ComfyUI's "{ex}\n{tips}".
    first, rest = message.split("\n", 1)
    assert first == "Allocation on device 0 would exceed allowed memory. (out of memory)"
    assert message.endswith(
        "\nThis error means you ran out of memory on your GPU.\n\nTIPS: If the workflow "
        "worked before you might have accidentally set the batch_size to a large number."
    )
    parts = oom_parts(rest)
    assert parts["Device limit"] == "12.00 GiB"
    assert parts["Free (according to CUDA)"] == "0 bytes"
    assert re.fullmatch(r"\d+\.\d\d GiB", parts["Currently allocated"])
    assert re.fullmatch(r"\d+\.\d\d [MG]iB", parts["Requested"])
    assert is_out_of_memory(error["exception_type"], message)
    assert entry["outputs"] == {}


def test_oom_above_gb_lowers_the_limit_and_can_change_at_runtime(servers: Any) -> None:
    sim = servers(faults=SimFaults(oom_above_gb=12))  # a 32 GB card with 12 GB usable
    assert sim.run(keyframe())["status"]["status_str"] == "success"
    _, error = last_message(sim.run(clip()))
    assert error["exception_type"] == "torch.OutOfMemoryError"
    assert oom_parts(error["exception_message"])["Device limit"] == "32.00 GiB"
    state = sim.http.post("/sim/faults", json={"oom_above_gb": 6}).json()
    assert state["oom_above_gb"] == 6
    _, error = last_message(sim.run(keyframe("kf2")))
    assert (error["node_type"], error["exception_type"]) == (
        "SimTextToImage",
        "torch.OutOfMemoryError",
    )
    sim.http.post("/sim/faults", json={"oom_above_gb": None})
    assert sim.run(clip(length=2))["status"]["status_str"] == "success"


def test_hang_stops_mid_way_until_interrupt_and_holds_vram(servers: Any) -> None:
    sim = servers(faults=SimFaults(hang_after=0))  # only the first prompt hangs
    ws = sim.ws(new_id())
    pid = sim.submit(keyframe(steps=10), client_id=ws.client_id).json()["prompt_id"]
    ws.wait_for(lambda m: m.get("type") == "progress" and m["data"]["value"] == 4)
    time.sleep(0.5)  # give a hung node the chance to move on (it must not)
    ticks = [m["data"]["value"] for m in ws.snapshot() if m.get("type") == "progress"]
    assert ticks == [1, 2, 3, 4]
    assert sim.http.get(f"/history/{pid}").json() == {}
    assert [i[1] for i in sim.http.get("/queue").json()["queue_running"]] == [pid]
    device = sim.http.get("/system_stats").json()["devices"][0]
    held = (device["vram_total"] - device["vram_free"]) / 1024**3
    assert 8.0 <= held <= 8.5  # the SDXL-class model's weights plus the CUDA context

    assert sim.http.post("/interrupt", json={"prompt_id": pid}).status_code == 200
    entry = sim.history(pid)
    event, data = last_message(entry)
    assert event == "execution_interrupted"
    assert (data["node_id"], data["node_type"]) == ("1", "SimTextToImage")
    assert sim.run(keyframe("after"))["status"]["status_str"] == "success"


def test_hang_also_ends_when_the_server_stops(tmp_path: Path) -> None:
    server, sim = start_sim(tmp_path, faults=SimFaults(hang_rate=1.0))
    try:
        ws = sim.ws(new_id())
        sim.submit(keyframe(steps=4), client_id=ws.client_id)
        ws.wait_for(lambda m: m.get("type") == "progress")
    finally:
        sim.close()
        server.stop(timeout=10)
    assert server._thread is not None and not server._thread.is_alive()


def test_dropped_websocket_is_cut_without_close_frame_and_prompt_finishes(servers: Any) -> None:
    sim = servers(faults=SimFaults(drop_ws_rate=1.0))
    ws, observer = sim.ws(new_id()), sim.ws()
    pid = sim.submit(keyframe(steps=6), client_id=ws.client_id).json()["prompt_id"]
    assert ws.ended() and observer.ended()
    for rec in (ws, observer):
        assert rec.closed is not None and rec.closed.rcvd is None  # no close frame: abnormal
    entry = sim.history(pid)
    assert entry["status"]["status_str"] == "success"
    assert last_message(entry)[0] == "execution_success"
    (image,) = entry["outputs"]["2"]["images"]
    with Image.open(sim.file(image)) as img:
        assert img.size == (64, 48)
    progress = [m["data"]["value"] for m in ws.snapshot() if m.get("type") == "progress"]
    assert progress and max(progress) < 6  # the rest was sent to nobody
    # A new connection works at once, like after a network blip.
    again = sim.ws(new_id())
    assert again.snapshot()[0]["type"] == "status"


def test_corrupt_output_is_listed_but_does_not_decode(servers: Any) -> None:
    sim = servers(faults=SimFaults(corrupt_rate=1.0))
    entry = sim.run(keyframe())
    assert entry["status"]["status_str"] == "success"
    (ref,) = entry["outputs"]["2"]["images"]
    body = sim.http.get("/view", params=ref).content
    assert len(body) >= 64 and set(body) == {0}
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(body))

    entry = sim.run(clip())
    assert entry["status"]["status_str"] == "success"
    (ref,) = entry["outputs"]["4"]["images"]
    assert sim.file(ref).stat().st_size > 0
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(sim.file(ref))).close()


def outcomes(sim: SimClient, n: int) -> list[str]:
    """Run ``n`` distinct tiny prompts; 'ok' or the failing node type of each."""
    result = []
    for i in range(n):
        entry = sim.run(tiny(i + 1))
        event, data = last_message(entry)
        result.append("ok" if event == "execution_success" else data["node_type"])
    return result


def test_faults_are_seeded_per_server_and_repeat(servers: Any) -> None:
    faults = SimFaults(fail_rate=0.5, seed=7)
    first = outcomes(servers("gpu1", faults=faults), 10)
    again = outcomes(servers("gpu1", faults=faults), 10)
    other_seed = outcomes(servers("gpu1", faults=SimFaults(fail_rate=0.5, seed=8)), 10)
    other_name = outcomes(servers("gpu2", faults=faults), 10)
    assert first == again
    assert {"ok", "SaveImage"} == set(first)  # no render node: it fails at the output node
    assert other_seed != first and other_name != first


def test_request_log_records_posts_and_every_execution(servers: Any) -> None:
    sim = servers()
    sim.run(tiny(1), prompt_id="a")
    sim.run(tiny(1), prompt_id="b")  # served from cache, still an execution
    refused = sim.submit({"1": {"class_type": "Nope", "inputs": {}}}, prompt_id="c")
    assert refused.status_code == 400
    log = sim.http.get("/sim/requests").json()
    posts = [(e["prompt_id"], e["status"]) for e in log if e["path"] == "/prompt"]
    assert posts == [("a", 200), ("b", 200), ("c", 400)]
    runs = [(e["event"], e["prompt_id"], e["status"]) for e in log if e["event"] != "request"]
    assert runs == [
        ("execution_start", "a", None),
        ("execution_end", "a", "success"),
        ("execution_start", "b", None),
        ("execution_end", "b", "success"),
    ]
    keys = {"event", "method", "path", "status", "prompt_id", "time"}
    assert all(
        set(e) == keys | ({"gpu_s"} if e["event"] == "execution_end" else set()) for e in log
    )
    assert all(e["gpu_s"] >= 0 for e in log if e["event"] == "execution_end")


def test_faults_route_reads_validates_and_resets(servers: Any) -> None:
    sim = servers()
    state = sim.http.get("/sim/faults").json()
    assert state == {**SimFaults().to_json(), "jobs": 0, "http_errors": 0}
    for body, word in [
        ({"fail_rate": 2}, "fail_rate"),
        ({"crash_after": "x"}, "crash_after"),
        ({"crash_after": -1}, "crash_after"),
        ({"nope": 1}, "nope"),
        ([1], "JSON object"),
    ]:
        r = sim.http.post("/sim/faults", json=body)
        assert r.status_code == 400 and word in r.json()["error"], r.text
    r = sim.http.post("/api/sim/faults", json={"fail_rate": 1, "seed": 3})
    assert (r.json()["fail_rate"], r.json()["seed"]) == (1.0, 3)
    assert last_message(sim.run(tiny(1)))[0] == "execution_error"
    r = sim.http.post("/sim/faults", json={"reset": True})
    assert r.json() == {**SimFaults().to_json(), "jobs": 1, "http_errors": 0}
    assert last_message(sim.run(tiny(2)))[0] == "execution_success"


def test_crash_in_process_goes_silent_mid_prompt(tmp_path: Path) -> None:
    server, sim = start_sim(tmp_path, faults=SimFaults(crash_after=1))
    try:
        assert sim.run(keyframe("one"))["status"]["status_str"] == "success"
        ws = sim.ws(new_id())
        pid = sim.submit(keyframe("two", steps=6), client_id=ws.client_id).json()["prompt_id"]
        assert ws.ended()
        assert ws.closed is not None and ws.closed.rcvd is None
        progress = [m["data"]["value"] for m in ws.snapshot() if m.get("type") == "progress"]
        assert max(progress, default=0) < 6
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{sim.url}/history/{pid}", timeout=5)
    finally:
        sim.close()
        server.stop(timeout=10)
    assert not list((tmp_path / "output").glob("two*"))


def test_crash_of_a_cached_prompt_strikes_before_its_history(tmp_path: Path) -> None:
    server, sim = start_sim(tmp_path, faults=SimFaults(crash_after=1))
    try:
        sim.run(tiny(1), prompt_id="first")
        sim.submit(tiny(1), prompt_id="cached")  # nothing to render: dies before history
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{sim.url}/history/cached", timeout=5)
            except httpx.TransportError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the server did not die")
    finally:
        sim.close()
        server.stop(timeout=10)
    assert server.server is not None and "cached" not in server.server.queue.history


def test_farm_children_take_faults_from_specs_and_at_runtime(tmp_path: Path) -> None:
    specs = [
        SimWorkerSpec("gpu0", "RTX 5090", 32, faults=SimFaults(crash_after=0, slow_start_s=1.0)),
        SimWorkerSpec("gpu1", "RTX 3090", 24, gpu_speed=0.55),
    ]
    started = time.monotonic()
    with SimFarm(specs, tmp_path) as farm:
        assert time.monotonic() - started >= 1.0  # gpu0 listened only after its slow start
        assert "slow start" in (tmp_path / "gpu0" / "sim.log").read_text()
        assert httpx.get(farm.urls["gpu0"] + "/sim/faults").json()["crash_after"] == 0
        argv = httpx.get(farm.urls["gpu1"] + "/system_stats").json()["system"]["argv"]
        assert argv[argv.index("--gpu-speed") + 1] == "0.55"

        assert farm.set_faults("gpu1", fail_rate=1)["fail_rate"] == 1.0
        with pytest.raises(ConfigError, match="fail_rate"):
            farm.set_faults("gpu1", fail_rate=5)
        with httpx.Client(base_url=farm.urls["gpu1"], timeout=10) as http:
            pid = http.post("/prompt", json={"prompt": keyframe()}).json()["prompt_id"]
            deadline = time.monotonic() + 30
            while not (entry := http.get(f"/history/{pid}").json()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert entry[pid]["status"]["messages"][-1][0] == "execution_error"

        proc = farm.processes["gpu0"]
        httpx.post(farm.urls["gpu0"] + "/prompt", json={"prompt": keyframe()}, timeout=10)
        assert proc.wait(timeout=30) == -9  # killed like the OOM killer does
        assert farm.alive() == {"gpu0": False, "gpu1": True}
        assert "fault: crashing now" in (tmp_path / "gpu0" / "sim.log").read_text()
        with pytest.raises(httpx.TransportError):
            httpx.get(farm.urls["gpu0"] + "/system_stats", timeout=5)


def test_fault_specs_for_the_command_line() -> None:
    assert parse_fault_spec("crash_after=3, fail-rate=0.1") == {
        "crash_after": "3",
        "fail_rate": "0.1",
    }
    for bad, word in [
        ("crash_after", "NAME=VALUE"),
        ("x=1", "unknown fault"),
        ("fail_rate=a", "number"),
    ]:
        with pytest.raises(ConfigError, match=word):
            parse_fault_spec(bad)
    specs = [SimWorkerSpec("gpu0", "RTX 5090", 32), SimWorkerSpec("gpu1", "RTX 3090", 24)]
    out = with_faults(specs, {"fail_rate": 0.1}, ["gpu1:crash_after=3,seed=4"])
    assert out[0].faults == SimFaults(fail_rate=0.1)
    assert out[1].faults == SimFaults(fail_rate=0.1, crash_after=3, seed=4)
    assert fault_args(out[1].faults) == [
        "--fail-rate",
        "0.1",
        "--crash-after",
        "3",
        "--fault-seed",
        "4",
    ]
    with pytest.raises(ConfigError, match="gpu0, gpu1"):
        with_faults(specs, {}, ["gpu7:crash_after=1"])


def test_command_lines_refuse_bad_faults_in_one_line() -> None:
    result = CliRunner().invoke(app, ["sim", "-n", "2", "--fault", "gpu5:crash_after=1"])
    assert result.exit_code == 1
    assert "WORKER:NAME=VALUE" in result.output and "gpu0, gpu1" in result.output
    result = CliRunner().invoke(app, ["sim", "--hang-rate", "1.5"])
    assert result.exit_code == 1 and "hang_rate must be between 0 and 1" in result.output
    assert "Traceback" not in result.output
    child = subprocess.run(
        [sys.executable, "-m", "videofactory.sim", "--port", "0", "--crash-after", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 2 and child.stdout == ""
    assert "crash_after must be a whole number, not 'soon'" in child.stderr
    assert "Traceback" not in child.stderr
