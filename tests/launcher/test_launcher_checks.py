"""Bad input: one clear line each, and nothing is started when a line is wrong."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from subprocs import cli

from videofactory.errors import ConfigError
from videofactory.launcher import build_specs, check_farm, farm_paths
from videofactory.launcher.checks import preflight
from videofactory.sim.options import SimOptions
from videofactory.sim.thread import ServerThread

from .conftest import Farms, free_port

REPO = Path(__file__).resolve().parents[2]


def problems_of(farms: Farms, workers: list[dict], **launcher) -> list[str]:
    farm = farms.load(farms.write(workers, **launcher))
    with pytest.raises(ConfigError) as info:
        check_farm(farm)
    first, *lines = str(info.value).splitlines()
    assert first == "the farm cannot start:"
    return [line.strip() for line in lines]


def test_a_folder_that_is_not_comfyui(farms: Farms, tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    lines = problems_of(
        farms,
        [{"id": "gpu0"}, {"id": "gpu1"}],
        command="{python} {comfyui}/main.py",
        comfyui=str(tmp_path / "stuff"),
    )
    assert lines == [
        f"gpu0, gpu1: {tmp_path / 'stuff'} is not a ComfyUI folder (no main.py and comfy/ in "
        "it); set comfyui: to the folder you cloned ComfyUI into"
    ]
    assert problems_of(
        farms, [{"id": "gpu0"}], command="{python} {comfyui}/main.py", comfyui="/nowhere"
    ) == [
        "gpu0: ComfyUI folder /nowhere does not exist; set comfyui: to the folder you cloned "
        "ComfyUI into"
    ]
    # A folder shaped like ComfyUI passes (its venv's Python is the default one).
    comfy = tmp_path / "ComfyUI"
    (comfy / "comfy").mkdir(parents=True)
    (comfy / "main.py").write_text("")
    (comfy / "venv" / "bin").mkdir(parents=True)
    python = comfy / "venv" / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    farm = farms.load(
        farms.write([{"id": "gpu0"}], command="{python} {comfyui}/main.py", comfyui=str(comfy))
    )
    check_farm(farm)
    assert build_specs(farm, tmp_path)[0].argv[:2] == (str(python), f"{comfy}/main.py")


def test_port_taken_gpu_missing_python_missing_remote_url(farms: Farms, tmp_path: Path) -> None:
    other = SimOptions(port=0, name="other", base_directory=tmp_path / "other")
    with socket.socket() as busy, ServerThread(other) as comfy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        comfy_port = int(comfy.url.rsplit(":", 1)[1])
        far = free_port()
        lines = problems_of(
            farms,
            [
                {"id": "gpu0", "port": port},
                {"id": "gpu1", "port": comfy_port},
                {"id": "gpu2", "cuda_device": 7},
                {"id": "gpu3", "python": "/opt/nothing/bin/python"},
                {"id": "gpu4", "url": f"http://192.0.2.7:{far}", "port": far},
            ],
            gpus=4,
        )
    assert lines == [
        "gpu3: Python /opt/nothing/bin/python does not exist or is not executable; fix "
        "python: (or command:) in the farm file",
        f"gpu0: port {port} is already taken by another program; stop it or give gpu0 another "
        "port in the farm file",
        f"gpu1: port {comfy_port} is already taken by a ComfyUI server that `farm up` did not "
        "start; stop it or give gpu1 another port in the farm file",
        "gpu2: GPU 7 does not exist; this machine has 4 GPUs (0-3)",
        "gpu4: GPU 4 does not exist; this machine has 4 GPUs (0-3)",
        f"gpu4: url http://192.0.2.7:{far} is on another machine; `farm up` starts servers on "
        "this machine only (run it there, or give a local url)",
    ]


def test_missing_model_folders_and_no_gpu(farms: Farms, tmp_path: Path) -> None:
    farm = farms.load(
        farms.write(
            [{"id": "gpu0"}], models=str(tmp_path / "no-models"), extra_model_paths="none.yaml"
        )
    )
    specs = build_specs(farm, Path(farm.launcher.folder))
    one = farms.load(farms.write([{"id": "gpu1", "cuda_device": 1}], name="one.yaml"))
    assert preflight(one, build_specs(one, Path(one.launcher.folder)), gpus=1) == [
        "gpu1: GPU 1 does not exist; this machine has 1 GPU (0)"
    ]
    assert preflight(farm, specs, gpus=0) == [
        "gpu0: GPU 0 does not exist; this machine has no GPU",
        f"launcher.models: {tmp_path / 'no-models'} is not a folder",
        f"launcher.extra_model_paths: {tmp_path / 'none.yaml'} does not exist",
    ]


def test_cli_bad_farm_starts_nothing(farms: Farms, tmp_path: Path) -> None:
    port = free_port()
    path = farms.write([{"id": "gpu0", "port": port}, {"id": "gpu1", "cuda_device": 9}], gpus=2)
    farms.load(path)
    res = cli("farm", "up", "--farm", str(path), cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        "error: the farm cannot start:",
        "  gpu1: GPU 9 does not exist; this machine has 2 GPUs (0-1)",
    ]
    assert "Traceback" not in res.stderr
    assert not farm_paths(tmp_path / "farm").state.exists()  # nothing was started
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    # Two workers on one port: the farm file itself is refused.
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        "workers:\n"
        f"  - {{id: a, managed: true, cuda_device: 0, port: {port}}}\n"
        f"  - {{id: b, managed: true, cuda_device: 1, port: {port}}}\n"
    )
    res = cli("farm", "up", "--farm", str(dup), "--json", cwd=tmp_path)
    assert res.returncode == 1
    assert json.loads(res.stdout)["error"] == (
        f"farm file {dup}: (top level): workers a and b both use port {port}; give each "
        "managed server its own port"
    )
    (tmp_path / "empty").mkdir()
    res = cli("farm", "up", cwd=tmp_path / "empty")
    assert res.returncode == 1 and "error: no farm file: pass --farm" in res.stderr


def test_cli_no_managed_worker(tmp_path: Path) -> None:
    (tmp_path / "factory.yaml").write_text("workers:\n  - {id: a, url: 'http://127.0.0.1:9'}\n")
    res = cli("farm", "up", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "error: no worker of the farm is managed; mark the ones `farm up` should start with "
        "managed: true (docs/farm-launcher.md)"
    )


@pytest.mark.parametrize("command", ["up", "down", "status"])
def test_farm_commands_have_help_with_an_example(command: str) -> None:
    res = cli("farm", command, "--help", cwd=REPO)
    assert res.returncode == 0 and f"Example: videofactory farm {command}" in res.stdout
