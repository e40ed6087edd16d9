"""The simulated GPU: modelled VRAM needs, modelled GPU time and its scale, per card speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from videofactory.sim.gpu import format_size, gpu_seconds, prompt_vram_gb
from videofactory.sim.options import estimate_vram_gb

from .simkit import TEMPLATES, SimClient, new_id, start_sim, workflow


def template(name: str) -> dict[str, Any]:
    """A bundled sim workflow."""
    return json.loads((TEMPLATES / f"{name}.json").read_text())


def test_reference_costs_and_scaling() -> None:
    assert gpu_seconds("SimTextToImage", 1280 * 720) == pytest.approx(6.0)
    assert gpu_seconds("SimImageToVideo", 1280 * 720 * 120) == pytest.approx(90.0)
    assert gpu_seconds("SimImageToVideo", 1280 * 720 * 60) == pytest.approx(45.0)
    assert gpu_seconds("SimSharpen", 1920 * 1080 * 120) == pytest.approx(60.0)
    assert gpu_seconds("SimSharpen", 960 * 540 * 120) == pytest.approx(15.0)


def test_vram_need_grows_with_the_render_size() -> None:
    # Weights stay, activations scale with pixels x frames: a smaller render needs less.
    clip = template("clip")
    full = prompt_vram_gb(clip)
    clip["2"]["inputs"].update(width=960, height=540, length=90)  # 75 % each way
    assert prompt_vram_gb(clip) == pytest.approx(14.0 + 6.0 * 0.75**3)
    assert 14.0 < prompt_vram_gb(clip) < full == 20.0
    hero = template("hero")  # frames unknown until run time: counted at the reference 120
    hero["3"]["inputs"].update(width=1440, height=810)
    assert prompt_vram_gb(hero) == pytest.approx(20.0 + 8.0 * 0.75**2)


def test_vram_need_is_the_largest_node() -> None:
    assert prompt_vram_gb(template("keyframe")) == 12.0
    assert prompt_vram_gb(template("clip")) == 20.0
    assert prompt_vram_gb(template("hero")) == 28.0
    core = workflow("image_empty_to_save.json")
    assert prompt_vram_gb(core) == estimate_vram_gb(core) == pytest.approx(2.0, abs=0.01)
    huge = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8192, "height": 8192, "batch_size": 64},
        }
    }
    assert prompt_vram_gb(huge) == estimate_vram_gb(huge) > 30


def test_format_size_like_pytorch() -> None:
    assert format_size(0) == "0 bytes"
    assert format_size(1024) == "1024 bytes"
    assert format_size(2048) == "2.00 KiB"
    assert format_size(320 * 1024**2) == "320.00 MiB"
    assert format_size(1024**3) == "1024.00 MiB"
    assert format_size(14.81 * 1024**3) == "14.81 GiB"


def simulated_ms(entry: dict[str, Any]) -> int:
    """Milliseconds between execution_start and the end message of a history entry."""
    messages = entry["status"]["messages"]
    return messages[-1][1]["timestamp"] - messages[0][1]["timestamp"]


def keyframe(size: tuple[int, int], steps: int, text: str = "a lone warrior") -> dict[str, Any]:
    wf = template("keyframe")
    wf["1"]["inputs"].update(width=size[0], height=size[1], steps=steps, prompt=text)
    return wf


def test_a_3090_takes_longer_than_a_5090_for_the_same_prompt(tmp_path: Path) -> None:
    # 160x90 is 1/64 of a 720p still: 6 / 64 x 8 = 0.75 s on a 5090 at time scale 8, 1.36 s on
    # a 3090 (speed 0.55).
    results = {}
    for card, speed in (("RTX 5090", 1.0), ("RTX 3090", 0.55)):
        server, sim = start_sim(tmp_path / card, card=card, gpu_speed=speed, time_scale=8.0)
        try:
            # The first picture of a process pays for fonts and caches: keep it out of the timing.
            sim.run(keyframe((16, 16), 1, "warm up"))
            ws = sim.ws(new_id())
            pid = sim.submit(keyframe((160, 90), 6), client_id=ws.client_id).json()["prompt_id"]
            entry = sim.history(pid)
            ticks = [m["data"]["value"] for m in ws.wait_done(pid) if m.get("type") == "progress"]
        finally:
            sim.close()
            server.stop()
        assert entry["status"]["status_str"] == "success"
        assert ticks == [1, 2, 3, 4, 5, 6]  # the time is spread over the sampler's ticks
        results[card] = simulated_ms(entry)
    assert results["RTX 5090"] >= 750  # at least the modelled time was slept
    ratio = results["RTX 3090"] / results["RTX 5090"]
    assert 1.3 < ratio < 2.3, results  # 1 / 0.55 = 1.82, diluted a little by CPU time


def test_time_scale_zero_keeps_cpu_speed_and_speed_option_still_works(tmp_path: Path) -> None:
    server, sim = start_sim(tmp_path / "a", gpu_speed=0.01)  # time_scale 0: speed is moot
    try:
        fast = simulated_ms(sim.run(keyframe((64, 48), 4)))
    finally:
        sim.close()
        server.stop()
    server, sim = start_sim(tmp_path / "b", speed=100.0)  # 0.3 s per 64x48 step
    try:
        slow = simulated_ms(sim.run(keyframe((64, 48), 4)))
    finally:
        sim.close()
        server.stop()
    assert slow >= 4 * 300 and slow > fast


def interrupt_mid_render(sim: SimClient) -> dict[str, Any]:
    """Interrupt a long modelled render after its second tick; its history entry."""
    ws = sim.ws(new_id())
    pid = sim.submit(keyframe((64, 48), 20), client_id=ws.client_id).json()["prompt_id"]
    ws.wait_for(lambda m: m.get("type") == "progress" and m["data"]["value"] == 2)
    sim.http.post("/interrupt", json={"prompt_id": pid})
    entry = sim.history(pid)
    ticks = [m["data"]["value"] for m in ws.wait_done(pid) if m.get("type") == "progress"]
    assert max(ticks) < 20
    return entry


def test_interrupt_is_honoured_during_modelled_gpu_time(tmp_path: Path) -> None:
    # 64x48 x 20 steps at time scale 100: 2 s modelled, 0.1 s per tick.
    server, sim = start_sim(tmp_path, time_scale=100.0)
    try:
        entry = interrupt_mid_render(sim)
    finally:
        sim.close()
        server.stop()
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"


def test_hero_pass_does_not_fit_a_3090(tmp_path: Path) -> None:
    server, sim = start_sim(tmp_path, card="RTX 3090", vram_gb=24, gpu_speed=0.55)
    try:
        clip = template("clip")
        clip["2"]["inputs"].update(width=32, height=32, length=4, steps=2)
        done = sim.run(clip)
        assert done["status"]["status_str"] == "success"  # 20 GB fits 24
        (ref,) = done["outputs"]["4"]["images"]
        hero = template("hero")
        hero["1"]["inputs"]["file"] = f"{ref['subfolder']}/{ref['filename']} [output]"
        entry = sim.run(hero)
    finally:
        sim.close()
        server.stop()
    event, error = entry["status"]["messages"][-1]
    assert event == "execution_error"
    assert (error["node_id"], error["node_type"]) == ("4", "SimSharpen")
    assert error["exception_type"] == "torch.OutOfMemoryError"
    assert sorted(error["executed"]) == ["1", "2", "3"]
