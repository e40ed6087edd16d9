"""A run as its watchers see it, built from its events (pure): one lane per GPU, overall
progress, an ETA from the schedule's estimates, and the retries so far.

``RunWatch.apply(event)`` folds one event in; the live view (``live.py``), ``videofactory
wait`` and ``show`` read the result. No I/O here: the farm and the task list are handed in
(``load``), VRAM readings too (``set_vram``), and every time is an argument.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from videofactory.events import Event
from videofactory.farm.scheduler import decide
from videofactory.farm.simulate import SimGPU, SimTask, simulate
from videofactory.vocabulary import GPU_KINDS, Role, TaskKind

__all__ = ["LaneState", "RunWatch", "TaskInfo", "estimate_remaining_s"]

#: Lanes that are not GPUs: the speech engine and the FFmpeg assembly (shown after the GPUs).
CPU_LANES = ("speech", "ffmpeg")
#: Above this many GPU tasks left the ETA is a throughput bound, not a full simulation (the
#: simulation costs O(tasks^2): too slow to redo every few seconds for a three-hour film).
SIMULATE_MAX_TASKS = 400
#: The ETA is recomputed at most this often (seconds) unless a task finished.
ETA_EVERY_S = 5.0
#: Events that end a run.
END_EVENTS = frozenset({"run_done", "run_failed", "run_cancelled"})


@dataclass(frozen=True)
class TaskInfo:
    """What the ETA needs of a task: its kind, dependencies, cost and VRAM need."""

    id: str
    kind: str
    shot_id: str | None = None
    deps: tuple[str, ...] = ()
    #: Reference seconds on a speed-1.0 card (``farm.dag.COST_S``, scaled by shot length).
    cost_s: float = 0.0
    vram_gb: float = 0.0

    @classmethod
    def from_row(cls, row: Any) -> TaskInfo:
        """From a stored task (``store.TaskRow``)."""
        params = row.params or {}
        return cls(
            row.id,
            row.kind,
            row.shot_id,
            tuple(row.deps),
            float(params.get("cost_s", 0.0)) * float(params.get("scale", 1.0)),
            float(params.get("vram_gb", 0.0)),
        )


@dataclass
class LaneState:
    """One GPU (or the speech engine, or FFmpeg) as the watchers see it."""

    id: str
    card: str = ""
    roles: tuple[str, ...] = ()
    url: str = ""
    speed: float = 1.0
    vram_gb: float = 0.0
    #: From /system_stats: VRAM in use and in all, GB (None until read).
    vram_used_gb: float | None = None
    vram_total_gb: float | None = None
    up: bool = True
    reason: str = ""
    #: The task it runs now, and the ones waiting on its server behind it.
    running: str | None = None
    queued: list[str] = field(default_factory=list)
    #: Progress of the running task (ComfyUI's progress message: value of max).
    value: float | None = None
    max: float | None = None
    done: int = 0
    failed: int = 0
    #: Task kinds it refuses (preflight), with why.
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def gpu(self) -> bool:
        """True for a GPU lane (not speech or FFmpeg)."""
        return self.id not in CPU_LANES

    @property
    def fraction(self) -> float | None:
        """How far the running task is, 0..1 (None when nothing runs or nothing was said)."""
        if self.running is None or not self.max:
            return None
        return max(0.0, min(1.0, (self.value or 0.0) / self.max))


@dataclass
class RunWatch:
    """The state of one run, folded from its events."""

    run_id: str = ""
    lanes: dict[str, LaneState] = field(default_factory=dict)
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    total: int = 0
    #: Failed attempts so far, each retried, moved or given up on (task_failed events).
    retries: int = 0
    started_ts: float | None = None
    last_ts: float | None = None
    #: run_done, run_failed or run_cancelled once the run ended.
    ended: str | None = None
    #: When each running task started (event time), for the measured speed.
    _started: dict[str, float] = field(default_factory=dict)
    #: Measured over estimated seconds of finished GPU tasks.
    _factors: list[float] = field(default_factory=list)
    _eta: tuple[float, float] | None = None  # (computed at ts, seconds left then)
    _eta_done: int = -1

    # -- input ---------------------------------------------------------------------------------

    def load(
        self, farm: Mapping[str, Any], tasks: Iterable[TaskInfo], done: Iterable[str] = ()
    ) -> None:
        """Know the farm's GPUs (card, roles, URL, speed, VRAM) and the run's tasks."""
        for w in farm.get("workers", []):
            lane = self._lane(str(w["id"]))
            lane.card = str(w.get("card", ""))
            lane.roles = tuple(str(r) for r in w.get("roles", []))
            lane.url = str(w.get("url") or "")
            lane.speed = float(w.get("speed") or 1.0)
            lane.vram_gb = float(w.get("vram_gb") or 0.0)
        self.tasks = {t.id: t for t in tasks}
        self.total = len(self.tasks) or self.total
        self.done |= set(done) & set(self.tasks)

    def set_vram(self, worker: str, used_gb: float | None, total_gb: float | None) -> None:
        """Record a VRAM reading of a GPU (from its /system_stats)."""
        lane = self._lane(worker)
        lane.vram_used_gb, lane.vram_total_gb = used_gb, total_gb

    def apply(self, ev: Event) -> None:
        """Fold one event in."""
        self.run_id = self.run_id or ev.run_id
        self.last_ts = ev.ts
        kind, tid = ev.kind, ev.task_id
        lane = self._lane(ev.worker) if ev.worker else None
        if kind == "run_started":
            self.started_ts = self.started_ts or ev.ts
            self.total = self.total or int(ev.data.get("tasks", 0))
            self.ended = None
        elif kind in END_EVENTS:
            self.ended = kind
            for each in self.lanes.values():
                each.running, each.queued, each.value, each.max = None, [], None, None
        elif kind == "task_reused" and tid is not None:
            # Finished from the artifact cache: done, on no lane.
            self._drop(tid)
            self.done.add(tid)
        elif lane is None or tid is None:
            if kind in ("worker_down", "worker_up") and lane is not None:
                self._health(lane, kind, ev.message)
            elif kind == "worker_refused" and lane is not None:
                lane.refused[str(ev.data.get("kind", "?"))] = ev.message
        elif kind in ("task_submitted", "task_adopted"):
            if tid not in lane.queued and tid != lane.running:
                lane.queued.append(tid)
        elif kind in ("task_started", "task_progress"):
            if lane.running != tid:
                self._start(lane, tid, ev.ts)
            if kind == "task_progress":
                lane.value, lane.max = ev.value, ev.max
        elif kind == "task_done":
            self._finish(lane, tid, ev.ts)
        elif kind == "task_failed":
            self.retries += 1
            lane.failed += 1
            self._drop(tid)

    def _health(self, lane: LaneState, kind: str, message: str) -> None:
        lane.up = kind == "worker_up"
        lane.reason = "" if lane.up else message.split(": ", 1)[-1]
        if not lane.up:  # its jobs go elsewhere
            lane.running, lane.queued, lane.value, lane.max = None, [], None, None

    def _start(self, lane: LaneState, tid: str, ts: float) -> None:
        self._drop(tid)
        lane.running, lane.value, lane.max = tid, None, None
        self._started[tid] = ts

    def _finish(self, lane: LaneState, tid: str, ts: float) -> None:
        self._drop(tid)
        self.done.add(tid)
        lane.done += 1
        began = self._started.pop(tid, None)
        task = self.tasks.get(tid)
        if began is not None and task is not None and lane.gpu and task.cost_s > 0:
            estimated = task.cost_s / max(lane.speed, 1e-9)
            self._factors.append(max(ts - began, 1e-3) / estimated)

    def _drop(self, tid: str) -> None:
        """Take a task off every lane (it finished, failed, or moved)."""
        for lane in self.lanes.values():
            if lane.running == tid:
                lane.running, lane.value, lane.max = None, None, None
            if tid in lane.queued:
                lane.queued.remove(tid)

    def _lane(self, worker: str) -> LaneState:
        lane = self.lanes.get(worker)
        if lane is None:
            lane = self.lanes[worker] = LaneState(worker)
        return lane

    # -- output --------------------------------------------------------------------------------

    def ordered_lanes(self) -> list[LaneState]:
        """GPU lanes in farm order, then speech and FFmpeg."""
        gpus = [lane for lane in self.lanes.values() if lane.gpu]
        cpus = [self.lanes[k] for k in CPU_LANES if k in self.lanes]
        return gpus + cpus

    @property
    def time_factor(self) -> float:
        """Measured over estimated seconds of this run's finished GPU tasks (1.0 before any)."""
        return statistics.median(self._factors) if self._factors else 1.0

    def elapsed_s(self, now: float) -> float:
        """Seconds since the run started (0 before; frozen once it ended)."""
        if self.started_ts is None:
            return 0.0
        end = self.last_ts if self.ended and self.last_ts is not None else now
        return max(0.0, end - self.started_ts)

    def eta_s(self, now: float) -> float | None:
        """Seconds left, from the schedule's estimates corrected by this run's measured pace;
        None when unknown (no task list, or the run ended)."""
        if self.ended or not self.tasks:
            return None
        eta = self._eta
        if eta is None or len(self.done) != self._eta_done or now - eta[0] >= ETA_EVERY_S:
            fractions = {
                lane.running: lane.fraction or 0.0
                for lane in self.lanes.values()
                if lane.running is not None
            }
            left = estimate_remaining_s(
                [t for t in self.tasks.values() if t.id not in self.done],
                [lane for lane in self.lanes.values() if lane.gpu and lane.up],
                fractions,
                self.time_factor,
            )
            if left is None:
                return None
            eta, self._eta_done = (now, left), len(self.done)
            self._eta = eta
        return max(0.0, eta[1] - (now - eta[0]))


