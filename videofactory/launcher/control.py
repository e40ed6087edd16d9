"""What `farm up`, `farm down` and `farm status` do (synchronous, for the CLI and for scripts).

``farm_up`` checks everything first (nothing starts if a line is wrong), then runs the
supervisor: here (``foreground=True``) or as a process of its own that outlives the command
(``python -m videofactory farm up --foreground`` in a new session, its output in
``logs/supervisor.out``), waiting until every server answers or failed. ``farm_down`` asks the
supervisor to stop its servers and, if it is gone, stops the servers it recorded itself;
only processes the launcher started (same pid, same start time) are ever signalled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from videofactory.config import FarmConfig
from videofactory.errors import ConfigError
from videofactory.exposure import EXPOSED_FLAG
from videofactory.farm.workers import probe_farm
from videofactory.launcher.checks import count_gpus, preflight
from videofactory.launcher.plan import build_specs, managed_workers
from videofactory.launcher.procs import is_ours, stop_process, tree_rss
from videofactory.launcher.state import (
    FarmPaths,
    SupervisorLock,
    farm_paths,
    read_state,
    write_state,
)
from videofactory.launcher.supervisor import OnEvent, Supervisor
from videofactory.pychild import child_env, python_module

__all__ = ["check_farm", "farm_down", "farm_status", "farm_up"]

#: Extra seconds the command waits for a detached supervisor beyond the servers' start time.
SUPERVISOR_START_S = 60.0


def check_farm(farm: FarmConfig) -> None:
    """Raise one ConfigError listing every problem (one line each) before anything starts."""
    if not managed_workers(farm):
        raise ConfigError(
            "no worker of the farm is managed; mark the ones `farm up` should start with "
            "managed: true (docs/farm-launcher.md)"
        )
    paths = farm_paths(farm)
    state = read_state(paths)
    running = {
        wid: int(w["pid"])
        for wid, w in (state.get("workers") or {}).items()
        if isinstance(w, dict) and is_ours(w.get("pid"), w.get("create_time"))
    }
    leftovers = [
        f"{wid}: its server from an earlier `farm up` (pid {pid}) still runs without its "
        "supervisor; `videofactory farm down` stops it"
        for wid, pid in running.items()
    ]
    specs = build_specs(farm, paths.folder)
    gpus = farm.launcher.gpus if farm.launcher.gpus is not None else count_gpus()
    problems = leftovers + preflight(farm, specs, gpus=gpus, running=running)
    if problems:
        raise ConfigError("the farm cannot start:\n" + "\n".join(f"  {p}" for p in problems))


def farm_up(
    farm: FarmConfig,
    farm_file: Path | None,
    *,
    foreground: bool = False,
    on_failure: str = "keep",
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """Start the managed servers; returns ``farm_status`` plus ``failures`` (one line each).

    With ``foreground`` the supervisor runs here until SIGTERM/SIGINT. Already up: the
    status, with ``already_up`` true.
    """
    paths = farm_paths(farm)
    if SupervisorLock(paths).held_elsewhere():
        return {**farm_status(farm), "already_up": True, "failures": []}
    check_farm(farm)
    if foreground:
        sup = Supervisor(farm, farm_file=farm_file, on_failure=on_failure, on_event=on_event)
        code = asyncio.run(sup.run())
        return {"exit_code": code, "failures": sup.failures}
    if farm_file is None:
        raise ConfigError("farm up needs a farm file (--farm) to hand to its supervisor")
    child = _spawn_supervisor(paths, farm_file, on_failure, farm.launcher.i_know_this_is_exposed)
    state = _wait_started(paths, child, farm.launcher.start_timeout_s + SUPERVISOR_START_S)
    return {**farm_status(farm), "failures": list(state.get("failures") or [])}


def _spawn_supervisor(
    paths: FarmPaths, farm_file: Path, on_failure: str, exposed_ok: bool = False
) -> subprocess.Popen[bytes]:
    paths.logs.mkdir(parents=True, exist_ok=True)
    # The supervisor imports this very package, installed or not, and nothing from the
    # folder `farm up` was typed in (a json.py there is not the standard library's).
    env = child_env()
    argv = python_module("videofactory", "farm", "up", "--foreground")
    argv += ["--farm", str(Path(farm_file).absolute()), "--on-failure", on_failure]
    argv += [EXPOSED_FLAG] if exposed_ok else []  # said on our command line, not in the file
    with open(paths.logs / "supervisor.out", "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # it outlives this command and ignores our Ctrl-C
        )


def _wait_started(
    paths: FarmPaths, child: subprocess.Popen[bytes], timeout: float
) -> dict[str, Any]:
    """Wait until the supervisor says every server answers or failed."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(paths)
        mine = (state.get("supervisor") or {}).get("pid") == child.pid
        if mine and state.get("phase") == "running":
            return state
        if mine and state.get("phase") in ("failed", "stopped"):
            # It gave up (and stopped what it had started): let it finish leaving.
            child.wait(timeout=30)
            return state
        code = child.poll()
        if code is not None:
            if mine:
                return state
            raise ConfigError(
                f"the farm supervisor exited with code {code} before starting the servers: "
                f"{_tail(paths.logs / 'supervisor.out')}"
            )
        if time.monotonic() > deadline:
            child.send_signal(signal.SIGTERM)
            raise ConfigError(
                f"the farm did not come up within {timeout:.0f} s (stopped it); "
                f"see {paths.supervisor_log}"
            )
        time.sleep(0.2)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(line.strip() for line in text[-lines:]) or "(no output)"


