"""How a run looks while it works: live lanes on a terminal, log lines elsewhere, JSON lines
for programs.

``RunView`` receives a run's events (it is the dispatcher's ``on_event``, or ``videofactory
wait`` replays the stored ones into it) and shows them one of three ways:

* on a terminal, a live view: one lane per GPU (card, role, the task and shot it is on, the
  progress ComfyUI reports, VRAM from /system_stats), overall progress with an ETA, and the
  retries printed above the lanes as they happen;
* not on a terminal, one plain line per event worth a line (``format_line``), on stderr;
* with ``--json``, every event as one JSON object per line on stdout (the caller then prints
  the result as the last line).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from videofactory.errors import BackendError
from videofactory.events import Event
from videofactory.vocabulary import TaskId
from videofactory.watching.state import LaneState, RunWatch, TaskInfo

if TYPE_CHECKING:
    from videofactory.comfy.probe import ComfyProbe

__all__ = ["LINE_EVENTS", "RunView", "format_line", "load_run_into"]

#: Events that are worth a line of their own.
LINE_EVENTS = frozenset(
    {
        # a run planned by its own process (``generate --detach``): what it plans, what the
        # planner said (the LLM it asks, why it fell back), how many shots it made
        "run_planning",
        "run_planned",
        "run_started",
        "task_submitted",
        "task_done",
        "task_failed",
        "task_shrunk",
        "task_recovered",
        "task_adopted",
        "task_lost",
        "task_redo",
        "worker_down",
        "worker_up",
        "worker_restarted",
        "worker_refused",
        "job_cancelled",
        "warning",
        # which voice speaks the film, and shots spoken again to keep it one (farm/voice.py)
        "speech_voice",
        "speech_respoken",
        "run_done",
        "run_failed",
        "run_cancelled",
    }
)
#: Events a live display prints above its lanes (the rest show in the lanes themselves).
NOTICE_EVENTS = LINE_EVENTS - {"run_started", "task_submitted", "task_done", "task_adopted"}
#: How often the VRAM of each GPU is read from its /system_stats, seconds.
VRAM_POLL_S = 2.0
#: Colour of each task kind in the lanes (the report's timeline uses the same hues).
KIND_STYLE = {
    "look": "red",
    "keyframe": "magenta",
    "clip": "cyan",
    "hero": "yellow",
    "speech": "green",
    "assemble": "blue",
}


def format_line(ev: Event, t0: float | None) -> str:
    """One plain log line: seconds since the run started, the event, the worker, the message."""
    stamp = f"{ev.ts - t0:7.1f}s" if t0 is not None else time.strftime("%H:%M:%S")
    who = f"[{ev.worker}] " if ev.worker else ""
    return f"{stamp} {ev.kind:<15} {who}{ev.message}"


def load_run_into(watch: RunWatch, workdir: Path, run_id: str) -> None:
    """Give a watch the run's farm (cards, roles, URLs) and task list from the run database."""
    from videofactory.store import DB_NAME, FINISHED, Store

    if not (Path(workdir) / DB_NAME).exists():
        return
    with Store.for_workdir(workdir) as store:
        record = store.run(run_id)
        rows = store.tasks(record["id"])
    done = [t.id for t in rows if t.state in FINISHED]
    watch.load(record["farm"], [TaskInfo.from_row(t) for t in rows], done)