def estimate_remaining_s(
    tasks: list[TaskInfo],
    gpus: list[LaneState],
    fractions: Mapping[str, float],
    factor: float,
) -> float | None:
    """Seconds until the run ends: the GPU tasks left, placed by the dispatcher's own policy
    in a simulation of the farm (or a throughput bound for very long runs), scaled by the
    measured pace, plus the assembly. None when no GPU left can take the work."""
    # The simulation knows only GPU work: dependencies on finished tasks (or on speech, which
    # runs beside the GPUs) are dropped.
    ids = {t.id for t in tasks if t.kind in GPU_KINDS}
    gpu_tasks = [
        SimTask(
            t.id,
            TaskKind(t.kind),
            tuple(d for d in t.deps if d in ids),
            max(t.cost_s * (1.0 - fractions.get(t.id, 0.0)), 0.01),
            t.vram_gb,
        )
        for t in tasks
        if t.id in ids
    ]
    assemble = sum(t.cost_s for t in tasks if t.kind == TaskKind.assemble.value)
    if not gpu_tasks:
        return assemble
    sims = [SimGPU(g.id, tuple(_role(r) for r in g.roles), g.vram_gb or 1e9, g.speed) for g in gpus]
    if not sims:
        return None
    if len(gpu_tasks) > SIMULATE_MAX_TASKS:
        work = sum(t.cost_s for t in gpu_tasks)
        makespan = work / sum(g.speed for g in sims)
    else:
        try:
            makespan = simulate(gpu_tasks, sims, _policy).makespan
        except RuntimeError:  # a task no GPU left can hold
            return None
    return makespan * factor + assemble


def _policy(ready: Any, workers: Any, now: float, pending: Any) -> Any:
    """The dispatcher's placement, as the simulation calls a policy."""
    return decide(ready, workers, now, pending=pending)


def _role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        return Role.worker