def farm_down(farm: FarmConfig, *, grace: float | None = None) -> dict[str, Any]:
    """Stop the supervisor and every server it started; returns what happened to each.

    Only processes the launcher recorded (pid and start time) are signalled: SIGTERM, then
    SIGKILL after ``grace`` (default: the farm's stop_grace_s).
    """
    paths = farm_paths(farm)
    grace = farm.launcher.stop_grace_s if grace is None else grace
    lock = SupervisorLock(paths)
    state = read_state(paths)
    supervisor = "not running"
    if lock.held_elsewhere():
        sup = state.get("supervisor") or {}
        if not is_ours(sup.get("pid"), sup.get("create_time")):
            raise ConfigError(
                f"a supervisor holds {paths.lock} but is not the one recorded in {paths.state}; "
                "stop it by hand"
            )
        os.kill(int(sup["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + grace + 15.0
        while lock.held_elsewhere() and time.monotonic() < deadline:
            time.sleep(0.1)
        supervisor = "stopped" if not lock.held_elsewhere() else "still running"
        state = read_state(paths)
    outcome: dict[str, Any] = {}
    workers = state.get("workers") or {}
    for wid, w in workers.items():
        if not isinstance(w, dict):
            continue
        if is_ours(w.get("pid"), w.get("create_time")):
            outcome[wid] = stop_process(int(w["pid"]), float(w["create_time"]), grace)
            w.update(state="stopped", pid=None, create_time=None)
        else:
            outcome[wid] = "stopped" if w.get("state") == "stopped" else "not running"
    if state and not lock.held_elsewhere():
        with lock.held() as taken:
            if taken:
                state["phase"] = "stopped"
                write_state(paths, state)
    return {
        "farm": farm.name,
        "folder": str(paths.folder),
        "supervisor": supervisor,
        "workers": outcome,
    }


def farm_status(farm: FarmConfig) -> dict[str, Any]:
    """Each worker: its process (pid, uptime, RSS, restarts, last exit) and its ComfyUI state."""
    paths = farm_paths(farm)
    state = read_state(paths)
    alive = SupervisorLock(paths).held_elsewhere()
    sup = state.get("supervisor") or {}
    recorded = state.get("workers") or {}
    probes = {s.id: s for s in asyncio.run(probe_farm(farm))}
    now = time.time()
    rows = []
    for w in farm.workers:
        rec = recorded.get(w.id) if w.managed else None
        rec = rec if isinstance(rec, dict) else {}
        pid, started = rec.get("pid"), rec.get("create_time")
        live = is_ours(pid, started)
        proc_state = rec.get("state") or ("not started" if w.managed else "not managed")
        if w.managed and not alive and rec and proc_state != "failed":
            proc_state = "unsupervised" if live else "stopped"
        probe = probes[w.id].to_json()
        rows.append(
            {
                **probe,
                "managed": w.managed,
                "cuda_device": w.cuda_device,
                "port": w.port,
                "process": proc_state,
                "pid": pid if live else None,
                "uptime_s": round(now - float(rec["started_at"]), 1)
                if live and rec.get("started_at")
                else None,
                "rss_bytes": tree_rss(int(pid)) if live and pid else None,
                "rss_limit_bytes": rec.get("rss_limit_bytes"),
                "restarts": rec.get("restarts", 0 if w.managed else None),
                "last_exit": rec.get("last_exit"),
                "cause": rec.get("cause", ""),
                "log": rec.get("log"),
                "process_error": rec.get("error", ""),
            }
        )
    return {
        "farm": farm.name,
        "folder": str(paths.folder),
        "supervisor": {
            "running": alive,
            "pid": sup.get("pid") if alive else None,
            "phase": state.get("phase", "never started") if alive else "not running",
        },
        "workers": rows,
    }
