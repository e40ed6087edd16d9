"""A run's state at any time, and following a run to its end from its stored events.

The run database knows what a run's driver last wrote; whether that driver still lives is a
question for the operating system. ``run_status`` puts both together, so that a run whose
process died reads as ``stopped`` (resume it) rather than forever ``running``:

    ========== =====================================================================
    state      meaning
    ========== =====================================================================
    planning   recorded with what to plan (``generate --detach``); its process plans it
    starting   recorded; its (detached) process is starting and has not dispatched yet
    running    its process is alive and dispatching
    stopped    not finished, and no process drives it: ``videofactory resume RUN``
    done       final.mp4 exists and was probed
    rendered   every shot rendered and spoken, not assembled (``--no-assemble``)
    failed     a task failed for good; what finished is kept
    cancelled  cancelled by the user
    ========== =====================================================================
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.detach import Detached, pid_alive, read_detached
from videofactory.events import Event, EventSink
from videofactory.store import FINISHED, RunState, Store, TaskState, heroes_missing
from videofactory.vocabulary import TaskId
from videofactory.watching.state import RunWatch, TaskInfo

__all__ = [
    "DRIVEN",
    "RunStatus",
    "TERMINAL",
    "follow",
    "replay",
    "run_result",
    "run_status",
    "stored_events",
]

#: Stored states a run never leaves by itself.
TERMINAL = frozenset(
    {RunState.done.value, RunState.rendered.value, RunState.failed.value, RunState.cancelled.value}
)
#: Live states of a run that a process drives.
DRIVEN = ("planning", "starting", "running")
#: States that count as success (exit code 0 of ``wait``).
SUCCESS = frozenset({RunState.done.value, RunState.rendered.value})
#: How often ``follow`` looks at the database, seconds.
POLL_S = 0.5
#: After a run ended, how long ``follow`` waits for its process to finish the report and exit.
WRAP_UP_S = 60.0
REPORT_FILE = "report.html"


@dataclass
class RunStatus:
    """Where a run stands now (see the module docstring for ``state``)."""

    run_id: str
    state: str
    #: The state the run database holds.
    stored_state: str
    run_dir: Path
    final: str | None = None
    error: str | None = None
    #: The process driving it (the one holding its claim: a run's process lets go of it once
    #: the report is written; else its detached process) and whether it is alive.
    driver_pid: int | None = None
    driver_alive: bool = False
    detached: Detached | None = None
    #: Tasks per state, and the ones in flight (task, kind, shot, worker, state).
    tasks: dict[str, int] = field(default_factory=dict)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    #: Shot id -> why it went out without its hero pass (``resume RUN --heroes`` adds it).
    heroes_missing: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True when nothing more will happen without somebody acting (ended or stopped)."""
        return self.state in TERMINAL or self.state == "stopped"

    @property
    def ok(self) -> bool:
        """True for a run that ended well."""
        return self.state in SUCCESS

    @property
    def report(self) -> Path | None:
        """The run report, once written."""
        path = self.run_dir / REPORT_FILE
        return path if path.is_file() else None

    def to_json(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return {
            "run_id": self.run_id,
            "state": self.state,
            "stored_state": self.stored_state,
            "run_dir": str(self.run_dir),
            "final": self.final,
            "error": self.error,
            "driver_pid": self.driver_pid,
            "driver_alive": self.driver_alive,
            "detached": self.detached.to_json() if self.detached else None,
            "tasks_done": self.tasks.get(TaskState.done.value, 0),
            "tasks_total": sum(self.tasks.values()),
            "tasks": self.tasks,
            "in_flight": self.in_flight,
            "heroes_missing": self.heroes_missing,
            "report": str(self.report) if self.report else None,
        }


def run_status(store: Store, run: str) -> RunStatus:
    """A run's state now, from the database and from whether its process lives."""
    record = store.run(run)
    run_id, run_dir, stored = record["id"], Path(record["run_dir"]), record["state"]
    detached = read_detached(run_dir)
    owner = record.get("owner_pid")
    alive = pid_alive(owner) or (detached is not None and pid_alive(detached.pid))
    if stored in TERMINAL:
        state = stored
    elif alive:
        state = {RunState.running.value: "running", RunState.planning.value: "planning"}.get(
            stored, "starting"
        )
    else:
        state = "stopped"
    rows = store.tasks(run_id)
    flying = (TaskState.submitting.value, TaskState.submitted.value, TaskState.running.value)
    status = RunStatus(
        run_id=run_id,
        state=state,
        stored_state=stored,
        run_dir=run_dir,
        final=record.get("final_path"),
        error=record.get("error"),
        driver_pid=owner or (detached.pid if detached else None),
        driver_alive=alive,
        detached=detached,
        tasks=dict(Counter(t.state for t in rows)),
        in_flight=[
            {
                "task": t.id,
                "kind": t.kind,
                "shot_id": t.shot_id,
                "worker": t.worker,
                "state": t.state,
                "started_at": t.started_at,
            }
            for t in rows
            if t.state in flying
        ],  # fmt: skip
        heroes_missing=heroes_missing(rows),
    )
    if state == "stopped" and not status.error:
        status.error = _stopped_reason(status)
    return status


def _stopped_reason(status: RunStatus) -> str:
    why = f"no process drives run {status.run_id}"
    if status.driver_pid:
        why += f" (process {status.driver_pid} ended before the run did)"
    tail = _log_tail(status.detached)
    if tail:
        why += f"; its log ends with: {tail}"
    return why + f"; `videofactory resume {status.run_id}` goes on from where it stopped"


def _log_tail(detached: Detached | None) -> str:
    if detached is None:
        return ""
    try:
        lines = Path(detached.log).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    return lines[-1][:300] if lines else ""


def stored_events(store: Store, run_id: str, start: int = 0) -> list[Event]:
    """A run's logged events from the ``start``-th on, as ``Event`` objects."""
    events = []
    for row in store.events(run_id)[start:]:
        tid = row["task_id"]
        which = TaskId.of(tid)
        data = row["data"] or {}
        events.append(
            Event(
                kind=row["kind"],
                run_id=run_id,
                message=row["message"],
                task_id=tid,
                task_kind=which.kind.value if which else None,
                shot_id=which.shot_id if which else None,
                worker=data.get("worker"),
                data=data.get("data") or {},
                ts=row["ts"],
            )
        )
    return events


def follow(
    store: Store,
    run: str,
    sink: EventSink,
    *,
    timeout_s: float | None = None,
    poll_s: float = POLL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> RunStatus:
    """Hand the run's events to ``sink`` (the ones logged so far, then new ones as they come)
    until it ends, stops, or ``timeout_s`` passes; returns its state then."""
    run_id = store.run(run)["id"]
    seen = 0
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    ended_at: float | None = None
    while True:
        status = run_status(store, run_id)  # before the events: none logged after is missed
        events = stored_events(store, run_id, seen)
        seen += len(events)
        for ev in events:
            sink(ev)
        now = time.monotonic()
        if status.state in TERMINAL and status.driver_alive:
            # Ended, but its process is still writing the report: let it finish.
            ended_at = ended_at or now
            wrapped_up = now - ended_at >= WRAP_UP_S
        else:
            wrapped_up = status.finished
        if wrapped_up or (deadline is not None and now >= deadline):
            return status
        sleep(poll_s)


def replay(store: Store, run: str) -> RunWatch:
    """The run as a live view would show it now: its farm and tasks, its logged events folded
    in (for lanes, retries and the ETA of a run in progress)."""
    record = store.run(run)
    rows = store.tasks(record["id"])
    watch = RunWatch()
    done = [t.id for t in rows if t.state in FINISHED]
    watch.load(record["farm"], [TaskInfo.from_row(t) for t in rows], done)
    for ev in stored_events(store, record["id"]):
        watch.apply(ev)
    return watch


def run_result(store: Store, status: RunStatus) -> dict[str, Any]:
    """A run's result as ``generate --json`` ends with it (``ok``, ids, paths, the video)."""
    finals = [a for a in store.artifacts(status.run_id) if a["kind"] == "final"]
    shots = store.shots(status.run_id)
    result: dict[str, Any] = {
        "ok": status.ok,
        "run_id": status.run_id,
        "state": status.state,
        "run_dir": str(status.run_dir),
        "final": status.final,
        "shots": len(shots),
        "report": str(status.report) if status.report else None,
    }
    result["tasks_reused"], result["tasks_rendered"] = store.reuse_counts(status.run_id)
    result["preview"] = bool(store.run(status.run_id)["settings"].get("preview"))
    if status.error and not status.ok:
        result["error"] = status.error
    if finals and status.final:
        media = finals[-1]["media"]
        result.update(
            duration_s=round(float(media.get("duration_s") or 0), 3),
            width=media.get("width"),
            height=media.get("height"),
            fps=media.get("fps"),
            video_codec=media.get("video_codec"),
            audio_codec=media.get("audio_codec"),
        )
    return result
