"""Placement (pure): which ready task goes to which GPU now.

List scheduling of the HEFT family. Ready tasks are taken in order of how few GPUs can run them
(a hero pass only the 32 GB card can take must not queue behind clips any card could do), then
of their remaining critical path; each goes to the eligible worker with the earliest estimated
finish, a model switch counting as a cost. Roles come first: while any GPU holding the task's
role can take it, only those are considered (keyframes on the control GPU, clips on the workers,
hero passes on the primary); other GPUs step in only when no role holder can (down, too little
VRAM, workflow refused), unless ``strict`` forbids it. A kind ``pinned`` to its role (a
preview's keyframes, on the control GPU) goes only to the role's GPUs while one of them can
take it, however long the queue there, and elsewhere only when none can. A task whose best
worker has no free slot waits for it: a GPU is handed work only when it is about to be free,
and each server holds at most one job beyond the running one.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from videofactory.vocabulary import ROLE_FOR_KIND, Role, TaskKind

__all__ = ["Assignment", "TaskView", "WorkerView", "candidates", "decide", "eligible"]

#: Seconds a model switch costs on a real GPU (unload one model, load another).
SWITCH_COST_S = 30.0
#: A GPU outside the task's role must beat the role's GPUs by this much to get the task:
#: roles are preferences that give way only when it clearly pays.
ROLE_PENALTY_S = 30.0


@dataclass(frozen=True)
class TaskView:
    """What placement needs to know of a ready task."""

    id: str
    kind: TaskKind
    cost_s: float
    #: VRAM it needs on a worker whose workflow for the kind declares none (at ``scale``).
    vram_gb: float
    rank: float = 0.0
    #: Workers this task should not go to (it failed there and another can take it).
    avoid: frozenset[str] = frozenset()
    #: The fraction of its planned size it renders at (shrunk after out of memory): a
    #: worker's declared need is multiplied by it.
    scale: float = 1.0
    #: Only workers holding at least this much may take it (it ran out of memory on less).
    min_memory_gb: float = 0.0

    @property
    def fit_key(self) -> tuple[TaskKind, float, float, float, frozenset[str]]:
        """What decides which workers can take it: tasks alike in this are placed alike."""
        return (self.kind, self.vram_gb, self.scale, self.min_memory_gb, self.avoid)


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
    #: Task kinds it must not be given (its workflow failed preflight, was rejected, ran out
    #: of memory), each with why.
    refused: Mapping[TaskKind, str] = field(default_factory=dict)
    #: Why it is down ("" while up).
    why_down: str = ""
    #: Per task kind, the VRAM its workflow for that kind needs at full size (a kind not
    #: given: the task's own ``vram_gb``).
    needs: Mapping[TaskKind, float] = field(default_factory=dict)

    def need(self, task: TaskView) -> float:
        """The VRAM ``task`` needs here: this worker's workflow's need at the task's scale."""
        declared = self.needs.get(task.kind)
        return task.vram_gb if declared is None else declared * task.scale


@dataclass(frozen=True)
class Assignment:
    """Run this task on this worker; the estimates explain the choice."""

    task_id: str
    worker_id: str
    est_start: float
    est_finish: float


def eligible(task: TaskView, worker: WorkerView) -> bool:
    """Whether the worker can take the task at all (up, enough VRAM, workflow accepted)."""
    return (
        worker.up
        and task.kind not in worker.refused
        and worker.vram_gb >= max(worker.need(task), task.min_memory_gb)
        and worker.id not in task.avoid
    )


def candidates(
    task: TaskView,
    workers: Sequence[WorkerView],
    *,
    strict: bool = False,
    pinned: Collection[TaskKind] = (),
) -> list[WorkerView]:
    """The workers to choose from: every eligible one; only the role holders when ``strict``,
    or when the task's kind is ``pinned`` and a role holder is eligible."""
    able = [w for w in workers if eligible(task, w)]
    role = ROLE_FOR_KIND.get(task.kind)
    if role is None or not (strict or task.kind in pinned):
        return able
    holders = [w for w in able if role in w.roles]
    return holders if strict or holders else able


def decide(
    ready: Sequence[TaskView],
    workers: Sequence[WorkerView],
    now: float,
    *,
    strict: bool = False,
    pending: Sequence[TaskView] = (),
    time_factor: float = 1.0,
    pinned: Collection[TaskKind] = (),
) -> list[Assignment]:
    """Assign ready tasks to workers; tasks left out wait for a better moment.

    Every ready task is placed on a virtual timeline of each worker (so a task sees the queue
    that tasks of higher priority form ahead of it), but only the placements that land in a
    free slot are returned. Work that only one worker can do (ready or still pending) is
    reserved on it, so flexible work does not crowd out what nobody else can take.
    ``time_factor`` (measured over modelled seconds on this farm) scales the model switch.
    ``pinned``: task kinds that go only to their role's GPUs while one of those can take them.
    """
    # A model switch costs real time, so it follows the farm's pace; the role preference is a
    # promise to the user in plain seconds (a GPU leaves its role only to win that much time),
    # so on a fast simulated farm the seed's roles hold and on real GPUs an idle card helps.
    switch_s, role_s = SWITCH_COST_S * time_factor, ROLE_PENALTY_S
    free = sum(max(0, w.free_slots) for w in workers if w.up)
    if free == 0 or not ready:
        return []
    avail = {w.id: max(now, w.busy_until) for w in workers}
    loaded = {w.id: w.loaded for w in workers}
    slots = {w.id: w.free_slots for w in workers}
    # Eligibility depends only on the task's fit: compute it once per group, not per task.
    groups: dict[tuple[Any, ...], list[WorkerView]] = {}

    def choice(t: TaskView) -> list[WorkerView]:
        key = t.fit_key
        if key not in groups:
            groups[key] = candidates(t, workers, strict=strict, pinned=pinned)
        return groups[key]

    reserve = dict.fromkeys(avail, 0.0)
    for t in (*ready, *pending):
        able = choice(t)
        if len(able) == 1:
            reserve[able[0].id] += _run(t, able[0])
    # Only the head of the ready list can land in the free slots now; the rest would only
    # lengthen the virtual queues, so a long list is cut to a multiple of the free slots.
    limit = max(16, 4 * free)
    order = heapq.nsmallest(limit, ready, key=lambda t: (len(choice(t)) or 1_000, -t.rank, t.id))
    out: list[Assignment] = []
    for task in order:
        able = choice(task)
        exclusive = len(able) == 1
        role = ROLE_FOR_KIND.get(task.kind)
        best: tuple[float, float, float, str] | None = None
        for w in able:
            start = avail[w.id]
            switch = switch_s if loaded[w.id] not in (None, task.kind) else 0.0
            finish = start + switch + _run(task, w)
            # A worker that must still do work nobody else can is done only after it.
            owed = reserve[w.id] - (_run(task, w) if exclusive else 0.0)
            off_role = 0 if role is None or role in w.roles else 1
            key = (finish + owed + off_role * role_s, finish, start, w.id)
            if best is None or key < best:
                best = key
        if best is None:
            continue
        _, finish, start, wid = best
        avail[wid], loaded[wid] = finish, task.kind
        if exclusive:
            reserve[wid] -= _run(task, able[0])
        if slots[wid] > 0:
            slots[wid] -= 1
            out.append(Assignment(task.id, wid, start, finish))
            free -= 1
            if free == 0:
                break
    return out


def _run(task: TaskView, worker: WorkerView) -> float:
    return task.cost_s / max(worker.speed.get(task.kind, 1.0), 1e-6)
