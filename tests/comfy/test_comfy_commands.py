"""`videofactory test --workflow` and `videofactory status` preflight, as a user runs them."""

from __future__ import annotations

import json
import os

from subprocs import cli

from videofactory.sim.options import SimOptions
from videofactory.sim.thread import ServerThread

from .conftest import FIXTURES


def test_test_command_with_a_workflow(tmp_path):
    video = FIXTURES / "workflows" / "video_frames_to_mp4.json"
    with ServerThread(SimOptions(base_directory=tmp_path / "s", port=0)) as sim:
        res = cli(
            "test", "--url", sim.url, "--workflow", str(video), "-o", "out", "--json", cwd=tmp_path
        )
        assert res.returncode == 0, res.stdout + res.stderr
        report = json.loads(res.stdout.splitlines()[-1])
        assert [s["name"] for s in report["steps"]] == [
            "system_stats",
            "object_info",
            "workflow",
            "preflight",
            "round_trip",
            "download",
        ]
        assert report["output_dir"] == str((tmp_path / "out").resolve())
        (mp4,) = report["outputs"]
        assert mp4.endswith(".mp4") and os.path.getsize(mp4) > 1000
        assert any("fps -> node 3" in line for line in report["steps"][2]["lines"])

        # A workflow whose models the server lacks: refused before anything is submitted.
        sdxl = tmp_path / "sdxl_api.json"
        from videofactory.comfy.workflow import load_template

        sdxl.write_text(json.dumps(load_template("keyframe", "sdxl").graph))
        res = cli("test", "--url", sim.url, "--workflow", str(sdxl), cwd=tmp_path)
        assert res.returncode == 1
        assert "FAIL preflight" in res.stdout
        assert "'sd_xl_base_1.0.safetensors' is not on this server" in res.stdout
        assert "Traceback" not in res.stderr

    res = cli("test", "--url", "http://127.0.0.1:9", "--bindings", "b.yaml", cwd=tmp_path)
    assert res.returncode == 1 and "--bindings goes with --workflow" in res.stderr


def test_status_shows_refused_kinds_and_why(tmp_path):
    with ServerThread(SimOptions(base_directory=tmp_path / "s", port=0)) as sim:
        (tmp_path / "factory.yaml").write_text(
            "workers:\n"
            f"  - {{id: ok, card: RTX 5090, vram_gb: 32, url: '{sim.url}'}}\n"
            f"  - {{id: picky, card: RTX 5090, url: '{sim.url}',"
            " workflows: {hero: upscale}}\n"
        )
        res = cli("status", "--json", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["impossible"] == []
        rows = {w["id"]: w for w in json.loads(res.stdout)["workers"]}
        assert rows["ok"]["refused"] == [] and rows["picky"]["refused"] == ["hero"]
        hero = rows["picky"]["preflight"]["hero"]
        assert hero["workflow"] == "upscale/hero" and hero["source"] == "farm file"
        assert "unknown node type 'UpscaleModelLoader'" in hero["problems"][0]["line"]
        table = cli("status", cwd=tmp_path)
        assert table.returncode == 0
        assert "refused kinds" in table.stdout and "picky gets no hero task" in table.stderr
        assert "UpscaleModelLoader" in table.stderr
