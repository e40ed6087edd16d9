"""The job store: runs, shots, tasks, attempts, artifacts and events in one SQLite file (WAL).

Every state change is written (and committed) *before* the action it announces: an attempt
row with its prompt id exists before the workflow is posted, so that a run killed at any point
can find its jobs again. One database per work directory (``runs/videofactory.db``), shared by
every run in it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from videofactory.detach import pid_alive
from videofactory.errors import StoreError

__all__ = [
    "DB_NAME",
    "FINISHED",
    "IN_FLIGHT",
    "REUSED_WORKER",
    "Claim",
    "RunState",
    "Store",
    "TaskRow",
    "TaskState",
    "check_workdir",
    "bookkeeping_problems",
    "driven_elsewhere",
    "heroes_missing",
]

DB_NAME = "videofactory.db"


class RunState(str, Enum):
    """Where a run stands."""

    #: Recorded with what to plan (``generate --detach``); its process plans it, then it is
    #: ``planned`` (or ``failed``, the planner's reason as its error). No shots nor tasks yet.
    planning = "planning"
    #: Planned and recorded, nothing dispatched yet.
    planned = "planned"
    #: Tasks are being dispatched and rendered.
    running = "running"
    #: final.mp4 exists and was probed.
    done = "done"
    #: Every shot rendered and spoken; not assembled (``--no-assemble``).
    rendered = "rendered"
    #: A task failed for good; finished work is kept.
    failed = "failed"
    #: Cancelled by the user.
    cancelled = "cancelled"


class TaskState(str, Enum):
    """Where a task stands; written before the action it announces."""

    #: Waiting for the tasks it depends on.
    pending = "pending"
    #: Dependencies done; waiting for a worker.
    ready = "ready"
    #: About to be posted to a server (its prompt id is already recorded).
    submitting = "submitting"
    #: Accepted by the server; queued or running there.
    submitted = "submitted"
    #: The server started it.
    running = "running"
    #: Its outputs are downloaded and checked.
    done = "done"
    #: Failed for good.
    failed = "failed"
    #: Cancelled.
    cancelled = "cancelled"
    #: Left out on purpose (a hero pass no GPU could render): the film goes on without it,
    #: its error says why, and ``resume --heroes`` tries it again.
    skipped = "skipped"


#: The worker a task finished from the artifact cache names (it ran nowhere).
REUSED_WORKER = "cache"
#: The task kinds whose outputs are kept in the artifact cache (every GPU and speech task).
CACHED_KINDS = frozenset({"look", "keyframe", "clip", "hero", "speech"})

#: Task states whose work is over: what depends on them may go on.
FINISHED = frozenset({TaskState.done.value, TaskState.skipped.value})


def heroes_missing(rows: Iterable[TaskRow]) -> dict[str, str]:
    """Shot id -> why it went out without its hero pass (its hero task skipped)."""
    return {
        t.shot_id or "": t.error or "skipped"
        for t in rows
        if t.kind == "hero" and t.state == TaskState.skipped.value
    }


#: States of a task or attempt in flight, with no outcome yet: posted (or about to be),
#: queued or running.
IN_FLIGHT = (TaskState.submitting.value, TaskState.submitted.value, TaskState.running.value)
#: Run states no process moves on from by itself.
ENDED = (RunState.done.value, RunState.rendered.value, RunState.failed.value,
         RunState.cancelled.value)  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """What ``Store.claim_run`` answered: whether the caller now drives the run, and who does."""

    #: True when the caller drives the run now.
    won: bool
    #: The process driving the run now (the caller's pid when won, the live owner's when not).
    owner: int | None
    #: The owner recorded before the claim: None, the caller itself, or a dead process taken
    #: over (when won), or the live owner (when refused).
    previous: int | None


@dataclass(frozen=True)
class TaskRow:
    """A task as stored."""

    id: str
    run_id: str
    kind: str
    shot_id: str | None
    deps: tuple[str, ...]
    state: str
    worker: str | None
    prompt_id: str | None
    attempts: int
    params: dict[str, Any]
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None


SCHEMA = [
    # Migration 1: the first schema.
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        concept TEXT NOT NULL,
        duration REAL NOT NULL,
        state TEXT NOT NULL,
        run_dir TEXT NOT NULL,
        farm_json TEXT NOT NULL,
        settings_json TEXT NOT NULL DEFAULT '{}',
        final_path TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE shots (
        run_id TEXT NOT NULL REFERENCES runs(id),
        idx INTEGER NOT NULL,
        shot_id TEXT NOT NULL,
        data_json TEXT NOT NULL,
        PRIMARY KEY (run_id, shot_id)
    );
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        kind TEXT NOT NULL,
        shot_id TEXT,
        deps_json TEXT NOT NULL,
        state TEXT NOT NULL,
        worker TEXT,
        prompt_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        params_json TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX tasks_run ON tasks(run_id, state);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        run_id TEXT NOT NULL,
        worker TEXT,
        prompt_id TEXT,
        state TEXT NOT NULL,
        error TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX attempts_task ON attempts(task_id);
    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        media_json TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE INDEX artifacts_run ON artifacts(run_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        ts REAL NOT NULL,
        task_id TEXT,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        data_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_run ON events(run_id, id);
    """,
    # Migration 2: who drives a run (so two orchestrators never drive one), and the speeds
    # the scheduler learned per worker and task kind (kept across runs, keyed by server URL).
    """
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    CREATE TABLE speeds (
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        speed REAL NOT NULL,
        samples INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (url, kind)
    );
    """,
    # Migration 3: the shot list's own fields (concept, size, rate, style ...) with the run, so
    # that the run database is the one record of it (the shots stay in ``shots``); filled for
    # older runs from their shots.yaml, else from what the runs table has (``_fill_plans``).
    """
    ALTER TABLE runs ADD COLUMN plan_json TEXT;
    """,
    # Migration 4: the content key of what an attempt made (``videofactory.cache.keys``), and
    # whether the attempt reused a cached file instead of rendering (no server, no prompt).
    """
    ALTER TABLE attempts ADD COLUMN content_key TEXT;
    ALTER TABLE attempts ADD COLUMN reused INTEGER NOT NULL DEFAULT 0;
    """,
    # Migration 5: takes (``--takes``): the automatic score of each take's clip, and the take
    # the user picked per shot (``videofactory pick``), maybe as the best (a hero pass on it).
    """
    CREATE TABLE take_scores (
        run_id TEXT NOT NULL,
        shot_id TEXT NOT NULL,
        take INTEGER NOT NULL,
        score REAL,
        measures_json TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, shot_id, take)
    );
    CREATE TABLE picks (
        run_id TEXT NOT NULL,
        shot_id TEXT NOT NULL,
        take INTEGER NOT NULL,
        hero INTEGER NOT NULL DEFAULT 0,
        picked_at REAL NOT NULL,
        PRIMARY KEY (run_id, shot_id)
    );
    """,
]


