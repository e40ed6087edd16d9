"""What to do when a task fails or cannot be placed (pure): decide, and let the dispatcher act.

The dispatcher hands the policy an event (an attempt failed with this error; the clock ticked
with these tasks ready) and what it knows of the workers (``scheduler.WorkerView``); the policy
updates its ledger of each task's recovery (attempts, workers it failed on, how far it was
shrunk) and answers with actions for the dispatcher to carry out: retry later, take a worker out
of rotation, stop giving a worker a task kind, shrink a task, let a hero pass go, fail the run.
Nothing here does I/O or reads a clock of its own, so every rule is table-tested
(tests/core/test_core_policy.py).

The rules:

* An execution error is retried after a back-off (``BACKOFF_S``), on another worker while one
  can take it; a task fails the run once every worker able to run it failed it
  ``FAILS_PER_WORKER`` times, or after ``max_attempts``.
* Out of memory: that worker gets no more tasks of the kind; the task goes to a worker up now
  with more memory, else to another that can hold it, else it is shrunk at once (width,
  height and frames times ``SHRINK``, down to ``min_scale``): it never waits for a card that
  is down.
* A worker that cannot be reached, or whose job hung, is taken out of rotation. A task under
  which servers went down while running it, on ``DOWNS_TO_SUSPECT`` workers, is taken for
  the cause (a job that exhausts RAM gets its server killed) and shrunk.
* A workflow a server rejects is never sent there again for that kind.
* A ready task no worker can take waits only while a worker that could take it is down; a hero
  pass waits while the rest of the film renders and then ``hero_wait_s``; any other task
  ``no_worker_timeout_s``. A hero pass never fails the run: it goes without instead.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.errors import (
    BackendTimeout,
    BackendUnavailable,
    ExecutionFailed,
    FactoryError,
    Interrupted,
    MediaError,
    OutOfMemory,
    ProtocolError,
    WorkflowError,
    WorkflowRejected,
)
from videofactory.farm.dag import Task
from videofactory.farm.scheduler import TaskView, WorkerView, candidates
from videofactory.vocabulary import ROLE_FOR_KIND, TaskKind

if TYPE_CHECKING:
    from videofactory.config import DispatchConfig

__all__ = [
    "Action",
    "Decision",
    "FailRun",
    "Move",
    "Policy",
    "Redo",
    "Refuse",
    "Retry",
    "Shrink",
    "Skip",
    "TakeDown",
    "Unrefuse",
    "Verdict",
    "backoff_s",
    "classify",
]

#: Delays between retries of one task, in seconds (the last one repeats).
BACKOFF_S = (1.0, 2.0, 5.0, 10.0)
#: Each shrink multiplies width, height and frames by this.
SHRINK = 0.75
#: Why a worker gets no more tasks of a kind after running out of memory on one.
OOM_REFUSAL = "out of memory on a {kind}"
#: A task fails the run once every worker able to run it has failed it this many times.
FAILS_PER_WORKER = 2
#: A task whose servers went down while running it on this many workers is taken for the
#: cause (it runs them out of memory, say) and shrunk, not passed on whole.
DOWNS_TO_SUSPECT = 2


class Move(str, Enum):
    """What a failed attempt means, in a word (recorded with the failure)."""

    #: Try again after a back-off, preferably on another worker.
    retry = "retry"
    #: Out of memory: only a worker that can hold it may take it (or it is shrunk).
    more_vram = "more_vram"
    #: The worker itself is at fault (unreachable, hung): out of rotation until it answers.
    worker_down = "worker_down"
    #: The workflow cannot run on that worker (rejected): never send this kind there again.
    refuse_kind = "refuse_kind"
    #: Nothing will make it work.
    give_up = "give_up"


@dataclass(frozen=True)
class Verdict:
    """What a failed attempt means, and whether it counts against the worker for this task."""

    move: Move
    #: The task should avoid this worker from now on.
    avoid_worker: bool
    reason: str


def classify(error: BaseException, *, attempts: int, max_attempts: int) -> Verdict:
    """What a failed attempt (the ``attempts``-th of its task) means."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if attempts >= max_attempts:
        return Verdict(Move.give_up, False, f"gave up after {attempts} attempts: {reason}")
    if isinstance(error, OutOfMemory):
        return Verdict(Move.more_vram, True, reason)
    if isinstance(error, WorkflowRejected):
        return Verdict(Move.refuse_kind, True, reason)
    if isinstance(error, WorkflowError):
        return Verdict(Move.give_up, False, reason)
    if isinstance(error, BackendUnavailable | BackendTimeout | ProtocolError):
        return Verdict(Move.worker_down, True, reason)
    if isinstance(error, ExecutionFailed | Interrupted | MediaError):
        # A node raised, someone interrupted it, or the file it wrote is corrupt: the next
        # attempt may well work, on another worker if there is one.
        return Verdict(Move.retry, True, reason)
    if isinstance(error, FactoryError):
        return Verdict(Move.retry, True, reason)
    return Verdict(Move.give_up, False, f"{type(error).__name__}: {reason}")


