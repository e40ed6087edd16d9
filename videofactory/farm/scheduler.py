"""Placement (pure): which ready task goes to which GPU now.

List scheduling of the HEFT family. Ready tasks are taken in order of how few GPUs can run them
(a hero pass only the 32 GB card can take must not queue behind clips any card could do), then
of their remaining critical path; each goes to the eligible worker with the earliest estimated
finish, where a worker outside the task's role and a model switch both cost a penalty. A task
whose best worker has no free slot waits for it: a GPU is handed work only when it is about to
be free, and each server holds at most one job beyond the running one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from videofactory.config import ROLE_FOR_KIND, Role, TaskKind

__all__ = ["Assignment", "TaskView", "WorkerView", "decide", "eligible"]

#: Seconds a model switch costs on a real GPU (unload one model, load another).
SWITCH_COST_S = 30.0
#: Extra seconds charged when a task runs outside its preferred role.
ROLE_PENALTY_S = 30.0


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


def eligible(task: TaskView, worker: WorkerView, *, strict: bool = False) -> bool:
    """Whether the worker can take the task at all."""
    if not worker.up or task.kind in worker.refused or worker.vram_gb < task.vram_gb:
        return False
    if strict:
        role = ROLE_FOR_KIND.get(task.kind)
        return role is None or role in worker.roles
    return True


def decide(
    ready: Sequence[TaskView],
    workers: Sequence[WorkerView],
    now: float,
    *,
    strict: bool = False,
) -> list[Assignment]:
    """Assign ready tasks to workers; tasks left out wait for a better moment."""
    state = {w.id: w for w in workers}
    candidates = {t.id: [w.id for w in workers if eligible(t, w, strict=strict)] for t in ready}
    order = sorted(ready, key=lambda t: (len(candidates[t.id]) or 1_000, -t.rank, t.id))
    out: list[Assignment] = []
    for task in order:
        best: tuple[float, float, float, str] | None = None
        for wid in candidates[task.id]:
            w = state[wid]
            start = max(now, w.busy_until)
            run = task.cost_s / max(w.speed.get(task.kind, 1.0), 1e-6)
            switch = SWITCH_COST_S if w.loaded not in (None, task.kind) else 0.0
            finish = start + switch + run
            role = ROLE_FOR_KIND.get(task.kind)
            penalty = 0.0 if role is None or role in w.roles else ROLE_PENALTY_S
            key = (finish + penalty, finish, start, wid)
            if best is None or key < best:
                best = key
        if best is None:
            continue
        wid = best[3]
        w = state[wid]
        if w.free_slots <= 0:
            continue  # its best GPU is busy: wait for it rather than go somewhere slower
        out.append(Assignment(task.id, wid, best[2], best[1]))
        state[wid] = replace(w, free_slots=w.free_slots - 1, busy_until=best[1], loaded=task.kind)
    return out