def check_workdir(workdir: Path | str) -> Path:
    """A work directory (``--workdir``): a folder, or a path where one can be made."""
    workdir = Path(workdir)
    for folder in (workdir, *workdir.parents):
        if folder.exists():
            if not folder.is_dir():
                what = f"--workdir {workdir}" + ("" if folder == workdir else f": {folder}")
                raise StoreError(
                    f"{what} is a file, not a folder; pass --workdir a folder for the runs "
                    "(default: ./runs)"
                )
            break
    return workdir


class Store:
    """A SQLite job store. Thread-safe: one connection, guarded by a lock."""

    def __init__(self, path: Path | str, *, tracer: Callable[[str, Any], None] | None = None):
        self.path = Path(path) if str(path) != ":memory:" else path
        self._lock = threading.RLock()
        self._depth = 0
        try:
            if isinstance(self.path, Path):
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(
                        f"cannot make the folder {self.path.parent} for the run database: "
                        f"{exc.strerror or exc}"
                    ) from exc
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA foreign_keys=ON")
            if tracer:
                self._db.set_trace_callback(lambda sql: tracer(sql, None))
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run database {path}: {exc}") from exc

    @classmethod
    def for_workdir(cls, workdir: Path) -> Store:
        """The store of a work directory (created on first use)."""
        return cls(check_workdir(workdir) / DB_NAME)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._depth:  # inside batch(): its transaction commits everything at once
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth -= 1

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes in one transaction: all of them are committed (or none) on leaving.

        For changes that happen together (a task done and its children ready); each is still
        committed before whatever action follows the block. Never ``await`` inside it: another
        coroutine's writes would join the transaction.
        """
        with self._tx():
            yield

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SCHEMA[version:], start=version + 1):
            with self._tx() as db:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                if number == 3:
                    _fill_plans(db)
                db.execute(f"PRAGMA user_version={number}")

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        plan: Mapping[str, Any],
        run_dir: Path,
        farm: dict[str, Any],
        settings: dict[str, Any] | None = None,
        state: RunState = RunState.planned,
    ) -> None:
        """Record a new run: its shot list (``plan``: the shot list as JSON data, the one
        record of it; ``plan()`` gives it back), its farm and its run settings. A run still
        to be planned (``state`` planning) has the shot list's fields it knows and no shots;
        ``set_plan`` records them once planned."""
        now = time.time()
        fields = {k: v for k, v in plan.items() if k != "shots"}
        shots = list(plan.get("shots") or [])
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (id, concept, duration, state, run_dir, farm_json, settings_json,"
                " plan_json, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    str(fields.get("concept", "")),
                    float(fields.get("duration", 0.0)),
                    state.value,
                    str(run_dir),
                    json.dumps(farm),
                    json.dumps(settings or {}),
                    json.dumps(fields),
                    now,
                    now,
                ),
            )
            db.executemany(
                "INSERT INTO shots (run_id, idx, shot_id, data_json) VALUES (?,?,?,?)",
                [(run_id, i, s["id"], json.dumps(s)) for i, s in enumerate(shots)],
            )

    def set_plan(self, run_id: str, plan: Mapping[str, Any], tasks: list[dict[str, Any]]) -> bool:
        """Record the shot list and task graph of a run that was ``planning``, which makes it
        ``planned``; False (and nothing written) when it is no longer planning (cancelled
        meanwhile)."""
        fields = {k: v for k, v in plan.items() if k != "shots"}
        with self.batch():
            cur = self._db.execute(
                "UPDATE runs SET state=?, concept=?, duration=?, plan_json=?, updated_at=?"
                " WHERE id=? AND state=?",
                (
                    RunState.planned.value,
                    str(fields.get("concept", "")),
                    float(fields.get("duration", 0.0)),
                    json.dumps(fields),
                    time.time(),
                    run_id,
                    RunState.planning.value,
                ),
            )
            if cur.rowcount != 1:
                return False
            self._db.execute("DELETE FROM shots WHERE run_id=?", (run_id,))
            self._db.executemany(
                "INSERT INTO shots (run_id, idx, shot_id, data_json) VALUES (?,?,?,?)",
                [(run_id, i, s["id"], json.dumps(s)) for i, s in enumerate(plan["shots"])],
            )
            self.add_tasks(run_id, tasks)
        return True

    def restart_planning(self, run_id: str) -> None:
        """Make a run whose planning failed or stopped ``planning`` again, its error cleared
        (``resume`` plans it anew)."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET state=?, error=NULL, updated_at=? WHERE id=?",
                (RunState.planning.value, time.time(), run_id),
            )

    def plan(self, run_id: str) -> dict[str, Any]:
        """A run's shot list as it was recorded (JSON data: its fields and its shots)."""
        with self._lock:
            row = self._db.execute("SELECT plan_json FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}")
        return {**json.loads(row["plan_json"] or "{}"), "shots": self.shots(run_id)}

    def planned(self, run_id: str) -> dict[str, Any]:
        """``plan``, for what needs the shots: one clear line for a run that has none yet (a
        detached ``generate`` still planning it, or whose planning failed or stopped)."""
        plan = self.plan(run_id)
        if plan["shots"]:
            return plan
        record = self.run(run_id)
        how = (
            f"its planning failed: {record['error']}"
            if record.get("error")
            else f"it is still to be planned: `videofactory wait {run_id}` follows its "
            f"planning (`videofactory resume {run_id}` if its process is gone)"
        )
        raise StoreError(f"run {run_id} has no shots yet; {how}")

    def set_run_state(
        self, run_id: str, state: RunState, *, error: str | None = None, final: str | None = None
    ) -> None:
        """Change a run's state (and its error or final video)."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET state=?, error=COALESCE(?, error),"
                " final_path=COALESCE(?, final_path),"
                " updated_at=? WHERE id=?",
                (state.value, error, final, time.time(), run_id),
            )

    def run(self, run_id: str) -> dict[str, Any]:
        """One run as a dict; a clear error when there is no such run."""
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                like = self._db.execute(
                    "SELECT id FROM runs WHERE id LIKE ? ORDER BY created_at DESC", (f"{run_id}%",)
                ).fetchall()
        if row is None:
            if len(like) == 1:
                return self.run(like[0]["id"])
            raise StoreError(
                f"no run {run_id!r} in {self.path}; `videofactory runs` lists the runs there"
            )
        return _run_dict(row)

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_run_dict(r) for r in rows]

    def shots(self, run_id: str) -> list[dict[str, Any]]:
        """A run's shots in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data_json FROM shots WHERE run_id=? ORDER BY idx", (run_id,)
            ).fetchall()
        return [json.loads(r["data_json"]) for r in rows]

    def claim_run(
        self, run_id: str, pid: int, *, alive: Callable[[int], bool] = pid_alive
    ) -> Claim:
        """Make ``pid`` the process driving a run, unless another live process drives it.

        A compare-and-set: the owner is read, its liveness checked and the new owner written
        in one write transaction (``BEGIN IMMEDIATE`` holds the database's write lock from the
        read on), so of two processes claiming at once exactly one wins, and a refused claim
        changes nothing. A dead owner's claim is taken over.
        """
        with self._tx() as db:
            row = db.execute("SELECT owner_pid FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r} in {self.path}")
            previous = row["owner_pid"]
            if previous is not None and previous != pid and alive(previous):
                return Claim(False, previous, previous)
            db.execute(
                "UPDATE runs SET owner_pid=? WHERE id=? AND owner_pid IS ?",
                (pid, run_id, previous),
            )
        return Claim(True, pid, previous)

    def release_run(self, run_id: str, pid: int) -> bool:
        """Let go of a run ``pid`` drove (its process is done with it: state, attempts and
        report written); True if ``pid`` held it. Nobody else's claim is touched."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE runs SET owner_pid=NULL WHERE id=? AND owner_pid=?", (run_id, pid)
            )
        return cur.rowcount == 1

    # -- learned speeds -------------------------------------------------------------------------

    def learned_speeds(self, urls: dict[str, str]) -> dict[tuple[str, str], float]:
        """Speeds learned earlier, as {(worker id, kind): speed}, for workers given by URL."""
        by_url = {u: wid for wid, u in urls.items() if u}
        if not by_url:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT url, kind, speed FROM speeds WHERE url IN ({','.join('?' * len(by_url))})",
                list(by_url),
            ).fetchall()
        return {(by_url[r["url"]], r["kind"]): r["speed"] for r in rows}

    def save_speed(self, url: str, kind: str, speed: float) -> None:
        """Remember a worker's learned speed for a task kind."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO speeds (url, kind, speed, samples, updated_at) VALUES (?,?,?,1,?)"
                " ON CONFLICT(url, kind) DO UPDATE SET speed=excluded.speed,"
                " samples=samples+1, updated_at=excluded.updated_at",
                (url, kind, speed, time.time()),
            )

    # -- tasks --------------------------------------------------------------------------------

    def add_tasks(self, run_id: str, tasks: list[dict[str, Any]]) -> None:
        """Insert tasks (idempotent on task id)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO tasks (id, run_id, kind, shot_id, deps_json, state, params_json,"
                " created_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
                [
                    (
                        t["id"],
                        run_id,
                        t["kind"],
                        t.get("shot_id"),
                        json.dumps(list(t["deps"])),
                        TaskState.pending.value,
                        json.dumps(t.get("params", {})),
                        now,
                    )
                    for t in tasks
                ],
            )

    def tasks(self, run_id: str) -> list[TaskRow]:
        """A run's tasks in creation order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM tasks WHERE run_id=? ORDER BY rowid", (run_id,)
            ).fetchall()
        return [_task_row(r) for r in rows]

    def task(self, task_id: str) -> TaskRow:
        """One task."""
        with self._lock:
            row = self._db.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
        if row is None:
            raise StoreError(f"no task {task_id!r}")
        return _task_row(row)

    def set_task_state(
        self,
        task_id: str,
        state: TaskState,
        *,
        worker: str | None = None,
        prompt_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Change a task's state; timestamps follow the state."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE tasks SET state=?, worker=COALESCE(?, worker),"
                " prompt_id=COALESCE(?, prompt_id), error=?,"
                " started_at=CASE WHEN ?='running' THEN ? ELSE started_at END,"
                " finished_at=CASE WHEN ? IN ('done','failed','cancelled','skipped')"
                " THEN ? ELSE finished_at END"
                " WHERE id=?",
                (
                    state.value,
                    worker,
                    prompt_id,
                    error,
                    state.value,
                    now,
                    state.value,
                    now,
                    task_id,
                ),
            )

    def cancel_task(self, task_id: str, error: str) -> bool:
        """Mark a task in flight cancelled; True if it was in flight (a task its process
        finished, or put back to ready, in the meantime keeps its state)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE tasks SET state=?, error=?, finished_at=? WHERE id=?"
                f" AND state IN ({','.join('?' * len(IN_FLIGHT))})",
                (TaskState.cancelled.value, error, time.time(), task_id, *IN_FLIGHT),
            )
        return cur.rowcount == 1

    def update_task_params(self, task_id: str, params: dict[str, Any]) -> None:
        """Replace a task's parameters (e.g. a lowered resolution after out of memory)."""
        with self._tx() as db:
            db.execute("UPDATE tasks SET params_json=? WHERE id=?", (json.dumps(params), task_id))

    def update_task_deps(self, task_id: str, deps: Iterable[str]) -> None:
        """Replace a task's dependencies (the assembly waits for a hero pass ``pick --hero``
        added)."""
        with self._tx() as db:
            db.execute("UPDATE tasks SET deps_json=? WHERE id=?", (json.dumps(list(deps)), task_id))

    # -- takes ------------------------------------------------------------------------------

    def set_take_score(
        self, run_id: str, shot_id: str, take: int, score: float | None, measures: dict[str, Any]
    ) -> None:
        """Record the automatic score of a take's clip (and what it was made of)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO take_scores (run_id, shot_id, take, score, measures_json)"
                " VALUES (?,?,?,?,?) ON CONFLICT(run_id, shot_id, take) DO UPDATE SET"
                " score=excluded.score, measures_json=excluded.measures_json",
                (run_id, shot_id, take, score, json.dumps(measures)),
            )

    def take_scores(self, run_id: str) -> dict[str, dict[int, dict[str, Any]]]:
        """Shot id -> take -> ``{"score": ..., **measures}`` of a run's scored takes."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM take_scores WHERE run_id=? ORDER BY shot_id, take", (run_id,)
            ).fetchall()
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r["shot_id"], {})[r["take"]] = {
                "score": r["score"],
                **json.loads(r["measures_json"]),
            }
        return out

    def set_pick(self, run_id: str, shot_id: str, take: int, *, hero: bool) -> None:
        """Record the take the user picked for a shot (``hero``: as the best, for a hero
        pass); a later pick of the shot replaces it."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO picks (run_id, shot_id, take, hero, picked_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(run_id, shot_id) DO UPDATE SET take=excluded.take,"
                " hero=excluded.hero, picked_at=excluded.picked_at",
                (run_id, shot_id, take, int(hero), time.time()),
            )

    def picks(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Shot id -> ``{"take", "hero", "picked_at"}`` of a run's picks."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM picks WHERE run_id=?", (run_id,)).fetchall()
        return {
            r["shot_id"]: {"take": r["take"], "hero": bool(r["hero"]), "picked_at": r["picked_at"]}
            for r in rows
        }

    def start_attempt(self, task_id: str, run_id: str, worker: str, prompt_id: str) -> int:
        """Record an attempt (and its prompt id) before the workflow is posted."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO attempts (task_id, run_id, worker, prompt_id, state, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (task_id, run_id, worker, prompt_id, TaskState.submitting.value, now),
            )
            db.execute(
                "UPDATE tasks SET state=?, worker=?, prompt_id=?, attempts=attempts+1, error=NULL"
                " WHERE id=?",
                (TaskState.submitting.value, worker, prompt_id, task_id),
            )
            return int(cur.lastrowid or 0)

    def set_attempt_state(
        self,
        attempt_id: int,
        state: TaskState,
        error: str | None = None,
        *,
        content_key: str | None = None,
    ) -> None:
        """Change an attempt's state (and record the content key of what it made)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE attempts SET state=?, error=COALESCE(?, error),"
                " content_key=COALESCE(?, content_key),"
                " started_at=CASE WHEN ?='running' THEN ? ELSE started_at END,"
                " finished_at=CASE WHEN ? IN ('done','failed','cancelled')"
                " THEN ? ELSE finished_at END"
                " WHERE id=?",
                (state.value, error, content_key, state.value, now, state.value, now,
                 attempt_id),
            )  # fmt: skip

    def record_reuse(self, task_id: str, run_id: str, key: str) -> int:
        """A task finished from the artifact cache: one attempt, done at once, marked reused
        with the content key (no server, no prompt), and the task done. Returns the attempt's
        id."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO attempts (task_id, run_id, worker, prompt_id, state, error,"
                " created_at, started_at, finished_at, content_key, reused)"
                " VALUES (?,?,?,NULL,?,NULL,?,?,?,?,1)",
                (task_id, run_id, REUSED_WORKER, TaskState.done.value, now, now, now, key),
            )
            db.execute(
                "UPDATE tasks SET state=?, worker=?, prompt_id=NULL, attempts=attempts+1,"
                " error=NULL, started_at=?, finished_at=? WHERE id=?",
                (TaskState.done.value, REUSED_WORKER, now, now, task_id),
            )
            return int(cur.lastrowid or 0)

    def reuse_counts(self, run_id: str) -> tuple[int, int]:
        """(tasks finished from the cache, tasks rendered or spoken) of a run: of its tasks
        done, those whose finishing attempt was a reuse, and the other GPU and speech ones."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.kind, (SELECT a.reused FROM attempts a WHERE a.task_id=t.id"
                " ORDER BY a.id DESC LIMIT 1) AS reused FROM tasks t"
                " WHERE t.run_id=? AND t.state=?",
                (run_id, TaskState.done.value),
            ).fetchall()
        reused = sum(1 for r in rows if r["reused"])
        rendered = sum(1 for r in rows if not r["reused"] and r["kind"] in CACHED_KINDS)
        return reused, rendered

    def end_attempt(
        self, attempt_id: int, state: TaskState, error: str | None = None, *, force: bool = False
    ) -> bool:
        """Record how an attempt ended (done, failed, cancelled) if it has no outcome yet;
        True if it was written. An outcome is written once: the first to know it wins (a job a
        cancel found finished on its server stays done when the run's process then stops).
        ``force``: what its server says happened replaces what a stopping process guessed."""
        only_open = "" if force else f" AND state IN ({','.join('?' * len(IN_FLIGHT))})"
        with self._tx() as db:
            cur = db.execute(
                "UPDATE attempts SET state=?, error=?,"
                " finished_at=COALESCE(CASE WHEN state IN ('done','failed','cancelled')"
                " THEN finished_at END, ?) WHERE id=?" + only_open,
                (state.value, error, time.time(), attempt_id, *(() if force else IN_FLIGHT)),
            )
        return cur.rowcount == 1

    def attempt_of_prompt(self, task_id: str, prompt_id: str) -> dict[str, Any] | None:
        """The attempt that posted ``prompt_id`` for a task (one prompt id is one attempt)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM attempts WHERE task_id=? AND prompt_id=? ORDER BY id DESC",
                (task_id, prompt_id),
            ).fetchone()
        return dict(row) if row else None

    def reopen_attempt(self, attempt_id: int) -> None:
        """A job found again on its server after a resume goes on as the same attempt (one
        prompt, one render): whatever the stopped process wrote as its end is taken back."""
        with self._tx() as db:
            db.execute(
                "UPDATE attempts SET state=CASE WHEN started_at IS NULL THEN ? ELSE ? END,"
                " error=NULL, finished_at=NULL WHERE id=?",
                (TaskState.submitted.value, TaskState.running.value, attempt_id),
            )

    def close_open_attempts(
        self,
        run_id: str,
        state: TaskState,
        error: str,
        *,
        keep: frozenset[int] = frozenset(),
    ) -> int:
        """End every attempt of a run that has no outcome yet (but those in ``keep``) with
        ``state`` and ``error``; returns how many. For a run's end, and for a resume's
        leftovers that no server knows any more."""
        marks = ",".join("?" * len(IN_FLIGHT))
        kept = ",".join("?" * len(keep))
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE attempts SET state=?, error=?, finished_at=? WHERE run_id=?"
                f" AND state IN ({marks})" + (f" AND id NOT IN ({kept})" if keep else ""),
                (state.value, error, time.time(), run_id, *IN_FLIGHT, *keep),
            )
        return cur.rowcount

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of a run, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM attempts WHERE run_id=? ORDER BY id", (run_id,)
            ).fetchall()
        return [dict(r) for r in rows]

    # -- artifacts and events -------------------------------------------------------------------

    def add_artifact(
        self, run_id: str, task_id: str, kind: str, path: Path, media: dict[str, Any]
    ) -> None:
        """Record a checked output file."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO artifacts (run_id, task_id, kind, path, size, media_json, created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    run_id,
                    task_id,
                    kind,
                    str(path),
                    path.stat().st_size,
                    json.dumps(media),
                    time.time(),
                ),
            )

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """A run's artifacts, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM artifacts WHERE run_id=? ORDER BY id", (run_id,)
            ).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["media"] = json.loads(d.pop("media_json"))
            out.append(d)
        return out

    def add_event(
        self,
        run_id: str,
        kind: str,
        message: str,
        *,
        task_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append to a run's log."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (run_id, ts, task_id, kind, message, data_json)"
                " VALUES (?,?,?,?,?,?)",
                (run_id, time.time(), task_id, kind, message, json.dumps(data or {})),
            )

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """A run's log, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ts, task_id, kind, message, data_json FROM events"
                " WHERE run_id=? ORDER BY id",
                (run_id,),
            ).fetchall()
        return [
            {
                "ts": r["ts"],
                "task_id": r["task_id"],
                "kind": r["kind"],
                "message": r["message"],
                "data": json.loads(r["data_json"]),
            }
            for r in rows
        ]


def driven_elsewhere(run_id: str, owner: int | None) -> StoreError:
    """The error for a run that another live process drives (a refused claim)."""
    return StoreError(
        f"run {run_id} is being driven by process {owner}; wait for it "
        "(`videofactory wait`) or stop it before resuming"
    )


def bookkeeping_problems(store: Store, run_id: str) -> list[str]:
    """What is untrue in a run's records, one line each; empty when they add up.

    An ended run has no attempt left open; one prompt id is one attempt; a task's attempt
    count is its attempt rows; a done GPU task has a done attempt, the one whose prompt id it
    records. Tests check every run they make against this.
    """
    run = store.run(run_id)
    attempts = store.attempts(run_id)
    tasks = store.tasks(run_id)
    problems = []
    if run["state"] in ENDED:
        problems += [
            f"attempt {a['id']} of {a['task_id']} is still {a['state']} in a {run['state']} run"
            for a in attempts
            if a["state"] in IN_FLIGHT
        ]
    per_prompt: dict[str, int] = {}
    per_task: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        if a["prompt_id"]:
            per_prompt[a["prompt_id"]] = per_prompt.get(a["prompt_id"], 0) + 1
        per_task.setdefault(a["task_id"], []).append(a)
    problems += [f"prompt {p} has {n} attempts" for p, n in per_prompt.items() if n > 1]
    for t in tasks:
        mine = per_task.get(t.id, [])
        if t.attempts != len(mine):
            problems.append(f"task {t.id} counts {t.attempts} attempts, {len(mine)} recorded")
        if t.state == TaskState.done.value and mine:
            last = [a for a in mine if a["prompt_id"] == t.prompt_id]
            if not last or last[-1]["state"] != TaskState.done.value:
                problems.append(f"task {t.id} is done but its attempt {t.prompt_id} is not")
    if run["owner_pid"] is not None and run["state"] in ENDED and not pid_alive(run["owner_pid"]):
        problems.append(f"run {run_id} ended but still names process {run['owner_pid']}")
    return problems


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["farm"] = json.loads(d.pop("farm_json"))
    d["settings"] = json.loads(d.pop("settings_json"))
    d.pop("plan_json", None)  # see ``Store.plan``
    return d


#: The fields of a shot list, but its shots (what ``plan_json`` holds).
PLAN_FIELDS = ("version", "concept", "duration", "style", "character", "setting", "aspect",
               "width", "height", "fps", "planner")  # fmt: skip


def _fill_plans(db: sqlite3.Connection) -> None:
    """Migration 3 for runs recorded before it: their shot list's fields from the shots.yaml
    they wrote beside their video, else from the runs table (concept, duration, and the size
    and rate their settings kept)."""
    import yaml

    rows = db.execute("SELECT id, concept, duration, run_dir, settings_json FROM runs").fetchall()
    for r in rows:
        settings = json.loads(r["settings_json"] or "{}")
        plan: dict[str, Any] = {"concept": r["concept"], "duration": r["duration"]}
        plan |= {k: settings[k] for k in ("width", "height", "fps") if k in settings}
        try:
            text = (Path(r["run_dir"]) / "shots.yaml").read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
        if isinstance(data, dict):
            plan |= {k: v for k, v in data.items() if k in PLAN_FIELDS}
        db.execute("UPDATE runs SET plan_json=? WHERE id=?", (json.dumps(plan), r["id"]))


def _task_row(row: sqlite3.Row) -> TaskRow:
    return TaskRow(
        id=row["id"],
        run_id=row["run_id"],
        kind=row["kind"],
        shot_id=row["shot_id"],
        deps=tuple(json.loads(row["deps_json"])),
        state=row["state"],
        worker=row["worker"],
        prompt_id=row["prompt_id"],
        attempts=row["attempts"],
        params=json.loads(row["params_json"]),
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )
