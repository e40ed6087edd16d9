"""What every part of a run's dispatch shares: the run, its store, its farm, its clock of speeds,
and where its events go. Handed to the parts explicitly; none of them knows the dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from videofactory.events import Event, EventSink

if TYPE_CHECKING:
    from videofactory.config import FarmConfig
    from videofactory.farm.dag import Task
    from videofactory.farm.estimates import Estimates
    from videofactory.shotlist import ShotList
    from videofactory.store import Store

__all__ = ["Emit", "RunContext", "Supervision"]


class Emit(Protocol):
    """Record an event of the run (and show it to whoever watches)."""

    def __call__(
        self, kind: str, message: str = "", task: Task | None = None, **kw: Any
    ) -> None: ...


class Supervision(Protocol):
    """What a process supervisor of the farm's servers tells a run: which servers it is
    draining for a restart (give them no new job) and which it restarted. The farm launcher
    and the built-in farm provide one; the wiring hands it to the dispatcher."""

    #: Who restarts the servers, for the run's log ("the launcher").
    label: str

    def draining(self) -> set[str]:
        """Ids of the workers being drained now."""
        ...

    def restarts_since(self, since: float) -> list[dict[str, Any]]:
        """The restarts since a wall-clock time: {worker, cause, detail, ts, back_at}."""
        ...


@dataclass
class RunContext:
    """One run as its parts see it."""

    store: Store
    farm: FarmConfig
    run_id: str
    run_dir: Path
    shotlist: ShotList
    estimates: Estimates
    #: Where events go besides the store (the watcher), if anywhere.
    sink: EventSink | None = None
    #: Make the dispatcher's loop look again now (a slot freed).
    wake: Callable[[], None] = lambda: None

    def emit(self, kind: str, message: str = "", task: Task | None = None, **kw: Any) -> None:
        """Log an event to the store (the lasting ones) and hand it to the watcher."""
        ev = Event(
            kind=kind,
            run_id=self.run_id,
            message=message,
            task_id=task.id if task else None,
            task_kind=task.kind.value if task else None,
            shot_id=task.shot_id if task else None,
            **kw,
        )
        if kind != "task_progress":
            data = {k: v for k, v in ev.to_json().items() if k in ("worker", "data")}
            self.store.add_event(self.run_id, kind, message, task_id=ev.task_id, data=data)
        if self.sink:
            self.sink(ev)
