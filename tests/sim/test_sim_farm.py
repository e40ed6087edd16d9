"""SimFarm and ``python -m videofactory.sim`` as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from subprocs import python_child

from videofactory.config import builtin_farm
from videofactory.constants import SIM_TAG
from videofactory.errors import BackendUnavailable
from videofactory.factory import SIM_FOLDER_PREFIX, SIM_OWNER_FILE, running_farm
from videofactory.sim import SimFarm, SimWorkerSpec

REPO = Path(__file__).parents[2]


def gone(pid: int) -> bool:
    """The process has exited (a zombie of a non-reaping init counts as exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line for line in f)
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.1)
    return False


def test_farm_starts_serves_and_stops(tmp_path: Path) -> None:
    specs = [SimWorkerSpec("gpu0", "RTX 5090", 32), SimWorkerSpec("gpu1", "RTX 3090", 24)]
    # ComfyUI flags the simulator does not need must be accepted and ignored.
    extra = [
        "--disable-auto-launch",
        "--preview-method",
        "auto",
        "--highvram",
        "--disable-all-custom-nodes",
    ]
    with SimFarm(specs, tmp_path, extra_args=extra) as farm:
        assert set(farm.urls) == {"gpu0", "gpu1"}
        for spec in specs:
            stats = httpx.get(farm.urls[spec.name] + "/system_stats", timeout=10).json()
            device = stats["devices"][0]
            assert SIM_TAG in device["name"] and spec.card in device["name"]
            assert device["vram_total"] == spec.vram_gb * 1024**3
            assert "--name" in stats["system"]["argv"] and spec.name in stats["system"]["argv"]
            assert (tmp_path / spec.name / "input" / "example.png").exists()
        procs = list(farm.processes.values())
        assert all(p.poll() is None for p in procs)
    assert all(p.returncode is not None for p in procs)


def test_cpu_flag_reports_a_cpu_device_whose_memory_is_ram(tmp_path: Path) -> None:
    # ComfyUI --cpu: /system_stats names the device cpu; its "VRAM" figures are the RAM.
    spec = SimWorkerSpec("c0", "RTX 3090", 23.5)
    with SimFarm([spec], tmp_path, extra_args=["--cpu"]) as farm:
        device = httpx.get(farm.urls["c0"] + "/system_stats", timeout=10).json()["devices"][0]
    assert device["type"] == "cpu" and device["index"] is None
    assert device["name"].startswith("cpu") and SIM_TAG in device["name"]
    assert device["vram_total"] == round(23.5 * 1024**3)


def test_child_death_at_start_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        farm = SimFarm([SimWorkerSpec("gpu0", "RTX 5090", 32, port=port)], tmp_path)
        with pytest.raises(BackendUnavailable) as info:
            farm.start()
    message = str(info.value)
    assert "gpu0" in message and "exited with code 1" in message
    assert "cannot listen" in message  # the child's stderr tail
    assert all(p.poll() is not None for p in farm.processes.values())


def test_children_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import json, sys, time\n"
        "from videofactory.sim import SimFarm, SimWorkerSpec\n"
        f"farm = SimFarm([SimWorkerSpec('gpu0', 'RTX 3090', 24)], {str(tmp_path)!r}).start()\n"
        "print(json.dumps({n: p.pid for n, p in farm.processes.items()}), flush=True)\n"
        "time.sleep(600)\n"
    )
    with python_child("-c", script) as parent:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        parent.kill()
        parent.wait()
        assert wait_gone(pids["gpu0"]), "the simulated worker outlived its parent"


def test_main_foreground_until_ctrl_c(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from videofactory.sim import SimWorkerSpec, main_foreground\n"
        "sys.exit(main_foreground([SimWorkerSpec('gpu0', 'RTX 4080 Super', 16)], "
        f"{str(tmp_path)!r}))\n"
    )
    with python_child("-c", script) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("gpu0: http://127.0.0.1:") and "simulator" in first
        url = first.split()[1]
        assert httpx.get(url + "/prompt", timeout=10).json() == {
            "exec_info": {"queue_remaining": 0}
        }
        assert "Ctrl-C" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/prompt", timeout=2)


def test_module_prints_one_ready_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    args = ["--port", "0", "--name", "solo", "--cuda-device", "1"]
    args += ["--output-directory", str(tmp_path / "out"), "--input-directory", str(tmp_path / "in")]
    args += ["--temp-directory", str(tmp_path / "tmp")]
    with python_child(
        "-m",
        "videofactory.sim",
        *args,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert set(ready) == {"event", "name", "url", "pid"}
        assert (ready["event"], ready["name"], ready["pid"]) == ("ready", "solo", proc.pid)
        assert ready["url"].startswith("http://127.0.0.1:")
        assert (tmp_path / "in" / "example.png").exists() and (tmp_path / "out").is_dir()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stdout.read() == ""  # nothing but the ready line on stdout


def test_a_killed_runs_farm_folder_is_swept_by_the_next(tmp_path: Path) -> None:
    # The built-in farm's servers live in a temporary folder the run removes on its way out;
    # a run killed with SIGKILL cannot, and the next run removes it.
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from videofactory.config import builtin_farm\n"
        "from videofactory.factory import running_farm\n"
        "farm = builtin_farm()\n"
        "one = farm.model_copy(update={'workers': farm.workers[:1]})\n"
        f"with running_farm(one, root=Path({str(tmp_path)!r})):\n"
        "    print('up', flush=True)\n"
        "    time.sleep(600)\n"
    )
    with python_child("-c", script) as parent:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "up"
        (killed,) = tmp_path.glob(f"{SIM_FOLDER_PREFIX}*")
        assert (killed / SIM_OWNER_FILE).read_text() == str(parent.pid)
        parent.kill()
        parent.wait()
    assert killed.is_dir()  # nobody removed it
    alive = tmp_path / f"{SIM_FOLDER_PREFIX}alive"  # another run's, going on
    alive.mkdir()
    (alive / SIM_OWNER_FILE).write_text(str(os.getpid()))
    unowned = tmp_path / f"{SIM_FOLDER_PREFIX}unowned"  # not one we can tell is dead
    unowned.mkdir()
    farm = builtin_farm()
    with running_farm(farm.model_copy(update={"workers": farm.workers[:1]}), root=tmp_path):
        assert not killed.exists()
        assert alive.is_dir() and unowned.is_dir()
    assert sorted(tmp_path.iterdir()) == [alive, unowned]  # our own folder went on exit
