"""A simulator listening beyond this machine: refused without a yes, warned about with one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from subprocs import python_child, run_cli

from videofactory.exposure import EXPOSED_ENV, exposed_addresses

REFUSED = "listen address {} opens the server to the network"
RISK = "ComfyUI has no authentication: anyone who can reach the port can queue work on the GPU"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@pytest.mark.parametrize(
    ("listen", "exposed"),
    [
        ("127.0.0.1", []),
        ("127.0.0.2", []),
        ("::1", []),
        ("[::1]", []),
        ("localhost", []),
        ("::ffff:127.0.0.1", []),
        ("0.0.0.0", ["0.0.0.0"]),
        ("::", ["::"]),
        ("0.0.0.0,::", ["0.0.0.0", "::"]),
        ("127.0.0.1,192.168.1.20", ["192.168.1.20"]),
        ("gpu-box.lan", ["gpu-box.lan"]),
        ("", ["(every address)"]),
    ],
)
def test_which_addresses_are_exposed(listen: str, exposed: list[str]) -> None:
    assert exposed_addresses(listen) == exposed


@pytest.mark.parametrize(
    "listen", [["--listen", "0.0.0.0"], ["--listen"], ["--listen", "10.1.2.3"]]
)
def test_the_module_refuses_an_exposed_listen_in_one_line(
    tmp_path: Path, listen: list[str]
) -> None:
    # A bare --listen is ComfyUI's "every address" (0.0.0.0,::).
    done = subprocess.run(
        [sys.executable, "-m", "videofactory.sim", *listen, "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    where = listen[1] if len(listen) > 1 else "0.0.0.0,::"
    assert line.startswith("python -m videofactory.sim: error: " + REFUSED.format(where))
    assert RISK in line and line.endswith("or pass --i-know-this-is-exposed if you mean it")


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_module_with_a_yes_warns_and_serves(tmp_path: Path, how: str) -> None:
    # The flag, or the farm launcher's variable for a server the farm file allowed.
    args = ["--listen", "0.0.0.0", "--port", "0", "--base-directory", str(tmp_path)]
    yes = ["--i-know-this-is-exposed"] if how == "flag" else []
    env = _env(**({EXPOSED_ENV: "1"} if how == "environment" else {}))
    with python_child(
        "-m", "videofactory.sim", *args, *yes, stderr=subprocess.PIPE, env=env
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        ready = json.loads(proc.stdout.readline())
        assert httpx.get(ready["url"] + "/system_stats", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        warning = proc.stderr.readline()
    assert warning.startswith(
        "python -m videofactory.sim: warning: listening on 0.0.0.0 opens the server to the "
        "network; " + RISK
    )


def test_loopback_needs_nothing_and_says_nothing(tmp_path: Path) -> None:
    args = ["--listen", "127.0.0.1", "--port", "0", "--base-directory", str(tmp_path)]
    with python_child("-m", "videofactory.sim", *args, stderr=subprocess.PIPE, env=_env()) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert json.loads(proc.stdout.readline())["event"] == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "warning" not in proc.stderr.read()


def test_videofactory_sim_refuses_an_exposed_listen_in_one_line(tmp_path: Path) -> None:
    res = run_cli(["sim", "-n", "1", "--listen", "0.0.0.0"], cwd=tmp_path, timeout=60)
    assert res.returncode == 1 and res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith("error: " + REFUSED.format("0.0.0.0"))
    assert line.endswith("or pass --i-know-this-is-exposed if you mean it")
    assert not (tmp_path / "sim-farm").exists()  # nothing was started


def test_videofactory_sim_with_the_flag_warns_and_serves(tmp_path: Path) -> None:
    args = ["sim", "-n", "1", "--port", "0", "--listen", "0.0.0.0", "--i-know-this-is-exposed"]
    with python_child(
        "-m", "videofactory", *args, cwd=tmp_path, stderr=subprocess.PIPE, env=_env()
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        assert first.startswith("gpu0: http://127.0.0.1:"), first
        url = first.split()[1]
        assert httpx.get(url + "/system_stats", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read()
    assert "warning: listening on 0.0.0.0 opens the server to the network" in err
    log = (tmp_path / "sim-farm" / "gpu0" / "sim.log").read_text()
    assert "warning: listening on 0.0.0.0" in log  # the server itself said so too


def test_videofactory_sim_restart_brings_a_killed_server_back(tmp_path: Path) -> None:
    with python_child(
        "-m", "videofactory", "sim", "-n", "1", "--port", "0", "--restart",
        cwd=tmp_path, stderr=subprocess.PIPE, env=_env(),
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        url = proc.stdout.readline().split()[1]
        (server,) = psutil.Process(proc.pid).children()
        server.kill()
        assert "gpu0: restart 1 (exited): killed by SIGKILL" in proc.stderr.readline()
        assert "gpu0: back up (pid " in proc.stderr.readline()
        assert httpx.get(url + "/system_stats", timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