def backoff_s(attempts: int) -> float:
    """How long to wait before attempt number ``attempts + 1``."""
    if attempts <= 0:
        return 0.0
    return BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]


# -- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """Put the task back among the ready ones; not placed before ``not_before``."""

    task_id: str
    not_before: float


@dataclass(frozen=True)
class TakeDown:
    """Take the worker out of rotation (its jobs go elsewhere) and probe it until it answers."""

    worker: str
    why: str


@dataclass(frozen=True)
class Refuse:
    """Give the worker no more tasks of this kind."""

    worker: str
    kind: TaskKind
    why: str


@dataclass(frozen=True)
class Unrefuse:
    """The worker may take the kind again (shrunk, a task may fit where it ran out of memory)."""

    worker: str
    kind: TaskKind


@dataclass(frozen=True)
class Shrink:
    """The task renders at ``scale`` of its planned size and frames from now on."""

    task_id: str
    scale: float
    why: str


@dataclass(frozen=True)
class Skip:
    """A hero pass goes without: its shot goes out with the base clip."""

    task_id: str
    why: str


@dataclass(frozen=True)
class FailRun:
    """Nothing will make it work: the run fails (what finished is kept)."""

    why: str


@dataclass(frozen=True)
class Redo:
    """A file the assembly refused: the task that made it renders it again."""

    path: Path
    why: str


Action = Retry | TakeDown | Refuse | Unrefuse | Shrink | Skip | FailRun | Redo


@dataclass(frozen=True)
class Decision:
    """What the policy made of a failed attempt: its verdict (to record) and the actions."""

    verdict: Verdict
    attempt: int
    actions: tuple[Action, ...]


# -- the ledger ---------------------------------------------------------------------------------


@dataclass
class Recovery:
    """One task's recovery so far."""

    attempts: int = 0
    #: Worker id -> failed attempts there that count against it.
    failures: Counter[str] = field(default_factory=Counter)
    #: Workers whose server went down while running it.
    took_down: set[str] = field(default_factory=set)
    #: Fraction of its planned size (shrunk after out of memory).
    scale: float = 1.0
    #: Only workers holding at least this much may take it (it ran out of memory on less).
    min_memory_gb: float = 0.0
    #: Not placed before this time (its back-off).
    not_before: float = 0.0
    #: Since when no worker has been able to take it (None: one can).
    stuck_since: float | None = None


