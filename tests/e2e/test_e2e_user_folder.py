"""The user's folder is not code: a ``json.py`` or ``concurrent.py`` where videofactory is run
is never imported by the Python children it starts (the simulated servers, ``--detach``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from subprocs import shadowed, shadowing_folder

from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist
from videofactory.sim import SimFarm, SimWorkerSpec


def test_simulated_servers_ignore_the_folder_they_are_started_from(tmp_path, monkeypatch):
    user = shadowing_folder(tmp_path / "user")
    monkeypatch.chdir(user)
    # A relative root, as `videofactory sim --root sim-farm` gives: still the user's folder's.
    with SimFarm([SimWorkerSpec("gpu0", "RTX 3090", 24)], "sim-farm") as farm:
        stats = httpx.get(farm.urls["gpu0"] + "/system_stats", timeout=10).json()
        argv = stats["system"]["argv"]
        assert argv[argv.index("--base-directory") + 1] == str(user / "sim-farm" / "gpu0")
        assert (user / "sim-farm" / "gpu0" / "input" / "example.png").is_file()
    assert shadowed(user) == []


def _videofactory() -> list[str]:
    """The command as a user runs it: the script installed beside this Python (which puts its
    own folder, not the current one, on sys.path), else ``python -P -m videofactory``."""
    script = Path(sys.executable).with_name("videofactory")
    return [str(script)] if script.is_file() else [sys.executable, "-P", "-m", "videofactory"]


@pytest.mark.slow
def test_a_detached_run_ignores_the_folder_it_is_started_from(tmp_path):
    user = shadowing_folder(tmp_path / "user")
    plan = plan_rules("cat on the moon", 4, width=160, height=96, clip_s=2.0)
    (user / "shots.yaml").write_text(dump_shotlist(plan), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}

    def videofactory(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_videofactory(), *args, "--workdir", "w"],
            cwd=user,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    started = videofactory("render", "shots.yaml", "--detach", "--json", timeout=120)
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    # The background process (`videofactory resume`), and the built-in farm it starts, run
    # in the user's folder: with -P nothing of it is imported.
    waited = videofactory("wait", run_id, timeout=240)
    log = (user / "w" / run_id / "run.log").read_text()
    assert waited.returncode == 0, waited.stderr[-2000:] + log[-2000:]
    assert "run_done" in log and "shadowed" not in log and shadowed(user) == []
    assert (user / "w" / run_id / "final.mp4").is_file()
