"""Events a run emits while it works, for whoever watches (terminal, JSON lines, the log)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Event", "EventSink"]


@dataclass(frozen=True)
class Event:
    """Something that happened in a run."""

    #: run_started, task_submitted, task_started, task_progress, task_done, task_failed,
    #: worker_down, run_done, run_failed, log
    kind: str
    run_id: str
    message: str = ""
    task_id: str | None = None
    task_kind: str | None = None
    shot_id: str | None = None
    worker: str | None = None
    #: For task_progress: value / max reported by the node.
    value: float | None = None
    max: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, without empty fields."""
        # Field by field rather than asdict(), which deep-copies ``data`` for every event.
        out = {name: getattr(self, name) for name in _FIELDS}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != ""}


_FIELDS = tuple(f.name for f in fields(Event))

#: A callable that receives events (must be quick: it runs on the event loop).
EventSink = Callable[[Event], None]