class Policy:
    """The recovery rules over a run's tasks (see the module docstring)."""

    def __init__(
        self,
        config: DispatchConfig,
        tasks: Mapping[str, Task],
        ranks: Mapping[str, float],
        *,
        strict: bool = False,
        scales: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.strict = strict
        self.tasks = tasks
        self.ranks = ranks
        self.ledger = {tid: Recovery(scale=(scales or {}).get(tid, 1.0)) for tid in tasks}

    # -- what placement sees -------------------------------------------------------------------

    def scale(self, task_id: str) -> float:
        """The fraction of its planned size the task renders at."""
        return self.ledger[task_id].scale

    def due(self, task_id: str, now: float) -> bool:
        """Whether its back-off is over."""
        return self.ledger[task_id].not_before <= now

    def not_before(self) -> dict[str, float]:
        """Task id -> the time before which it may not be placed (only tasks backing off)."""
        return {tid: r.not_before for tid, r in self.ledger.items() if r.not_before > 0}

    def view(self, task: Task, workers: Sequence[WorkerView] = ()) -> TaskView:
        """The task as placement sees it: its size, the memory a worker must hold, and the
        workers it failed on more than on others (avoided while another can take it)."""
        r = self.ledger[task.id]
        view = TaskView(
            task.id,
            task.kind,
            task.cost_s * r.scale,
            task.vram_gb * r.scale,
            self.ranks.get(task.id, 0.0),
            scale=r.scale,
            min_memory_gb=r.min_memory_gb,
        )
        if r.failures:
            able = [w for w in workers if w.up and fits(view, w)]
            fewest = min((r.failures[w.id] for w in able), default=0)
            avoid = frozenset(w.id for w in able if r.failures[w.id] > fewest)
            view = dataclasses.replace(view, avoid=avoid)
        return view

    # -- a failed attempt ----------------------------------------------------------------------

    def on_failure(
        self,
        task: Task,
        worker: str | None,
        error: BaseException,
        *,
        workers: Sequence[WorkerView],
        now: float,
        ran: bool = False,
    ) -> Decision:
        """An attempt of ``task`` on ``worker`` (None: a task that runs here) failed with
        ``error``; ``ran``: the server had started it. ``workers``: every worker now."""
        r = self.ledger[task.id]
        r.attempts += 1
        v = classify(error, attempts=r.attempts, max_attempts=self.config.max_attempts)
        went_down = v.move is Move.worker_down and worker is not None and ran
        if went_down:
            assert worker is not None
            if isinstance(error, BackendUnavailable):  # not a hang: the server is gone
                v = dataclasses.replace(
                    v, reason=f"{worker}'s server went away while running it: {v.reason}"
                )
            r.took_down.add(worker)
        actions: list[Action] = []
        try:
            actions += self._recover(task, worker, error, v, went_down, workers)
            r.not_before = now + backoff_s(r.attempts)
            self._check_everywhere(task, workers, actions)
        except _Fail as failure:
            # A hero pass is a bonus: what would fail the run leaves its shot without it.
            end = Skip(task.id, failure.why) if task.kind is TaskKind.hero else FailRun(failure.why)
            return Decision(v, r.attempts, (*actions, end))
        return Decision(v, r.attempts, (*actions, Retry(task.id, r.not_before)))

    def _recover(
        self,
        task: Task,
        worker: str | None,
        error: BaseException,
        v: Verdict,
        went_down: bool,
        workers: Sequence[WorkerView],
    ) -> list[Action]:
        r = self.ledger[task.id]
        if v.move is Move.give_up:
            raise _Fail(f"{task.kind.value} {task.shot_id or ''}: {v.reason}")
        actions: list[Action] = []
        if task.kind is TaskKind.assemble and isinstance(error, MediaError):
            actions.append(Redo(Path(error.path or ""), str(error)))
        if worker is None:
            return actions
        if v.avoid_worker:
            r.failures[worker] += 1
        if v.move is Move.worker_down:
            actions.append(TakeDown(worker, v.reason))
        elif v.move is Move.refuse_kind:
            actions.append(Refuse(worker, task.kind, v.reason))
        elif v.move is Move.more_vram:
            actions += self._more_memory(task, worker, workers)
        downs = sorted(r.took_down)
        if went_down and len(downs) >= DOWNS_TO_SUSPECT:
            # Servers keep dying under this one task: it is the likely cause (a job that
            # exhausts RAM gets its server killed), so it is not passed on whole.
            actions += self._shrink(
                task, f"the servers of {', '.join(downs)} went down running it", workers
            )
        return actions

    def _more_memory(self, task: Task, worker: str, workers: Sequence[WorkerView]) -> list[Action]:
        """Out of memory: a worker up now with more memory, else another that can hold it
        (its workflow may need less), else the task made smaller at once: it never waits for
        a worker that is down."""
        r = self.ledger[task.id]
        # This server cannot hold this kind of job: spare it the next ones like it.
        refuse = Refuse(worker, task.kind, OOM_REFUSAL.format(kind=task.kind.value))
        after = apply_refusal(workers, refuse)
        view = self.view(task, after)
        here = next((w.vram_gb for w in workers if w.id == worker), 0.0)
        roomier = dataclasses.replace(view, min_memory_gb=here + 0.5)
        if candidates(roomier, after, strict=self.strict):
            r.min_memory_gb = here + 0.5
            return [refuse]
        if candidates(view, after, strict=self.strict):
            return [refuse]
        return [refuse, *self._shrink(task, "out of memory on every worker that could take it",
                                      after)]  # fmt: skip

    def _shrink(self, task: Task, why: str, workers: Sequence[WorkerView]) -> list[Action]:
        """Render the task smaller; below ``min_scale`` it cannot be helped."""
        r = self.ledger[task.id]
        scale = r.scale * SHRINK
        if scale < self.config.min_scale:
            raise _Fail(
                f"{task.kind.value} {task.shot_id}: {why}, even at {r.scale:.0%} of its size; "
                "use a lighter workflow or a bigger GPU"
            )
        r.scale, r.min_memory_gb = scale, 0.0
        r.failures.clear()
        oom = OOM_REFUSAL.format(kind=task.kind.value)
        # Smaller, it may fit where the full size did not: give those workers another go.
        again = [Unrefuse(w.id, task.kind) for w in workers if w.refused.get(task.kind) == oom]
        return [*again, Shrink(task.id, scale, why)]

    def _check_everywhere(
        self, task: Task, workers: Sequence[WorkerView], actions: Sequence[Action]
    ) -> None:
        """Give up when every worker that could run the task has failed it repeatedly."""
        r = self.ledger[task.id]
        after = workers
        for a in actions:
            if isinstance(a, Refuse | Unrefuse):
                after = apply_refusal(after, a)
        view = self.view(task)
        able = [w.id for w in after if fits(view, w)]
        if able and all(r.failures[w] >= FAILS_PER_WORKER for w in able):
            raise _Fail(
                f"{task.kind.value} {task.shot_id} failed on every worker that can run it "
                f"({', '.join(able)})"
            )

    # -- ready tasks no worker can take ------------------------------------------------------

    def on_tick(
        self,
        ready: Iterable[Task],
        workers: Sequence[WorkerView],
        now: float,
        *,
        other_gpu_work_left: bool,
    ) -> list[Action]:
        """Act on ready GPU tasks that no worker can take now.

        Waiting makes sense only while a worker that could take the task is down (it may come
        back); when every worker refuses it or is too small, nothing will change: a hero goes
        out without its pass, another task fails the run, at once. A hero that waits for a
        GPU to come back waits while the rest of the film renders (``other_gpu_work_left``),
        then ``hero_wait_s``; any other task ``no_worker_timeout_s``.
        """
        if_back = [dataclasses.replace(w, up=True) for w in workers if not w.up]
        verdicts: dict[tuple[object, ...], tuple[bool, bool]] = {}
        actions: list[Action] = []
        for task in ready:
            r = self.ledger[task.id]
            view = self.view(task, workers)
            if view.fit_key not in verdicts:
                verdicts[view.fit_key] = (
                    bool(candidates(view, workers, strict=self.strict)),
                    bool(candidates(view, if_back, strict=self.strict)),
                )
            can_now, can_later = verdicts[view.fit_key]
            hero = task.kind is TaskKind.hero
            if can_now or (hero and can_later and other_gpu_work_left):
                r.stuck_since = None
                continue
            since = r.stuck_since = now if r.stuck_since is None else r.stuck_since
            limit = self.config.hero_wait_s if hero else self.config.no_worker_timeout_s
            waited = now - since
            if can_later and waited < limit:
                continue
            why = self.no_worker_reason(task, workers, waited_s=waited if can_later else None)
            actions.append(Skip(task.id, why) if hero else FailRun(why))
            if not hero:
                break
        return actions

    def no_worker_reason(
        self, task: Task, workers: Sequence[WorkerView], *, waited_s: float | None = None
    ) -> str:
        """Why no worker can take the task, worker by worker."""
        view = self.view(task)
        role = ROLE_FOR_KIND.get(task.kind)
        parts = []
        for w in workers:
            if not w.up:
                parts.append(f"{w.id} down ({w.why_down})")
            elif task.kind in w.refused:
                parts.append(f"{w.id} refuses {task.kind.value} ({w.refused[task.kind]})")
            elif w.vram_gb < (need := max(w.need(view), view.min_memory_gb)):
                parts.append(f"{w.id} has {w.vram_gb:g} GB, needs {need:g}")
            elif self.strict and role is not None and role not in w.roles:
                parts.append(f"{w.id} is not a {role.value} GPU")
        waited = f" for {waited_s:.0f} s" if waited_s is not None else ""
        return f"no worker could take {task.kind.value} {task.shot_id}{waited}: " + "; ".join(parts)


class _Fail(Exception):
    """Nothing will make this task work (a hero goes without, another fails the run)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def fits(task: TaskView, worker: WorkerView) -> bool:
    """Whether the worker accepts the task's kind and holds what its workflow needs there
    (up or not, roles aside)."""
    need = max(worker.need(task), task.min_memory_gb)
    return task.kind not in worker.refused and worker.vram_gb >= need


def apply_refusal(workers: Sequence[WorkerView], action: Refuse | Unrefuse) -> list[WorkerView]:
    """The workers as they are once a refusal is made (or lifted)."""
    out = []
    for w in workers:
        if w.id == action.worker:
            refused = dict(w.refused)
            if isinstance(action, Refuse):
                refused[action.kind] = action.why
            else:
                refused.pop(action.kind, None)
            w = dataclasses.replace(w, refused=refused)
        out.append(w)
    return out
