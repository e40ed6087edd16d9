"""`videofactory test --workflow` and `videofactory status` preflight, as a user runs them."""

from __future__ import annotations

import json
import os

import httpx
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


def _small(template: str, **sizes) -> dict:
    """A bundled sim workflow, made small (the simulator renders it on a shared CPU)."""
    from videofactory.comfy.workflow import load_template

    graph = json.loads(json.dumps(load_template(template, "sim").graph))
    for node in graph.values():
        for name, value in sizes.items():
            if name in node["inputs"]:
                node["inputs"][name] = value
    return graph


def test_test_command_uploads_a_sample_input_to_an_empty_input_folder(tmp_path):
    # A fresh server: nothing in input/ (the simulator's stock example.png removed too), and
    # workflows whose LoadImage / LoadVideo name files it does not have.
    i2v = tmp_path / "i2v_api.json"
    i2v.write_text(json.dumps(_small("clip", width=160, height=96, length=6)))
    v2v = tmp_path / "v2v_api.json"
    v2v.write_text(json.dumps(_small("hero", width=320, height=180)))
    with ServerThread(SimOptions(base_directory=tmp_path / "s", port=0)) as sim:
        inputs = tmp_path / "s" / "input"
        (inputs / "example.png").unlink()
        assert not any(inputs.iterdir())

        res = cli("test", "--url", sim.url, "--workflow", str(i2v), "--json", cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        report = json.loads(res.stdout.splitlines()[-1])
        names = [s["name"] for s in report["steps"]]
        assert names == [
            "system_stats",
            "object_info",
            "workflow",
            "preflight",
            "inputs",
            "round_trip",
            "download",
        ]
        (sent,) = report["inputs"]
        assert sent["param"] == "input_image" and sent["kind"] == "picture" and sent["sample"]
        # sized like the workflow's bound width and height
        assert sent["uploaded_as"] == "videofactory/test/sample-160x96.png"
        from PIL import Image

        with Image.open(inputs / "videofactory" / "test" / "sample-160x96.png") as img:
            assert img.size == (160, 96)
        (line,) = report["steps"][4]["lines"]
        assert line.startswith("input_image -> node 1 (LoadImage): sample picture 160x96 PNG")
        (mp4,) = report["outputs"]
        assert mp4.endswith(".mp4") and os.path.getsize(mp4) > 1000

        res = cli("test", "--url", sim.url, "--workflow", str(v2v), cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "sample clip 320x180 16 fps 1 s H.264" in res.stdout
        assert "uploaded as videofactory/test/sample-320x180-16fps.mp4" in res.stdout
        from videofactory.assembly.probe import probe

        clip = probe(inputs / "videofactory" / "test" / "sample-320x180-16fps.mp4")
        assert (clip.width, clip.height) == (320, 180) and 0.9 <= clip.duration_s <= 1.1

        # The user's own picture instead of a sample: uploaded under its own name.
        own = tmp_path / "my photo.png"
        Image.new("RGB", (200, 120), (10, 200, 30)).save(own)
        res = cli(
            "test", "--url", sim.url, "--workflow", str(i2v), "--input", str(own), "--json",
            cwd=tmp_path,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        (sent,) = json.loads(res.stdout.splitlines()[-1])["inputs"]
        assert sent["uploaded_as"] == "videofactory/test/my photo.png" and not sent["sample"]
        assert sent["file"] == str(own.resolve())

        # A file of the wrong kind: the inputs step says what the workflow loads.
        tone = tmp_path / "tone.wav"
        tone.write_bytes(b"RIFF")
        res = cli("test", "--url", sim.url, "--workflow", str(i2v), "--input", str(tone),
                  cwd=tmp_path)  # fmt: skip
        assert res.returncode == 1
        assert "FAIL inputs" in res.stdout
        assert "--input tone.wav is a sound, but the workflow loads a picture (input_image)" in (
            res.stdout
        )
        assert "Traceback" not in res.stdout + res.stderr
        # Nothing was submitted for it: the server ran only the three round trips above.
        assert len(httpx.get(sim.url + "/history").json()) == 3

    res = cli("test", "--url", "http://127.0.0.1:9", "--input", "x.png", cwd=tmp_path)
    assert res.returncode == 1 and "--input goes with --workflow" in res.stderr


def test_test_command_without_a_server_says_how_to_name_one(tmp_path, monkeypatch):
    # Nothing answers at ComfyUI's default address (here: a port held but not listening, so
    # no other process can be there) and no farm file is found: a clear failure, no
    # simulator in its place.
    import socket

    from typer.testing import CliRunner

    from videofactory.cli import app
    from videofactory.cli import farm as farmcli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIDEOFACTORY_FARM", raising=False)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        monkeypatch.setattr(farmcli, "DEFAULT_COMFYUI_URL", url)
        for json_flag in ([], ["--json"]):
            res = CliRunner().invoke(app, ["test", *json_flag])
            assert res.exit_code == 1, res.output
            assert f"nothing answers at {url}; start ComfyUI there, pass --url URL, name a " \
                "farm with --farm FILE (or ./factory.yaml), or pass --sim to check the " \
                "built-in simulator" in res.output  # fmt: skip
            assert "ComfyUI server works" not in res.output and res.exception is not None
            assert isinstance(res.exception, SystemExit)
        assert json.loads(res.stdout.splitlines()[0])["ok"] is False


def test_test_command_sim_checks_the_builtin_simulator(tmp_path):
    res = cli("test", "--sim", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout.splitlines()[-1])
    assert report["ok"] and "built-in simulator" in report["note"]
    assert "videofactory simulator" in report["steps"][0]["detail"]
    res = cli("test", "--sim", "--url", "http://127.0.0.1:8188", cwd=tmp_path)
    assert res.returncode == 1 and "leave out --url and --farm" in res.stderr
