"""What to do when a task fails (pure): retry, move, shrink, take the worker out, or give up.

The dispatcher calls ``verdict(error, ...)`` with the exception a job ended with and acts on the
answer; nothing here does I/O, so every rule is table-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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

__all__ = ["Action", "Verdict", "backoff_s", "verdict"]

#: Delays between retries of one task, in seconds (the last one repeats).
BACKOFF_S = (1.0, 2.0, 5.0, 10.0)
#: Every task gets at most this many attempts, whatever happens.
MAX_ATTEMPTS = 8


class Action(str, Enum):
    """What the dispatcher does after a failed attempt."""

    #: Try again after a back-off, preferably on another worker.
    retry = "retry"
    #: Out of memory: only a worker with more VRAM may take it (or shrink it if none has).
    more_vram = "more_vram"
    #: The worker itself is at fault (unreachable, hung, dead socket): take it out of
    #: rotation, probe it, and give the task to another worker.
    worker_down = "worker_down"
    #: The workflow cannot run on that worker (rejected): never send this kind there again.
    refuse_kind = "refuse_kind"
    #: Nothing will make it work: fail the run.
    give_up = "give_up"


@dataclass(frozen=True)
class Verdict:
    """The action, and whether this attempt counts against the worker for this task."""

    action: Action
    #: The task should avoid this worker from now on.
    avoid_worker: bool
    reason: str


def verdict(error: BaseException, *, attempts: int, max_attempts: int = MAX_ATTEMPTS) -> Verdict:
    """Decide what a failed attempt (the ``attempts``-th of its task) means."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if attempts >= max_attempts:
        return Verdict(Action.give_up, False, f"gave up after {attempts} attempts: {reason}")
    if isinstance(error, OutOfMemory):
        return Verdict(Action.more_vram, True, reason)
    if isinstance(error, WorkflowRejected):
        return Verdict(Action.refuse_kind, True, reason)
    if isinstance(error, WorkflowError):
        return Verdict(Action.give_up, False, reason)
    if isinstance(error, BackendUnavailable | BackendTimeout | ProtocolError):
        return Verdict(Action.worker_down, True, reason)
    if isinstance(error, ExecutionFailed | Interrupted | MediaError):
        # A node raised, someone interrupted it, or the file it wrote is corrupt: the next
        # attempt may well work, on another worker if there is one.
        return Verdict(Action.retry, True, reason)
    if isinstance(error, FactoryError):
        return Verdict(Action.retry, True, reason)
    return Verdict(Action.give_up, False, f"{type(error).__name__}: {reason}")


def backoff_s(attempts: int) -> float:
    """How long to wait before attempt number ``attempts + 1``."""
    if attempts <= 0:
        return 0.0
    return BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
