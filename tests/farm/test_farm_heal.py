"""The built-in farm heals itself: its hero GPU's server killed mid-run, the run still ends well."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from subprocs import run_cli

from videofactory.assembly.probe import probe
from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist

pytestmark = pytest.mark.slow


def _server_of(run: subprocess.Popen[str], worker: str) -> psutil.Process | None:
    """The simulated server of one worker among the run's children (None while there is none)."""
    for child in psutil.Process(run.pid).children(recursive=True):
        try:
            argv = child.cmdline()
        except psutil.Error:
            continue
        if "videofactory.sim" in argv and argv[argv.index("--name") + 1] == worker:
            return child
    return None


def _rows(db_path: Path, sql: str, *args: object) -> list[sqlite3.Row]:
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def _kill_mid_hero(run: subprocess.Popen[str], db_path: Path, timeout: float = 180) -> set[str]:
    """SIGKILL gpu0's server while hero passes are on it; returns those (lost in the crash).

    The server is stopped (SIGSTOP) first, so that what the run's database says is on it
    cannot finish before the kill; if nothing is, it goes on and we try again.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before a hero pass was on gpu0"
        busy = "SELECT id FROM tasks WHERE kind='hero' AND worker='gpu0' AND state IN "
        busy += "('submitted','running')"
        server = _server_of(run, "gpu0")
        if server is None or not _rows(db_path, busy):
            time.sleep(0.05)
            continue
        server.send_signal(signal.SIGSTOP)
        time.sleep(0.3)  # what was in flight reaches the database
        lost = {r["id"] for r in _rows(db_path, busy)}
        if lost:
            server.send_signal(signal.SIGKILL)
            return lost
        server.send_signal(signal.SIGCONT)
    raise AssertionError("no hero pass was ever seen on gpu0")


def test_hero_gpu_killed_mid_run_is_restarted_and_the_run_ends_done(tmp_path):
    # Every shot gets a hero pass: only gpu0 (the RTX 5090) may render them on the built-in
    # farm, so without it back the run could never end.
    plan = plan_rules("warrior in mystical forest", 8, width=320, height=180, clip_s=2.0)
    plan = plan.model_copy(
        update={"shots": [s.model_copy(update={"hero": True}) for s in plan.shots]}
    )
    shots = tmp_path / "shots.yaml"
    shots.write_text(dump_shotlist(plan))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    run = subprocess.Popen(
        [sys.executable, "-m", "videofactory", "render", str(shots), "--json", "--workdir", "w"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lost = _kill_mid_hero(run, tmp_path / "w" / "videofactory.db")
        out, err = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, out[-2000:] + err[-4000:]
    *lines, last = out.strip().splitlines()
    summary = json.loads(last)
    # Whoever follows the run (its --json events, `videofactory logs`) hears of the restart.
    assert "worker_restarted" in [json.loads(line)["kind"] for line in lines]
    assert abs(probe(tmp_path / summary["final"]).duration_s - 8.0) <= 0.1
    run_id = summary["run_id"]
    shown = json.loads(run_cli(["show", run_id, "--json", "--workdir", "w"], cwd=tmp_path).stdout)
    assert shown["state"] == "done"
    heroes = [t for t in shown["tasks"] if t["kind"] == "hero"]
    assert len(heroes) == 4 and all(t["state"] == "done" and t["worker"] == "gpu0" for t in heroes)
    # Every GPU task was rendered exactly once to the end; each lost one failed on the
    # killed server first, and was rendered again (once) on the restarted one.
    done: dict[str, list[str]] = {}
    for a in shown["attempts"]:
        if a["state"] == "done":
            done.setdefault(a["task_id"], []).append(a["worker"])
    gpu_tasks = [t["id"] for t in shown["tasks"] if t["kind"] in ("keyframe", "clip", "hero")]
    assert all(len(done.get(tid, [])) == 1 for tid in gpu_tasks), done
    for tid in lost:
        failed = [a for a in shown["attempts"] if a["task_id"] == tid and a["state"] == "failed"]
        assert failed and all(a["worker"] == "gpu0" for a in failed), failed
        assert done[tid] == ["gpu0"]
    events = _rows(
        tmp_path / "w" / "videofactory.db",
        "SELECT kind, message FROM events WHERE run_id=? ORDER BY id",
        run_id,
    )
    messages = [(e["kind"], e["message"]) for e in events]
    assert any(k == "worker_down" and m.startswith("gpu0:") for k, m in messages), messages
    assert ("worker_up", "gpu0 answers again") in messages
    restarted = [m for k, m in messages if k == "worker_restarted"]
    assert len(restarted) == 1, messages
    assert restarted[0].startswith(
        "gpu0 restarted by the built-in farm (exited: killed by SIGKILL)"
    )
    assert "back " in restarted[0]
