"""Carrying out what the failure policy decided: the policy (``policy.py``, pure) answers a
failure or a stuck task with actions; ``Actions`` applies them to the run's parts (the task
board, the workers' lanes and health, the outputs) and records each in the store before what it
announces. The dispatcher hands it those parts; it knows nothing of the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.errors import FactoryError
from videofactory.farm.policy import (
    Action,
    FailRun,
    Redo,
    Refuse,
    Retry,
    Shrink,
    Skip,
    TakeDown,
    Unrefuse,
)
from videofactory.store import TaskState

if TYPE_CHECKING:
    from videofactory.farm.board import TaskBoard
    from videofactory.farm.context import RunContext
    from videofactory.farm.dag import Task
    from videofactory.farm.health import Health
    from videofactory.farm.lanes import Lane
    from videofactory.farm.reuse import Reuse

__all__ = ["Actions"]


class Actions:
    """Applies the policy's actions to one run's parts (shared with the dispatcher's loop)."""

    def __init__(
        self,
        ctx: RunContext,
        tasks: dict[str, Task],
        board: TaskBoard,
        lanes: dict[str, Lane],
        health: Health,
        outputs: dict[str, Path],
        reuse: Reuse,
        to_look: list[str],
    ) -> None:
        self.ctx = ctx
        self.tasks = tasks
        self.board = board
        #: The workers' lanes (filled once the run's clients are open).
        self.lanes = lanes
        self.health = health
        self.outputs = outputs
        self.reuse = reuse
        #: Tasks that became ready, to be looked up in the artifact cache by the loop.
        self.to_look = to_look

    def apply(self, actions: Iterable[Action]) -> None:
        """Carry out the actions in order.

        Raises:
            FactoryError: a ``FailRun`` (the run fails with its reason).
        """
        store, emit = self.ctx.store, self.ctx.emit
        for a in actions:
            if isinstance(a, Retry):
                self.board.retry(a.task_id)
            elif isinstance(a, TakeDown):
                self.health.take_down(self.lanes[a.worker], a.why)
            elif isinstance(a, Refuse):
                self.lanes[a.worker].refused[a.kind] = a.why
            elif isinstance(a, Unrefuse):
                self.lanes[a.worker].refused.pop(a.kind, None)
            elif isinstance(a, Shrink):
                task = self.tasks[a.task_id]
                store.update_task_params(a.task_id, {**store.task(a.task_id).params,
                                                     "scale": a.scale})  # fmt: skip
                emit(
                    "task_shrunk",
                    f"{task.kind.value} {task.shot_id}: {a.why}; rendering at {a.scale:.0%} "
                    "of its size and frames",
                    task,
                    data={"scale": a.scale},
                )
            elif isinstance(a, Skip):
                self.skip(self.tasks[a.task_id], a.why)
            elif isinstance(a, Redo):
                self.redo(a.path, a.why)
            elif isinstance(a, FailRun):
                raise FactoryError(a.why)

    def release(self, task_id: str) -> None:
        """A task is over (done or skipped): what it unblocks is ready, in the store too,
        and to be looked up in the cache. Call inside the store's batch that records it."""
        for child in self.board.finish(task_id):
            self.ctx.store.set_task_state(child, TaskState.ready)
            self.to_look.append(child)

    def skip(self, task: Task, why: str) -> None:
        """The shot goes out with its base clip: the hero is recorded as skipped, and why."""
        store = self.ctx.store
        with store.batch():
            store.set_task_state(task.id, TaskState.skipped, error=why)
            self.release(task.id)
            self.ctx.emit(
                "hero_skipped",
                f"shot {task.shot_id} goes out without its hero pass: {why}",
                task,
                data={"reason": why},
            )

    def redo(self, bad: Path, why: str) -> None:
        """A file the assembly refused is rendered again by the task that made it."""
        for tid, path in list(self.outputs.items()):
            if path == bad or path.resolve() == bad.resolve():
                self.ctx.emit(
                    "warning", f"{path.name} is unusable ({why}); rendering it again",
                    self.tasks[tid],
                )  # fmt: skip
                self.outputs.pop(tid)
                self.reuse.forget(tid)
                self.board.undo(tid)
                self.ctx.store.set_task_state(tid, TaskState.ready, error=why)
