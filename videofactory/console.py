"""How a run looks while it works: a progress display on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from videofactory.events import Event

__all__ = ["RunView"]

#: Events that are worth a line of their own.
LINE_EVENTS = {
    "run_started",
    "task_submitted",
    "task_done",
    "task_failed",
    "task_shrunk",
    "task_recovered",
    "task_adopted",
    "task_lost",
    "worker_down",
    "worker_up",
    "worker_refused",
    "warning",
    "run_done",
    "run_failed",
    "run_cancelled",
}
#: Events a live display prints above its bars.
NOTICE_EVENTS = LINE_EVENTS - {"run_started", "task_submitted", "task_done"}


class RunView:
    """Receives a run's events and shows them: a live bar on a terminal, log lines elsewhere.

    With ``quiet`` (``--json``) it shows nothing; the caller prints the result.
    """

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._overall = None
        self._workers: dict[str, object] = {}
        self._total = 0
        self._done = 0
        self._t0 = time.monotonic()

    def __enter__(self) -> RunView:
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._overall = self._progress.add_task("[bold]run", total=None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress:
            self._progress.stop()

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if event.kind == "run_started":
            self._total = int(event.data.get("tasks", 0))
        if event.kind == "task_done":
            self._done += 1
        if self._progress is not None:
            self._live_update(event)
        elif event.kind in LINE_EVENTS:
            stamp = f"{time.monotonic() - self._t0:7.1f}s"
            who = f"[{event.worker}] " if event.worker else ""
            print(f"{stamp} {event.kind:<15} {who}{event.message}", file=sys.stderr, flush=True)

    def _live_update(self, event: Event) -> None:
        progress = self._progress
        assert progress is not None and self._overall is not None
        progress.update(self._overall, total=self._total or None, completed=self._done)
        if event.worker:
            lane = self._workers.get(event.worker)
            if lane is None:
                lane = progress.add_task(f"  {event.worker}", total=1.0, completed=0)
                self._workers[event.worker] = lane
            label = f"  {event.worker:<7} {event.task_kind or ''} {event.shot_id or ''}".rstrip()
            if event.kind == "task_progress" and event.max:
                progress.update(lane, description=label, total=event.max, completed=event.value)
            elif event.kind in ("task_submitted", "task_started"):
                progress.update(lane, description=label, total=1.0, completed=0)
            elif event.kind == "task_done":
                progress.update(
                    lane, description=f"  {event.worker:<7} idle", total=1.0, completed=1.0
                )
        if event.kind in NOTICE_EVENTS:
            progress.console.print(f"{event.kind}: {event.message}")
