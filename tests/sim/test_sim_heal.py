"""A healing SimFarm (the built-in farm's): a server that dies comes back on its port."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from videofactory.errors import ConfigError
from videofactory.launcher import farm_paths, read_records, restarts_since
from videofactory.sim import SimFarm, SimFaults, SimWorkerSpec
from videofactory.sim.farm import RestartPolicy

from .test_sim_faults import keyframe


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def back_up(farm: SimFarm, name: str, old_pid: int) -> int:
    """Wait until a new process of ``name`` answers at the worker's URL; its pid."""

    def answers() -> int | None:
        proc = farm.processes[name]
        if proc.pid == old_pid or proc.poll() is not None:
            return None
        try:
            stats = httpx.get(farm.urls[name] + "/system_stats", timeout=2)
        except httpx.HTTPError:
            return None
        return proc.pid if stats.status_code == 200 else None

    return int(wait_for(answers, f"{name} back up"))


def events_of(root: Path) -> list[tuple[str, str]]:
    return [(r["event"], r.get("cause", "")) for r in read_records(farm_paths(root))]


def test_a_crashed_server_is_started_again_on_its_port_with_nothing_queued(tmp_path: Path) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    spec = SimWorkerSpec("gpu0", "RTX 5090", 32, faults=SimFaults(crash_after=0))
    started = time.time()
    policy = RestartPolicy(backoff_s=(0.2,), max_restarts=3, stable_after_s=60)
    with SimFarm([spec], tmp_path, restart=policy, on_event=lambda *e: seen.append(e)) as farm:
        url, old = farm.urls["gpu0"], farm.processes["gpu0"]
        answer = httpx.post(url + "/prompt", json={"prompt": keyframe()}, timeout=10)
        lost = answer.json()["prompt_id"]
        assert old.wait(timeout=30) == -signal.SIGKILL  # the crash fault, like the OOM killer
        new_pid = back_up(farm, "gpu0", old.pid)
        assert farm.urls["gpu0"] == url  # same port: the dispatcher's URL still holds
        with httpx.Client(base_url=url, timeout=10) as http:
            # A restarted ComfyUI: empty queue, no history; its files on disk are kept.
            assert http.get("/queue").json() == {"queue_running": [], "queue_pending": []}
            assert http.get(f"/history/{lost}").json() == {}
            # Its faults are its command line's again: the crash counts from zero.
            assert http.get("/sim/faults").json()["crash_after"] == 0
        assert (tmp_path / "gpu0" / "input" / "example.png").is_file()
        assert farm.lost() == set() and farm.alive() == {"gpu0": True}
    (restart,) = restarts_since(tmp_path, started)
    assert restart["worker"] == "gpu0" and restart["url"] == url
    assert (restart["cause"], restart["detail"]) == ("exited", "killed by SIGKILL")
    assert restart["exit_code"] == -signal.SIGKILL and restart["old_pid"] == old.pid
    assert restart["new_pid"] == new_pid and restart["back_at"] >= restart["ts"]
    assert [event for event, _ in seen] == ["restart", "up"]
    log = (tmp_path / "gpu0" / "sim.log").read_text()
    assert "gpu0: restart 1 (exited): killed by SIGKILL" in log
    assert f"gpu0: back up as pid {new_pid} after restart 1" in log


def test_a_server_killed_again_and_again_is_given_up(tmp_path: Path) -> None:
    specs = [SimWorkerSpec("gpu0", "RTX 5090", 32), SimWorkerSpec("gpu1", "RTX 3090", 24)]
    policy = RestartPolicy(backoff_s=(0.1,), max_restarts=1, stable_after_s=60)
    with SimFarm(specs, tmp_path, restart=policy) as farm:
        first = farm.processes["gpu0"].pid
        os.kill(first, signal.SIGKILL)
        second = back_up(farm, "gpu0", first)
        os.kill(second, signal.SIGKILL)  # down again before it was up stable_after_s
        wait_for(lambda: farm.lost(), "gpu0 given up")
        assert farm.lost() == {"gpu0"} and farm.alive() == {"gpu0": False, "gpu1": True}
        assert farm.processes["gpu0"].pid == second  # not started a third time
    assert events_of(tmp_path) == [("restart", "exited"), ("up", ""), ("gave_up", "exited")]
    gave_up = read_records(farm_paths(tmp_path))[-1]
    assert gave_up["detail"].startswith("gpu0: given up after 1 restarts in a row")
    assert "given up after 1 restarts in a row" in (tmp_path / "gpu0" / "sim.log").read_text()


def test_a_server_whose_port_is_taken_meanwhile_is_tried_again(tmp_path: Path) -> None:
    policy = RestartPolicy(backoff_s=(1.0,), max_restarts=5, stable_after_s=60)
    with SimFarm([SimWorkerSpec("gpu0", "RTX 5090", 32)], tmp_path, restart=policy) as farm:
        url, old = farm.urls["gpu0"], farm.processes["gpu0"]
        port = int(url.rsplit(":", 1)[1])
        old.kill()
        old.wait()
        with socket.socket() as squatter:  # something else takes the port while it is down

            def bound() -> bool:
                try:
                    squatter.bind(("127.0.0.1", port))
                except OSError:
                    return False
                squatter.listen()
                return True

            wait_for(bound, "the port taken", timeout=10)
            wait_for(
                lambda: ("restart", "died_at_start") in events_of(tmp_path),
                "a failed restart",
            )
        back_up(farm, "gpu0", old.pid)
        assert farm.urls["gpu0"] == url
    records = read_records(farm_paths(tmp_path))
    assert [r["event"] for r in records][-1] == "up"
    failed = next(r for r in records if r.get("cause") == "died_at_start")
    assert "exited with code 1 before it was ready" in failed["detail"]
    assert f"cannot listen on 127.0.0.1:{port}" in failed["detail"]


def test_stopping_the_farm_stops_a_restart_waiting_for_its_back_off(tmp_path: Path) -> None:
    policy = RestartPolicy(backoff_s=(600.0,), max_restarts=5, stable_after_s=60)
    farm = SimFarm([SimWorkerSpec("gpu0", "RTX 5090", 32)], tmp_path, restart=policy).start()
    old = farm.processes["gpu0"]
    old.kill()
    wait_for(lambda: read_records(farm_paths(tmp_path)), "the restart record")
    farm.stop()  # does not wait the 600 s back-off out
    assert farm.processes["gpu0"] is old and events_of(tmp_path) == [("restart", "exited")]


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "192.0.2.7", "127.0.0.1,0.0.0.0"])
def test_a_farm_on_an_exposed_address_needs_a_yes(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError, match="pass --i-know-this-is-exposed if you mean it"):
        SimFarm([SimWorkerSpec("gpu0", "RTX 5090", 32)], tmp_path, listen=listen)


def test_an_exposed_farm_that_said_yes_starts_with_a_warning(tmp_path: Path) -> None:
    spec = SimWorkerSpec("gpu0", "RTX 5090", 32)
    with SimFarm([spec], tmp_path, listen="0.0.0.0", exposed_ok=True) as farm:
        assert "--i-know-this-is-exposed" in farm.argv(spec)
        assert httpx.get(farm.urls["gpu0"] + "/system_stats", timeout=10).status_code == 200
    log = (tmp_path / "gpu0" / "sim.log").read_text()
    assert "warning: listening on 0.0.0.0 opens the server to the network" in log
    loopback = SimFarm([spec], tmp_path / "lo")
    assert "--i-know-this-is-exposed" not in loopback.argv(spec)
