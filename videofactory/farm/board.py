"""Where every task of a run stands (pure): blocked, ready, running or done.

Kept incrementally so that a run of thousands of tasks costs the dispatcher the same per
event as a run of ten: a finished task unblocks only its own dependents, ready GPU tasks wait
in one list per kind sorted by priority (placement looks only at the head of each), and the
work still blocked is summed per (kind, VRAM need) for the scheduler's reservations.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from videofactory.farm.dag import Task
from videofactory.farm.scheduler import TaskView
from videofactory.vocabulary import GPU_KINDS, TaskKind

__all__ = ["TaskBoard"]


class TaskBoard:
    """The state of a run's tasks, updated one event at a time."""

    def __init__(self, tasks: Mapping[str, Task], ranks: Mapping[str, float]) -> None:
        self.tasks = tasks
        self.ranks = ranks
        self.children: dict[str, list[str]] = {tid: [] for tid in tasks}
        for t in tasks.values():
            for d in t.deps:
                self.children[d].append(t.id)
        self.done: set[str] = set()
        self.running: set[str] = set()
        self.blocked: set[str] = set(tasks)
        self._local: set[str] = set()
        self._gpu: dict[TaskKind, list[tuple[float, str]]] = {k: [] for k in GPU_KINDS}
        self._pending: dict[tuple[TaskKind, float], float] = {}
        for t in tasks.values():
            self._add_pending(t, +1)
        for tid in list(tasks):
            self._unblock(tid)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def unfinished(self) -> bool:
        """Whether anything is left to do or still running."""
        return len(self.done) < len(self.tasks)

    def is_ready(self, tid: str) -> bool:
        """Whether a task waits for a worker (its dependencies are done)."""
        if self.tasks[tid].kind in GPU_KINDS:
            return self._gpu_slot(tid) is not None
        return tid in self._local

    def ready_local(self) -> list[Task]:
        """Ready tasks that run here (speech, assembly)."""
        return [self.tasks[t] for t in sorted(self._local)]

    def ready_gpu(self) -> Iterable[Task]:
        """Every ready GPU task, best first within each kind."""
        for kind in GPU_KINDS:
            for _, tid in self._gpu[kind]:
                yield self.tasks[tid]

    def ready_gpu_head(self, per_kind: int, skip: Mapping[str, float], now: float) -> list[Task]:
        """The best ``per_kind`` ready GPU tasks of each kind, leaving out those whose retry
        is not due yet (``skip``: task id -> not before)."""
        out: list[Task] = []
        for kind in GPU_KINDS:
            taken = 0
            for _, tid in self._gpu[kind]:
                if skip.get(tid, 0.0) > now:
                    continue
                out.append(self.tasks[tid])
                taken += 1
                if taken >= per_kind:
                    break
        return out

    def pending_views(self) -> list[TaskView]:
        """The blocked GPU work, one view per (kind, VRAM need) with the summed cost."""
        return [
            TaskView(f"pending:{kind.value}:{vram:g}", kind, cost, vram)
            for (kind, vram), cost in self._pending.items()
            if cost > 0
        ]

    # -- changes ---------------------------------------------------------------------------------

    def start(self, tid: str) -> None:
        """A task was handed out (or found still running on a server)."""
        self._leave(tid)
        self.running.add(tid)

    def finish(self, tid: str) -> list[str]:
        """A task is done; returns its dependents that became ready."""
        self.running.discard(tid)
        self._leave(tid)
        self.done.add(tid)
        ready = []
        for child in self.children[tid]:
            if self._unblock(child):
                ready.append(child)
        return ready

    def retry(self, tid: str) -> None:
        """A task must run (again): ready if its dependencies are done, else blocked."""
        self.running.discard(tid)
        if tid in self.done:
            self.done.discard(tid)
        if self.is_ready(tid) or tid in self.blocked:
            return
        self.blocked.add(tid)
        self._add_pending(self.tasks[tid], +1)
        self._unblock(tid)

    def undo(self, tid: str) -> None:
        """A done task's output turned out unusable: it runs again, its dependents wait."""
        self.retry(tid)
        for child in self.children[tid]:
            if child not in self.done and child not in self.running:
                if self.is_ready(child):
                    self._remove_ready(child)
                    self.blocked.add(child)
                    self._add_pending(self.tasks[child], +1)

    # -- internals -------------------------------------------------------------------------------

    def _leave(self, tid: str) -> None:
        """Take a task out of the blocked or ready sets."""
        if tid in self.blocked:
            self.blocked.discard(tid)
            self._add_pending(self.tasks[tid], -1)
        else:
            self._remove_ready(tid)

    def _unblock(self, tid: str) -> bool:
        if tid not in self.blocked:
            return False
        task = self.tasks[tid]
        if not all(d in self.done for d in task.deps):
            return False
        self.blocked.discard(tid)
        self._add_pending(task, -1)
        if task.kind in GPU_KINDS:
            bisect.insort(self._gpu[task.kind], (-self.ranks[tid], tid))
        else:
            self._local.add(tid)
        return True

    def _gpu_slot(self, tid: str) -> tuple[list[tuple[float, str]], int] | None:
        """Where a GPU task sits in its kind's ready list (sorted by rank), if it is there."""
        key = (-self.ranks[tid], tid)
        lst = self._gpu[self.tasks[tid].kind]
        i = bisect.bisect_left(lst, key)
        return (lst, i) if i < len(lst) and lst[i] == key else None

    def _remove_ready(self, tid: str) -> None:
        if self.tasks[tid].kind in GPU_KINDS:
            if (slot := self._gpu_slot(tid)) is not None:
                lst, i = slot
                del lst[i]
        else:
            self._local.discard(tid)

    def _add_pending(self, task: Task, sign: int) -> None:
        if task.kind in GPU_KINDS:
            key = (task.kind, task.vram_gb)
            self._pending[key] = self._pending.get(key, 0.0) + sign * task.cost_s