class RunView:
    """Receives a run's events and shows them (see the module docstring).

    ``json_lines`` prints every event as JSON on ``stdout``; otherwise a live view when
    ``console`` is a terminal, plain lines when not. ``workdir`` lets the view read the farm and
    task list of the run when it starts (for card names, roles, VRAM and the ETA).
    """

    def __init__(
        self,
        *,
        json_lines: bool = False,
        workdir: Path | None = None,
        console: Console | None = None,
        stdout: IO[str] | None = None,
        vram_poll_s: float = VRAM_POLL_S,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.json_lines = json_lines
        self.live = self.console.is_terminal and not json_lines
        self.workdir = workdir
        self.watch = RunWatch()
        self._stdout = stdout
        self._lock = threading.RLock()
        self._live: Live | None = None
        self._poll_s = vram_poll_s
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def __enter__(self) -> RunView:
        if self.live:
            self._live = Live(
                get_renderable=self.render,
                console=self.console,
                refresh_per_second=4,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        if self._live is not None:
            self._live.stop()

    def __call__(self, event: Event) -> None:
        if self.json_lines:
            out = self._stdout or sys.stdout
            print(json.dumps(event.to_json()), file=out, flush=True)
            return
        with self._lock:
            if event.kind == "run_started" and not self.watch.tasks and self.workdir:
                # A missing or unreadable database only costs the card names and the ETA.
                with contextlib.suppress(Exception):
                    load_run_into(self.watch, self.workdir, event.run_id)
            self.watch.apply(event)
        if self._live is not None:
            if event.kind == "run_started":
                self._start_poller()
            elif self.watch.ended:
                self._stop.set()  # the farm may go away now: keep the last readings
            if event.kind in NOTICE_EVENTS:
                self._live.console.print(self._notice(event), highlight=False)
            self._live.refresh()
        elif event.kind in LINE_EVENTS:
            print(format_line(event, self.watch.started_ts), file=sys.stderr, flush=True)

    # -- the live view -------------------------------------------------------------------------

    def render(self) -> Group:
        """The live view now: the overall line, then one lane per GPU."""
        with self._lock:
            return Group(self._overall(), self._lanes())

    def _overall(self) -> Table:
        w = self.watch
        now = time.time()
        grid = Table.grid(padding=(0, 1))
        for _ in range(4):
            grid.add_column()
        total = max(w.total, 1)
        bar = ProgressBar(total=total, completed=len(w.done), width=30)
        eta = w.eta_s(now)
        state = {"run_done": "done", "run_failed": "failed", "run_cancelled": "cancelled"}.get(
            w.ended or "", "running"
        )
        grid.add_row(
            Text(f"{w.run_id or 'run'}", style="bold"),
            bar,
            Text(f"{len(w.done)}/{w.total} tasks", style="bold"),
            Text(
                f"{state}  elapsed {_clock(w.elapsed_s(now))}"
                + (f"  ETA {_clock(eta)}" if eta is not None else "")
                + (f"  retries {w.retries}" if w.retries else ""),
                style="red" if w.retries else "",
            ),
        )
        return grid

    def _lanes(self) -> Table:
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="dim")
        for name in ("GPU", "card", "role", "task", "progress", "", "VRAM GB", "done"):
            table.add_column(name, no_wrap=True)
        for lane in self.watch.ordered_lanes():
            table.add_row(*self._lane_row(lane))
        return table

    def _lane_row(self, lane: LaneState) -> list[Any]:
        task = self.watch.tasks.get(lane.running or "")
        kind = task.kind if task else _kind_of(lane.running)
        shot = task.shot_id if task else None
        if not lane.up:
            what = Text(f"down: {lane.reason}"[:48], style="bold red")
        elif lane.running:
            what = Text(f"{kind} {shot or ''}".strip(), style=KIND_STYLE.get(kind, ""))
            if lane.queued:
                what.append(f"  +{len(lane.queued)} queued", style="dim")
        elif lane.queued:
            what = Text(f"{len(lane.queued)} queued", style="dim")
        else:
            what = Text("idle", style="dim")
        fraction = lane.fraction
        bar = ProgressBar(
            total=1.0,
            completed=fraction or 0.0,
            width=24,
            pulse=lane.running is not None and fraction is None,
            animation_time=time.monotonic(),
        )
        pct = f"{fraction:4.0%}" if fraction is not None else ""
        vram = (
            f"{lane.vram_used_gb:4.1f}/{lane.vram_total_gb:g}"
            if lane.vram_used_gb is not None and lane.vram_total_gb
            else (f"-/{lane.vram_gb:g}" if lane.vram_gb else "")
        )
        done = f"{lane.done}" + (f" ({lane.failed} failed)" if lane.failed else "")
        return [
            Text(lane.id, style="bold"),
            lane.card,
            "/".join(lane.roles) if lane.gpu else "cpu",
            what,
            bar,
            pct,
            vram,
            Text(done, style="red" if lane.failed else ""),
        ]

    def _notice(self, ev: Event) -> Text:
        bad = ev.kind in ("task_failed", "worker_down", "run_failed", "run_cancelled")
        style = "red" if bad else ("green" if ev.kind in ("run_done", "worker_up") else "yellow")
        return Text(format_line(ev, self.watch.started_ts), style=style)

    # -- VRAM from /system_stats ------------------------------------------------------------------

    def _start_poller(self) -> None:
        if self._poller is None and any(lane.url for lane in self.watch.lanes.values()):
            self._poller = threading.Thread(target=self._poll_vram, name="vram", daemon=True)
            self._poller.start()

    def _poll_vram(self) -> None:
        """Read each GPU's VRAM every few seconds (a server that does not answer shows '-')."""
        from videofactory.comfy.probe import ComfyProbe

        with ComfyProbe(timeout=min(2.0, self._poll_s)) as probe:
            while not self._stop.is_set():
                for lane in list(self.watch.lanes.values()):
                    if not lane.url or self._stop.is_set():
                        continue
                    used, total = _vram(probe, lane.url)
                    with self._lock:
                        self.watch.set_vram(lane.id, used, total)
                self._stop.wait(self._poll_s)


def _vram(probe: ComfyProbe, url: str) -> tuple[float | None, float | None]:
    """(used, total) GB of a ComfyUI server's first device, or (None, None)."""
    from videofactory.comfy.protocol import vram_gb

    try:
        used, total = vram_gb(probe.system_stats(url))
    except BackendError:
        return None, None
    return used, round(total, 1)


def _kind_of(task_id: str | None) -> str:
    tid = TaskId.of(task_id)
    return tid.kind.value if tid else ""


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"
