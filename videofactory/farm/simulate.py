"""A discrete-event simulation of a farm running a task graph (pure).

It drives a placement policy exactly as the dispatcher does: the policy is asked what to start
at time 0 and whenever a job finishes; each GPU holds the running job plus at most
``slots - 1`` queued ones; a job starts when its GPU is free and its dependencies are done, and
pays a model switch when its kind differs from the last kind the GPU ran. Used by the
scheduling benchmark and by tests to compare policies on the same workloads.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from videofactory.farm.scheduler import SWITCH_COST_S, Assignment, TaskView, WorkerView
from videofactory.vocabulary import Role, TaskKind

__all__ = ["Job", "Policy", "Schedule", "SimGPU", "SimTask", "simulate"]


@dataclass(frozen=True)
class SimTask:
    """A task of the simulated workload; ``cost_s`` is its time on a speed-1.0 card."""

    id: str
    kind: TaskKind
    deps: tuple[str, ...]
    cost_s: float
    vram_gb: float


@dataclass(frozen=True)
class SimGPU:
    """A simulated GPU."""

    id: str
    roles: tuple[Role, ...]
    vram_gb: float
    speed: float


@dataclass(frozen=True)
class Job:
    """One task as it ran: where and when (``start`` includes any model switch)."""

    task_id: str
    kind: TaskKind
    gpu: str
    start: float
    end: float
    switch_s: float


@dataclass
class Schedule:
    """The outcome of a simulation."""

    jobs: list[Job] = field(default_factory=list)

    @property
    def makespan(self) -> float:
        """When the last job ended."""
        return max((j.end for j in self.jobs), default=0.0)

    def by_gpu(self) -> dict[str, list[Job]]:
        """Jobs per GPU in start order."""
        out: dict[str, list[Job]] = {}
        for j in sorted(self.jobs, key=lambda j: j.start):
            out.setdefault(j.gpu, []).append(j)
        return out


#: decide(ready, workers, now, pending) -> assignments; ``pending`` holds the tasks not yet
#: ready (their dependencies are still running or waiting).
Policy = Callable[
    [Sequence[TaskView], Sequence[WorkerView], float, Sequence[TaskView]], list[Assignment]
]


@dataclass
class _GPUState:
    gpu: SimGPU
    queue: list[str] = field(default_factory=list)  # assigned, not started
    running: str | None = None
    free_at: float = 0.0
    loaded: TaskKind | None = None
    planned_until: float = 0.0


def simulate(
    tasks: Sequence[SimTask],
    gpus: Sequence[SimGPU],
    policy: Policy,
    *,
    slots: int = 2,
    switch_cost_s: float = SWITCH_COST_S,
    ranks: Mapping[str, float] | None = None,
) -> Schedule:
    """Run the workload under ``policy`` and return the schedule it produced."""
    by_id = {t.id: t for t in tasks}
    ranks = ranks or _ranks(tasks)
    state = {g.id: _GPUState(g) for g in gpus}
    done: set[str] = set()
    assigned: set[str] = set()
    schedule = Schedule()
    events: list[tuple[float, int, str, str]] = []  # (time, seq, gpu, task)
    seq = 0
    now = 0.0
    views = {t.id: TaskView(t.id, t.kind, t.cost_s, t.vram_gb, ranks[t.id]) for t in tasks}

    def start_next(s: _GPUState) -> None:
        nonlocal seq
        if s.running is not None:
            return
        for i, tid in enumerate(s.queue):
            task = by_id[tid]
            if all(d in done for d in task.deps):
                s.queue.pop(i)
                switch = switch_cost_s if s.loaded not in (None, task.kind) else 0.0
                begin = max(now, s.free_at)
                end = begin + switch + task.cost_s / s.gpu.speed
                s.running, s.free_at, s.loaded = tid, end, task.kind
                schedule.jobs.append(Job(tid, task.kind, s.gpu.id, begin, end, switch))
                seq += 1
                heapq.heappush(events, (end, seq, s.gpu.id, tid))
                return

    def ask_policy() -> None:
        ready = [views[t] for t in by_id if t not in assigned and _deps_done(by_id[t], done)]
        pending = [views[t] for t in by_id if t not in assigned and not _deps_done(by_id[t], done)]
        if not ready:
            return
        workers = [
            WorkerView(
                id=s.gpu.id,
                roles=s.gpu.roles,
                vram_gb=s.gpu.vram_gb,
                speed={k: s.gpu.speed for k in TaskKind},
                free_slots=slots - len(s.queue) - (1 if s.running else 0),
                busy_until=max(now, s.planned_until),
                loaded=_last_kind(s, by_id),
            )
            for s in state.values()
        ]
        for a in policy(ready, workers, now, pending):
            s = state[a.worker_id]
            if a.task_id in assigned or len(s.queue) + (1 if s.running else 0) >= slots:
                raise RuntimeError(f"policy over-assigned {a.worker_id} or repeated {a.task_id}")
            assigned.add(a.task_id)
            s.queue.append(a.task_id)
            s.planned_until = max(s.planned_until, a.est_finish)
            start_next(s)

    ask_policy()
    while events:
        now, _, gpu, tid = heapq.heappop(events)
        done.add(tid)
        state[gpu].running = None
        while events and events[0][0] == now:  # everything that ends at this instant
            _, _, g2, t2 = heapq.heappop(events)
            done.add(t2)
            state[g2].running = None
        for s in state.values():  # a finished dependency may unblock a queued job anywhere
            start_next(s)
        ask_policy()
    if len(done) != len(by_id):
        missing = sorted(set(by_id) - done)[:5]
        raise RuntimeError(f"policy left tasks unscheduled: {missing}")
    return schedule


def _deps_done(task: SimTask, done: set[str]) -> bool:
    return all(d in done for d in task.deps)


def _last_kind(s: _GPUState, by_id: Mapping[str, SimTask]) -> TaskKind | None:
    if s.queue:
        return by_id[s.queue[-1]].kind
    return s.loaded


def _ranks(tasks: Sequence[SimTask]) -> dict[str, float]:
    children: dict[str, list[str]] = {t.id: [] for t in tasks}
    for t in tasks:
        for d in t.deps:
            children[d].append(t.id)
    cost = {t.id: t.cost_s for t in tasks}
    rank: dict[str, float] = {}

    def visit(tid: str) -> float:
        if tid not in rank:
            rank[tid] = cost[tid] + max((visit(c) for c in children[tid]), default=0.0)
        return rank[tid]

    for t in tasks:
        visit(t.id)
    return rank
