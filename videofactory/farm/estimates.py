"""How long a task will take on a worker: seeded from the farm file, learned as tasks finish.

A task's cost is in reference seconds (its time on a speed-1.0 card, see ``farm.dag``); a
worker's speed per task kind starts at the farm file's ``speed`` and follows an exponential
moving average of what finished tasks showed (cost / measured seconds). The farm-wide time
factor (measured / predicted, median) scales the fixed costs the scheduler reasons with, such
as a model switch, so that a fast simulated farm and a real one are judged alike.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping

from videofactory.config import WorkerConfig
from videofactory.vocabulary import TaskKind

__all__ = ["Estimates"]

#: Weight of the newest observation in the moving average.
ALPHA = 0.3
#: Observations of the time factor kept for its median.
FACTOR_WINDOW = 64


class Estimates:
    """Speeds per (worker, task kind), seeded and learned."""

    def __init__(
        self,
        workers: Iterable[WorkerConfig],
        learned: Mapping[tuple[str, str], float] | None = None,
    ) -> None:
        self._seed = {w.id: w.speed for w in workers}
        self._speed: dict[tuple[str, TaskKind], float] = {}
        for (wid, kind), speed in (learned or {}).items():
            if wid in self._seed and speed > 0:
                self._speed[(wid, TaskKind(kind))] = speed
        self._factors: list[float] = []
        self._kind_factors: dict[TaskKind, list[float]] = {}

    def speed(self, worker_id: str, kind: TaskKind) -> float:
        """Speed of a worker for a task kind: reference seconds of work per wall second.

        Learned where tasks of that kind finished there; elsewhere the farm file's speed,
        corrected by what tasks of that kind showed on other workers, so that every worker is
        judged on the same clock (one nothing has finished on is neither favoured nor shunned).
        """
        learned = self._speed.get((worker_id, kind))
        if learned is not None:
            return learned
        return self._seed.get(worker_id, 1.0) / self.kind_factor(kind)

    def kind_factor(self, kind: TaskKind) -> float:
        """Measured over predicted seconds for one task kind, on any worker (1.0 when none
        finished yet: one kind's pace says little about another's)."""
        observed = self._kind_factors.get(kind)
        return statistics.median(observed) if observed else 1.0

    def speeds(self, worker_id: str) -> dict[TaskKind, float]:
        """Speeds of a worker for every task kind."""
        return {k: self.speed(worker_id, k) for k in TaskKind}

    def seconds(self, worker_id: str, kind: TaskKind, cost_s: float) -> float:
        """Estimated wall-clock seconds of a task of this cost on this worker."""
        return cost_s / max(self.speed(worker_id, kind), 1e-9)

    @property
    def time_factor(self) -> float:
        """Measured over predicted seconds on this farm (1.0 until something finished)."""
        return statistics.median(self._factors) if self._factors else 1.0

    def observe(self, worker_id: str, kind: TaskKind, cost_s: float, seconds: float) -> float:
        """Learn from a finished task; returns the worker's new speed for the kind."""
        if seconds <= 0 or cost_s <= 0:
            return self.speed(worker_id, kind)
        predicted = cost_s / self._seed.get(worker_id, 1.0)
        self._factors.append(seconds / predicted)
        del self._factors[:-FACTOR_WINDOW]
        per_kind = self._kind_factors.setdefault(kind, [])
        per_kind.append(seconds / predicted)
        del per_kind[:-FACTOR_WINDOW]
        measured = cost_s / seconds
        old = self._speed.get((worker_id, kind))
        new = measured if old is None else (1 - ALPHA) * old + ALPHA * measured
        self._speed[(worker_id, kind)] = new
        return new
