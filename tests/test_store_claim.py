"""Two processes never drive one run: claims made by real processes on one run database."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from subprocess import PIPE

import pytest
from subprocs import python_child, run_cli

from videofactory.factory import record_run
from videofactory.planning import plan_rules
from videofactory.store import DB_NAME, Store

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

#: A process that claims a run once ``go`` exists, prints the answer, and then holds on (it
#: stays alive, so its claim stays good) until its standard input closes.
CLAIMER = """
import json, os, sys, time
from pathlib import Path
from videofactory.store import Store
db, run_id, go = sys.argv[1:4]
store = Store(db)
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.005)
claim = store.claim_run(run_id, os.getpid())
print(json.dumps({"pid": os.getpid(), "won": claim.won, "owner": claim.owner}), flush=True)
sys.stdin.read()
"""


def _record(tmp_path: Path) -> tuple[str, Path]:
    plan = plan_rules("cat on the moon", 4, width=160, height=96, clip_s=2.0)
    run_id, _ = record_run(plan, workdir=tmp_path / "w")
    return run_id, tmp_path / "w" / DB_NAME


def _owner(db: Path, run_id: str) -> int | None:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT owner_pid FROM runs WHERE id=?", (run_id,)).fetchone()[0]


def test_processes_claiming_at_once_exactly_one_wins(tmp_path):
    run_id, db = _record(tmp_path)
    go = tmp_path / "go"
    with contextlib.ExitStack() as stack:
        children = [
            stack.enter_context(python_child("-c", CLAIMER, str(db), run_id, str(go), stdin=PIPE))
            for _ in range(6)
        ]
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        go.touch()  # all of them claim now
        answers = [json.loads(child.stdout.readline()) for child in children]
        winners = [a for a in answers if a["won"]]
        assert len(winners) == 1, answers
        winner = winners[0]["pid"]
        assert all(a["owner"] == winner for a in answers), answers
        assert _owner(db, run_id) == winner


def test_a_resume_is_refused_while_another_process_drives_the_run(tmp_path):
    run_id, db = _record(tmp_path)
    go = tmp_path / "go"
    go.touch()
    with python_child("-c", CLAIMER, str(db), run_id, str(go), stdin=PIPE) as owner:
        assert owner.stdout.readline().strip() == "ready"
        assert json.loads(owner.stdout.readline())["won"]
        res = run_cli(["resume", run_id, "--workdir", "w"], cwd=tmp_path, timeout=120)
        assert res.returncode == 1, res.stdout + res.stderr
        (line,) = res.stderr.strip().splitlines()
        assert f"run {run_id} is being driven by process {owner.pid}" in line
        assert "Traceback" not in res.stderr
        # the refused resume changed nothing: the owner, the state, the log, the report
        assert _owner(db, run_id) == owner.pid
        with contextlib.closing(sqlite3.connect(db)) as con:
            assert con.execute("SELECT state FROM runs").fetchone()[0] == "planned"
            assert con.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
            assert con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
        assert not (tmp_path / "w" / run_id / "report.html").exists()
        owner.stdin.close()
        owner.wait(timeout=30)
    # its owner gone, the run is free again: a claim (what resume does first) takes it over
    with Store(db) as store:
        taken = store.claim_run(run_id, os.getpid())
    assert (taken.won, taken.previous) == (True, owner.pid)


def test_the_dispatcher_refuses_a_run_another_process_holds(tmp_path):
    # `resume` says so before starting a farm; the dispatcher's claim is what decides (the
    # owner may have claimed it in between): refused, it changes nothing, writes no report.

    from videofactory.config import FarmConfig
    from videofactory.errors import StoreError
    from videofactory.factory import _drive, _recorded_shotlist

    run_id, db = _record(tmp_path)
    go = tmp_path / "go"
    go.touch()
    with python_child("-c", CLAIMER, str(db), run_id, str(go), stdin=PIPE) as owner:
        assert owner.stdout.readline().strip() == "ready"
        assert json.loads(owner.stdout.readline())["won"]
        with Store(db) as store:
            record = store.run(run_id)
            farm = FarmConfig.model_validate(record["farm"])
            shotlist = _recorded_shotlist(store, record)
            run_dir = Path(record["run_dir"])
            with pytest.raises(StoreError, match=f"driven by process {owner.pid}"):
                _drive(store, farm, run_id, run_dir, shotlist, None)
            after = store.run(run_id)
            assert (after["owner_pid"], after["state"]) == (owner.pid, "planned")
            assert store.events(run_id) == []
        assert not (run_dir / "report.html").exists()
