"""`farm up` / supervision / `farm down` with real simulated servers in processes of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from videofactory.errors import ConfigError
from videofactory.launcher import (
    draining,
    farm_down,
    farm_paths,
    farm_status,
    farm_up,
    restarts_since,
)
from videofactory.launcher.procs import is_ours
from videofactory.launcher.state import SupervisorLock

from .conftest import Farms, history, post, records, sim_prompt, state_of, wait_for


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/system_stats", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def pid_of(farm, wid: str) -> int:
    return int(state_of(farm)["workers"][wid]["pid"])


def gone(pid: int, timeout: float = 10.0) -> bool:
    """The process has exited (a zombie of a non-reaping init counts as exited)."""

    def check() -> bool:
        try:
            with open(f"/proc/{pid}/status") as f:
                return any(line.startswith("State:") and "Z" in line for line in f)
        except FileNotFoundError:
            return True

    return bool(wait_for(check, timeout, f"pid {pid} to exit"))


def test_up_status_kill_restart_down(farms: Farms, tmp_path: Path) -> None:
    path = farms.write(
        [{"id": "gpu0", "card": "RTX 5090", "vram_gb": 32}, {"id": "gpu1"}], stop_grace_s=5
    )
    farm = farms.load(path)
    t0 = time.time()
    up = farm_up(farm, path)
    assert up["failures"] == [] and up["supervisor"]["running"]
    rows = {r["id"]: r for r in up["workers"]}
    for wid, card in (("gpu0", "RTX 5090"), ("gpu1", "RTX 3090")):
        r = rows[wid]
        assert r["reachable"] and r["process"] == "up" and r["restarts"] == 0
        assert f"{card} : videofactory simulator" in r["device"]
        assert r["pid"] and r["rss_bytes"] > 10 * 1024**2 and r["uptime_s"] >= 0
    # Each server has its own folders and port, and its log under the farm folder.
    url1 = farm.worker("gpu1").url
    stats = httpx.get(f"{url1}/system_stats", trust_env=False).json()
    argv = stats["system"]["argv"]
    assert argv[argv.index("--cuda-device") + 1] == "1"
    assert argv[argv.index("--output-directory") + 1] == str(
        tmp_path / "farm" / "workers" / "gpu1" / "output"
    )
    assert (tmp_path / "farm" / "workers" / "gpu1" / "input" / "example.png").exists()
    log = (tmp_path / "farm" / "logs" / "gpu1.log").read_text()
    assert '"event": "ready"' in log and "[videofactory farm" in log

    # A bystander on this machine that the launcher did not start is never touched.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old = pid_of(farm, "gpu1")
        os.kill(old, signal.SIGKILL)  # a crash (or the kernel's OOM killer)
        back = wait_for(lambda: records(farm, "up"), 30, "gpu1 back up")
        (restart,) = records(farm, "restart")
        assert restart["worker"] == "gpu1" and restart["cause"] == "exited"
        assert restart["detail"] == "killed by SIGKILL" and restart["exit_code"] == -9
        assert restart["old_pid"] == old and back[0]["pid"] != old
        assert answers(url1)
        status = {r["id"]: r for r in farm_status(farm)["workers"]}
        assert status["gpu1"]["restarts"] == 1 and status["gpu1"]["last_exit"] == -9
        assert status["gpu1"]["pid"] == back[0]["pid"] and status["gpu0"]["restarts"] == 0
        (rs,) = restarts_since(farm, t0)
        assert rs["cause"] == "exited" and rs["new_pid"] == back[0]["pid"]
        assert restarts_since(farm, time.time()) == []
        # Again is a no-op: the farm is up.
        again = farm_up(farm, path)
        assert again["already_up"] and again["failures"] == []

        pids = [pid_of(farm, "gpu0"), pid_of(farm, "gpu1")]
        down = farm_down(farm)
        assert down["supervisor"] == "stopped"
        assert down["workers"] == {"gpu0": "stopped", "gpu1": "stopped"}
        assert all(gone(p) for p in pids)
        assert not answers(url1) and not answers(farm.worker("gpu0").url)
        assert bystander.poll() is None
        status = farm_status(farm)
        assert not status["supervisor"]["running"]
        assert {r["process"] for r in status["workers"]} == {"stopped"}
        assert farm_down(farm)["supervisor"] == "not running"  # twice is fine
    finally:
        bystander.kill()
        bystander.wait()


def test_a_server_that_stops_answering_is_restarted(farms: Farms) -> None:
    path = farms.write([{"id": "gpu0"}], unresponsive_after_s=1.0, stop_grace_s=1)
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    old = pid_of(farm, "gpu0")
    os.kill(old, signal.SIGSTOP)  # hung: alive, but answers nothing
    wait_for(lambda: records(farm, "up"), 30, "gpu0 back up")
    (restart,) = records(farm, "restart")
    assert restart["cause"] == "unresponsive"
    assert restart["detail"].startswith("answered nothing at /system_stats for ")
    assert gone(old)  # SIGTERM cannot reach a stopped process: it was continued, then killed
    assert answers(farm.worker("gpu0").url)


def test_memory_recycling_drains_between_jobs(farms: Farms) -> None:
    # Every job leaves 200 MB behind: past the 0.25 GB limit as soon as the first job starts.
    path = farms.write(
        # Jobs of several seconds each, so that the drain is seen while they still run.
        [{"id": "gpu0", "extra_args": ["--leak-mb-per-job", "200", "--time-scale", "400"]}],
        rss_limit_gb=0.25,
    )
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    url, old = farm.worker("gpu0").url, pid_of(farm, "gpu0")
    # Two jobs at once: one runs, one waits in ComfyUI's queue while the server drains.
    a, b = post(url, sim_prompt("a")), post(url, sim_prompt("b", width=72))
    drain = wait_for(lambda: records(farm, "drain"), 30, "the drain")[0]
    assert (
        drain["detail"].startswith("memory (RSS) ")
        and "passed its limit 0.25 GB" in drain["detail"]
    )
    assert drain["rss_bytes"] > drain["rss_limit_bytes"] == int(0.25 * 1024**3)
    assert draining(farm) == {"gpu0": drain["detail"]}  # what a dispatcher asks
    # Both jobs run to their end before the restart: it waits for the queue to empty.
    done = [wait_for(lambda pid=pid: history(url, pid), 30, f"job {pid}") for pid in (a, b)]
    assert [h["status"]["status_str"] for h in done] == ["success", "success"]
    ended = max(m[1]["timestamp"] for h in done for m in h["status"]["messages"]) / 1000
    back = wait_for(lambda: records(farm, "up"), 30, "gpu0 back up")[0]
    (restart,) = records(farm, "restart")
    assert restart["cause"] == "memory" and restart["old_pid"] == old
    assert restart["ts"] >= ended  # between jobs, never in the middle of one
    assert back["pid"] != old and draining(farm) == {}
    row = farm_status(farm)["workers"][0]
    assert row["process"] == "up" and row["rss_bytes"] < row["rss_limit_bytes"]
    assert row["restarts"] == 1 and "passed its limit" in records(farm, "restart")[0]["detail"]


def test_a_drain_that_times_out_restarts_at_a_job_boundary(farms: Farms) -> None:
    path = farms.write(
        # Jobs of several seconds each, so that the drain is seen while they still run.
        [{"id": "gpu0", "extra_args": ["--leak-mb-per-job", "200", "--time-scale", "400"]}],
        rss_limit_gb=0.25,
        drain_timeout_s=0.5,
    )
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    url = farm.worker("gpu0").url
    # A dispatcher that ignores the drain keeps the server busy: three jobs in a row.
    jobs = [post(url, sim_prompt(tag, width=64 + 8 * i)) for i, tag in enumerate("abc")]
    wait_for(lambda: records(farm, "up"), 40, "gpu0 back up")
    (restart,) = records(farm, "restart")
    assert restart["cause"] == "memory" and "restarted at a job boundary" in restart["detail"]
    # The job that ran when the drain timed out finished; the restart came after it.
    first = history(url, jobs[0])
    assert first is None  # the new server knows nothing of the old one's history...
    out = farm_paths(farm).folder / "workers" / "gpu0" / "output"
    assert list(out.glob("a_*.png"))  # ...but the first job's output was written


def test_crash_loop_is_given_up(farms: Farms, tmp_path: Path) -> None:
    # Starts once; every later start dies at once (a broken driver, say).
    script = tmp_path / "flaky.py"
    script.write_text(
        "import os, sys\n"
        "marker = os.path.join(os.path.dirname(__file__), 'started-once')\n"
        "if os.path.exists(marker):\n"
        "    print('RuntimeError: CUDA driver initialization failed', flush=True)\n"
        "    sys.exit(2)\n"
        "open(marker, 'w').close()\n"
        "from videofactory.sim.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    path = farms.write(
        [{"id": "gpu0"}, {"id": "gpu1", "command": f"{{python}} {script}"}], max_restarts=2
    )
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    os.kill(pid_of(farm, "gpu1"), signal.SIGKILL)
    gave_up = wait_for(lambda: records(farm, "gave_up"), 90, "the give-up")[0]
    restarts = records(farm, "restart")
    assert [r["cause"] for r in restarts] == ["exited", "died_at_start"]
    assert restarts[1]["detail"].startswith("the server exited with code 2 during start-up")
    assert "(last line: RuntimeError: CUDA driver initialization failed)" in restarts[1]["detail"]
    assert gave_up["detail"].startswith("gpu1: given up after 2 restarts in a row")
    rows = {r["id"]: r for r in farm_status(farm)["workers"]}
    assert rows["gpu1"]["process"] == "failed" and rows["gpu1"]["pid"] is None
    assert rows["gpu0"]["process"] == "up"  # the others carry on
    assert [r.get("gave_up") for r in restarts_since(farm, 0)] == [None, True]


def test_server_dying_at_start_keep_or_stop(farms: Farms) -> None:
    bad = "{python} -c 'import sys; print(\"no CUDA GPUs are available\"); sys.exit(3)'"
    path = farms.write([{"id": "gpu0"}, {"id": "gpu1", "command": bad}])
    farm = farms.load(path)
    kept = farm_up(farm, path)  # default: keep the ones that started
    line = kept["failures"][0]
    assert line.startswith("gpu1: the server exited with code 3 during start-up (last line: no")
    assert line.endswith(f"log: {farm_paths(farm).folder / 'logs' / 'gpu1.log'}")
    rows = {r["id"]: r for r in kept["workers"]}
    assert rows["gpu0"]["process"] == "up" and rows["gpu1"]["process"] == "failed"
    assert rows["gpu1"]["last_exit"] == 3
    pid = pid_of(farm, "gpu0")
    assert farm_down(farm)["workers"]["gpu0"] == "stopped" and gone(pid)

    stopped = farm_up(farm, path, on_failure="stop")
    assert stopped["failures"] and not stopped["supervisor"]["running"]
    assert all(r["pid"] is None and not r["reachable"] for r in stopped["workers"])


def test_farm_down_after_the_supervisor_was_killed(farms: Farms) -> None:
    path = farms.write([{"id": "gpu0"}, {"id": "gpu1"}])
    farm = farms.load(path)
    assert farm_up(farm, path)["failures"] == []
    state = state_of(farm)
    sup = state["supervisor"]["pid"]
    os.kill(sup, signal.SIGKILL)
    # Its threads let go of the farm's lock a moment after it shows as a zombie.
    wait_for(lambda: not SupervisorLock(farm_paths(farm)).held_elsewhere(), 10, "the lock")
    servers = {w: (s["pid"], s["create_time"]) for w, s in state["workers"].items()}
    assert all(is_ours(*p) for p in servers.values())  # they outlive it...
    status = farm_status(farm)
    assert {r["process"] for r in status["workers"]} == {"unsupervised"}
    with pytest.raises(ConfigError) as info:
        farm_up(farm, path)
    assert "still runs without its supervisor; `videofactory farm down` stops it" in str(info.value)
    down = farm_down(farm, grace=2)  # ...and are still stopped: never orphaned
    assert down["workers"] == {"gpu0": "stopped", "gpu1": "stopped"}
    assert not any(is_ours(*p) for p in servers.values())
