"""Placement (pure): which ready task goes to which GPU now.

List scheduling of the HEFT family. Ready tasks are taken in order of how few GPUs can run them
(a hero pass only the 32 GB card can take must not queue behind clips any card could do), then
of their remaining critical path; each goes to the eligible worker with the earliest estimated
finish, a model switch counting as a cost. Roles come first: while any GPU holding the task's
role can take it, only those are considered (keyframes on the control GPU, clips on the workers,
hero passes on the primary); other GPUs step in only when no role holder can (down, too little
VRAM, workflow refused), unless ``strict`` forbids it. A task whose best worker has no free slot
waits for it: a GPU is handed work only when it is about to be free, and each server holds at
most one job beyond the running one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from videofactory.config import ROLE_FOR_KIND, Role, TaskKind

__all__ = ["Assignment", "TaskView", "WorkerView", "candidates", "decide", "eligible"]

#: Seconds a model switch costs on a real GPU (unload one model, load another).
SWITCH_COST_S = 30.0


@dataclass(frozen=True)
class TaskView:
    """What placement needs to know of a ready task."""

    id: str
    kind: TaskKind
    cost_s: float
    vram_gb: float
    rank: float = 0.0


@dataclass(frozen=True)
class WorkerView:
    """What placement needs to know of a worker right now."""

    id: str
    roles: tuple[Role, ...]
    vram_gb: float
    #: Relative speed per task kind (1.0 = the reference card).
    speed: Mapping[TaskKind, float]
    up: bool = True
    #: How many more jobs the server may be given now.
    free_slots: int = 2
    #: Estimated time at which the work already given to it ends.
    busy_until: float = 0.0
    #: The task kind whose model it has loaded (the last one it ran or was given).
    loaded: TaskKind | None = None
    #: Task kinds whose workflow failed preflight on this worker.
    refused: frozenset[TaskKind] = frozenset()


@dataclass(frozen=True)
class Assignment:
    """Run this task on this worker; the estimates explain the choice."""

    task_id: str
    worker_id: str
    est_start: float
    est_finish: float


def eligible(task: TaskView, worker: WorkerView) -> bool:
    """Whether the worker can take the task at all (up, enough VRAM, workflow accepted)."""
    return worker.up and task.kind not in worker.refused and worker.vram_gb >= task.vram_gb


def candidates(
    task: TaskView, workers: Sequence[WorkerView], *, strict: bool = False
) -> list[WorkerView]:
    """The workers to choose from: the eligible role holders, else (not strict) any eligible."""
    able = [w for w in workers if eligible(task, w)]
    role = ROLE_FOR_KIND.get(task.kind)
    if role is None:
        return able
    holders = [w for w in able if role in w.roles]
    return holders if holders or strict else able


def decide(
    ready: Sequence[TaskView],
    workers: Sequence[WorkerView],
    now: float,
    *,
    strict: bool = False,
) -> list[Assignment]:
    """Assign ready tasks to workers; tasks left out wait for a better moment."""
    state = {w.id: w for w in workers}
    choice = {t.id: [w.id for w in candidates(t, workers, strict=strict)] for t in ready}
    order = sorted(ready, key=lambda t: (len(choice[t.id]) or 1_000, -t.rank, t.id))
    out: list[Assignment] = []
    for task in order:
        best: tuple[float, float, str] | None = None
        for wid in choice[task.id]:
            w = state[wid]
            start = max(now, w.busy_until)
            run = task.cost_s / max(w.speed.get(task.kind, 1.0), 1e-6)
            switch = SWITCH_COST_S if w.loaded not in (None, task.kind) else 0.0
            key = (start + switch + run, start, wid)
            if best is None or key < best:
                best = key
        if best is None:
            continue
        finish, start, wid = best
        w = state[wid]
        if w.free_slots <= 0:
            continue  # its best GPU is busy: wait for it rather than go somewhere slower
        out.append(Assignment(task.id, wid, start, finish))
        state[wid] = replace(w, free_slots=w.free_slots - 1, busy_until=finish, loaded=task.kind)
    return out
