"""The SQLite job store: states written and read back, WAL, attempts before posting."""

from __future__ import annotations

import sqlite3

import pytest

from videofactory.errors import StoreError
from videofactory.farm.dag import build_tasks
from videofactory.planning import plan_rules
from videofactory.store import RunState, Store, TaskState

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


def _run(store, tmp_path, run_id="r1"):
    sl = plan_rules("warrior in mystical forest", 10)
    store.create_run(
        run_id, plan=sl.model_dump(mode="json"), run_dir=tmp_path / run_id, farm={"workers": []}
    )
    store.add_tasks(run_id, [t.to_record() for t in build_tasks(run_id, sl)])
    return sl


def test_wal_and_round_trip(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        sl = _run(store, tmp_path)
        tasks = store.tasks("r1")
        # The film's look (a character sheet, a setting plate) first, then shot by shot.
        assert [t.kind for t in tasks][:4] == ["look", "look", "keyframe", "clip"]
        assert all(t.state == "pending" for t in tasks)
        assert [s["id"] for s in store.shots("r1")] == [s.id for s in sl.shots]
    mode = sqlite3.connect(tmp_path / "db.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_attempt_recorded_before_post(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        tid = store.tasks("r1")[0].id
        aid = store.start_attempt(tid, "r1", "gpu5", "prompt-123")
        # a second connection (another process) sees it at once: it is committed
        other = sqlite3.connect(tmp_path / "db.sqlite")
        row = other.execute(
            "SELECT state, prompt_id, worker FROM tasks WHERE id=?", (tid,)
        ).fetchone()
        assert row == ("submitting", "prompt-123", "gpu5")
        store.set_attempt_state(aid, TaskState.running)
        store.set_task_state(tid, TaskState.running)
        store.set_task_state(tid, TaskState.done)
        t = store.task(tid)
        assert t.state == "done" and t.attempts == 1 and t.started_at and t.finished_at
        assert store.attempts("r1")[0]["state"] == "running"


def test_add_tasks_is_idempotent(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        sl = _run(store, tmp_path)
        store.add_tasks("r1", [t.to_record() for t in build_tasks("r1", sl)])
        assert len(store.tasks("r1")) == len(build_tasks("r1", sl))


def test_run_lookup_by_prefix_and_missing(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path, "20260101-abc")
        assert store.run("20260101")["id"] == "20260101-abc"
        store.set_run_state("20260101-abc", RunState.failed, error="boom")
        assert store.run("20260101-abc")["error"] == "boom"
        with pytest.raises(StoreError, match="videofactory runs"):
            store.run("nope")


def test_events(tmp_path):
    with Store(":memory:") as store:
        _run(store, tmp_path)
        store.add_event("r1", "log", "hello", data={"x": 1})
        assert store.events("r1")[0]["data"] == {"x": 1}


def test_a_batch_commits_together_or_not_at_all(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        a, b = (t.id for t in store.tasks("r1")[:2])
        other = sqlite3.connect(tmp_path / "db.sqlite")

        def state(tid):
            return other.execute("SELECT state FROM tasks WHERE id=?", (tid,)).fetchone()[0]

        with store.batch():
            store.set_task_state(a, TaskState.done)
            store.set_task_state(b, TaskState.ready)
            store.add_event("r1", "task_done", "a done", task_id=a)
            assert state(a) == "pending"  # not committed until the block ends
        assert (state(a), state(b)) == ("done", "ready")
        with pytest.raises(RuntimeError), store.batch():
            store.set_task_state(a, TaskState.failed)
            store.add_event("r1", "task_failed", "boom", task_id=a)
            raise RuntimeError("the action failed")
        assert state(a) == "done"  # rolled back, event included
        assert [e["kind"] for e in store.events("r1")] == ["task_done"]
        store.set_task_state(b, TaskState.done)  # a later write is its own transaction again
        assert state(b) == "done"


def _dead_pid():
    """The pid of a process that has exited and been reaped."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_claim_is_refused_while_the_owner_lives_and_changes_nothing(tmp_path):
    import os

    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        first = store.claim_run("r1", os.getpid())
        assert (first.won, first.owner, first.previous) == (True, os.getpid(), None)
        again = store.claim_run("r1", os.getpid())  # the owner itself: still its run
        assert again.won and again.previous == os.getpid()
        other = store.claim_run("r1", os.getpid() + 1)
        assert (other.won, other.owner) == (False, os.getpid())
        assert store.run("r1")["owner_pid"] == os.getpid()  # not stolen
        # another process cannot let go of it either; the owner can
        assert not store.release_run("r1", os.getpid() + 1)
        assert store.run("r1")["owner_pid"] == os.getpid()
        assert store.release_run("r1", os.getpid())
        assert store.run("r1")["owner_pid"] is None
        with pytest.raises(StoreError, match="no run"):
            store.claim_run("nope", os.getpid())


def test_a_dead_owners_claim_is_taken_over(tmp_path):
    import os

    dead = _dead_pid()
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        assert store.claim_run("r1", dead).won
        taken = store.claim_run("r1", os.getpid())
        assert (taken.won, taken.owner, taken.previous) == (True, os.getpid(), dead)
        assert store.run("r1")["owner_pid"] == os.getpid()


def test_an_attempts_outcome_is_written_once_unless_its_server_says_otherwise(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        tid = store.tasks("r1")[0].id
        aid = store.start_attempt(tid, "r1", "gpu1", "p-1")
        store.set_attempt_state(aid, TaskState.running)
        assert store.end_attempt(aid, TaskState.cancelled, "run cancelled")
        # a stopping process closing it later changes nothing ...
        assert not store.end_attempt(aid, TaskState.failed, "CancelledError")
        (a,) = store.attempts("r1")
        assert (a["state"], a["error"]) == ("cancelled", "run cancelled") and a["finished_at"]
        # ... the server's word does: it finished there
        assert store.end_attempt(aid, TaskState.done, None, force=True)
        (a,) = store.attempts("r1")
        assert (a["state"], a["error"]) == ("done", None)
        assert store.attempt_of_prompt(tid, "p-1")["id"] == aid
        assert store.attempt_of_prompt(tid, "p-2") is None


def test_a_job_found_again_reopens_its_attempt(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        a, b = (t.id for t in store.tasks("r1")[:2])
        queued = store.start_attempt(a, "r1", "gpu1", "p-a")
        store.set_attempt_state(queued, TaskState.submitted)
        started = store.start_attempt(b, "r1", "gpu2", "p-b")
        store.set_attempt_state(started, TaskState.running)
        store.close_open_attempts("r1", TaskState.cancelled, "run interrupted (Ctrl-C or SIGTERM)")
        store.reopen_attempt(queued)
        store.reopen_attempt(started)
        rows = {r["id"]: r for r in store.attempts("r1")}
        assert rows[queued]["state"] == "submitted" and rows[started]["state"] == "running"
        assert all(r["error"] is None and r["finished_at"] is None for r in rows.values())
        assert store.task(a).attempts == 1  # the same attempt: not counted again


def test_close_open_attempts_keeps_what_is_followed(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        t1, t2, t3 = (t.id for t in store.tasks("r1")[:3])
        done = store.start_attempt(t1, "r1", "gpu1", "p1")
        store.set_attempt_state(done, TaskState.done)
        kept = store.start_attempt(t2, "r1", "gpu1", "p2")
        lost = store.start_attempt(t3, "r1", "gpu2", "p3")
        closed = store.close_open_attempts("r1", TaskState.failed, "lost", keep=frozenset({kept}))
        assert closed == 1
        states = {r["id"]: (r["state"], r["error"]) for r in store.attempts("r1")}
        assert states == {
            done: ("done", None),
            kept: ("submitting", None),
            lost: ("failed", "lost"),
        }


def test_bookkeeping_problems_names_what_is_untrue(tmp_path):
    import os

    from videofactory.store import bookkeeping_problems

    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        t1, t2 = (t.id for t in store.tasks("r1")[:2])
        a1 = store.start_attempt(t1, "r1", "gpu1", "p1")
        store.set_attempt_state(a1, TaskState.done)
        store.set_task_state(t1, TaskState.done)
        store.start_attempt(t2, "r1", "gpu2", "p2")
        assert bookkeeping_problems(store, "r1") == []  # a run in progress may have open ones
        store.claim_run("r1", _dead_pid())
        store.set_run_state("r1", RunState.done)
        problems = bookkeeping_problems(store, "r1")
        assert any(f"of {t2} is still submitting in a done run" in p for p in problems)
        assert any("still names process" in p for p in problems)
        # an adopted job recorded as a second attempt of the same prompt (the old way)
        store.start_attempt(t2, "r1", "gpu2", "p2")
        store.close_open_attempts("r1", TaskState.done, "")
        store.claim_run("r1", os.getpid())
        store.release_run("r1", os.getpid())
        assert bookkeeping_problems(store, "r1") == ["prompt p2 has 2 attempts"]


def test_the_shot_list_is_recorded_once_and_read_back_whole(tmp_path):
    with Store(tmp_path / "s.db") as store:
        sl = _run(store, tmp_path)
        assert store.plan("r1") == sl.model_dump(mode="json")
        assert "plan_json" not in store.run("r1")


def test_runs_recorded_before_the_plan_column_get_theirs_from_shots_yaml(tmp_path):
    import sqlite3

    from videofactory.store import SCHEMA

    # A database of the version before: the shot list's fields lived in shots.yaml only.
    db = sqlite3.connect(tmp_path / "old.db")
    for script in SCHEMA[:2]:
        db.executescript(script)
    db.execute("PRAGMA user_version=2")
    for rid, folder in (("with-yaml", tmp_path / "a"), ("without", tmp_path / "b")):
        db.execute(
            "INSERT INTO runs (id, concept, duration, state, run_dir, farm_json, settings_json,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (rid, "cat", 4.0, "done", str(folder), "{}",
             '{"width": 320, "height": 180, "fps": 12, "assemble": true}', 0, 0),
        )  # fmt: skip
    db.commit()
    db.close()
    (tmp_path / "a").mkdir()
    yaml_text = "concept: cat\nduration: 4\nstyle: ink wash\nwidth: 320\nheight: 180\nshots: []\n"
    (tmp_path / "a" / "shots.yaml").write_text(yaml_text)
    with Store(tmp_path / "old.db") as store:
        assert store.plan("with-yaml")["style"] == "ink wash"
        assert store.plan("without") == {"concept": "cat", "duration": 4.0, "width": 320,
                                         "height": 180, "fps": 12, "shots": []}  # fmt: skip


def test_a_reused_task_is_one_done_attempt_with_its_key_and_counts_apart(tmp_path):
    from videofactory.store import REUSED_WORKER, bookkeeping_problems

    with Store(tmp_path / "db.sqlite") as store:
        _run(store, tmp_path)
        tasks = store.tasks("r1")
        keyframe = next(t.id for t in tasks if t.kind == "keyframe")
        clip = next(t.id for t in tasks if t.kind == "clip")
        speech = next(t.id for t in tasks if t.kind == "speech")
        rendered = store.start_attempt(keyframe, "r1", "gpu5", "p1")
        store.set_attempt_state(rendered, TaskState.done, content_key="k" * 64)
        store.set_task_state(keyframe, TaskState.done)
        store.record_reuse(clip, "r1", "c" * 64)
        store.set_task_state(speech, TaskState.done)  # spoken here: no attempt
        attempts = {a["task_id"]: a for a in store.attempts("r1")}
        assert attempts[keyframe]["content_key"] == "k" * 64 and not attempts[keyframe]["reused"]
        reused = attempts[clip]
        assert reused["reused"] == 1 and reused["content_key"] == "c" * 64
        assert reused["worker"] == REUSED_WORKER and reused["prompt_id"] is None
        assert reused["state"] == "done" and reused["finished_at"] is not None
        row = store.task(clip)
        assert (row.state, row.worker, row.prompt_id, row.attempts) == ("done", "cache", None, 1)
        assert store.reuse_counts("r1") == (1, 2)  # reused: the clip; rendered: keyframe, speech
        assert bookkeeping_problems(store, "r1") == []


def test_a_database_of_the_version_before_gets_the_reuse_columns(tmp_path):
    import sqlite3

    from videofactory.store import SCHEMA

    db = sqlite3.connect(tmp_path / "old.db")
    for script in SCHEMA[:3]:
        db.executescript(script)
    db.execute("PRAGMA user_version=3")
    db.execute(
        "INSERT INTO attempts (task_id, run_id, worker, prompt_id, state, created_at)"
        " VALUES ('r/s01/clip', 'r', 'gpu1', 'p1', 'done', 0)"
    )
    db.commit()
    db.close()
    with Store(tmp_path / "old.db") as store:
        (old,) = store.attempts("r")
        assert old["content_key"] is None and old["reused"] == 0
    assert sqlite3.connect(tmp_path / "old.db").execute("PRAGMA user_version").fetchone()[0] >= 4


def test_a_run_recorded_to_be_planned_gets_its_plan_once_unless_cancelled(tmp_path):
    """``generate --detach`` records a run as planning (no shots, no tasks); its process
    records the plan, which makes it planned, only while it is still planning."""
    sl = plan_rules("warrior in mystical forest", 10)
    plan, fields = sl.model_dump(mode="json"), {"concept": sl.concept, "duration": 10.0}
    with Store(tmp_path / "db.sqlite") as store:
        for run_id in ("r1", "r2"):
            store.create_run(run_id, plan=fields, run_dir=tmp_path / run_id,
                             farm={"workers": []}, state=RunState.planning)  # fmt: skip
        assert store.run("r1")["state"] == "planning"
        assert store.shots("r1") == [] and store.tasks("r1") == []
        assert store.plan("r1")["concept"] == sl.concept

        tasks = [t.to_record() for t in build_tasks("r1", sl)]
        assert store.set_plan("r1", plan, tasks)
        assert store.run("r1")["state"] == "planned"
        assert [s["id"] for s in store.shots("r1")] == [s.id for s in sl.shots]
        assert len(store.tasks("r1")) == len(tasks)
        assert store.plan("r1")["planner"] == "rules"
        assert not store.set_plan("r1", plan, tasks)  # planned already: nothing written twice

        store.set_run_state("r2", RunState.cancelled, error="cancelled by the user")
        assert not store.set_plan("r2", plan, [t.to_record() for t in build_tasks("r2", sl)])
        assert store.shots("r2") == [] and store.tasks("r2") == []
        assert store.run("r2")["state"] == "cancelled"

        store.set_run_state("r2", RunState.failed, error="planning failed: no")
        store.restart_planning("r2")  # resume plans it anew
        again = store.run("r2")
        assert again["state"] == "planning" and again["error"] is None
