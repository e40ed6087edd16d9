"""The SQLite job store: states written and read back, WAL, attempts before posting."""

from __future__ import annotations

import sqlite3

import pytest

from videofactory.errors import StoreError
from videofactory.farm.dag import build_tasks
from videofactory.planning import plan_rules
from videofactory.store import RunState, Store, TaskState


def _run(store, tmp_path, run_id="r1"):
    sl = plan_rules("warrior in mystical forest", 10)
    store.create_run(
        run_id,
        concept=sl.concept,
        duration=sl.duration,
        run_dir=tmp_path / run_id,
        farm={"workers": []},
        settings={},
        shots=[s.model_dump(mode="json") for s in sl.shots],
    )
    store.add_tasks(run_id, [t.to_record() for t in build_tasks(run_id, sl)])
    return sl


def test_wal_and_round_trip(tmp_path):
    with Store(tmp_path / "db.sqlite") as store:
        sl = _run(store, tmp_path)
        tasks = store.tasks("r1")
        assert [t.kind for t in tasks][:2] == ["keyframe", "clip"]
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
