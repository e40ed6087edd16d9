"""A worker as the dispatcher tracks it: health, jobs in flight, what it has loaded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from videofactory.comfy.client import ComfyClient
from videofactory.config import WorkerConfig
from videofactory.constants import JOBS_AHEAD_PER_SERVER
from videofactory.farm.dag import Task
from videofactory.farm.estimates import Estimates
from videofactory.farm.scheduler import TaskView, WorkerView
from videofactory.vocabulary import TaskKind

__all__ = ["Job", "Lane"]


@dataclass
class Job:
    """One attempt of a GPU task on a worker, while it is in flight."""

    task: Task
    prompt_id: str
    attempt_id: int
    #: Estimated seconds of work (for the deadline).
    est_s: float
    submitted_at: float = field(default_factory=time.monotonic)
    #: When the server said it started (execution_start), or None while queued.
    started_at: float | None = None
    #: The last sign of life: submit, start, a progress tick, a node starting.
    last_activity: float = field(default_factory=time.monotonic)
    #: Found again on the server after a restart of the orchestrator (no events reach us).
    adopted: bool = False
    #: When its progress was last passed on to the watchers.
    last_progress_emit: float = 0.0
    #: The client's websocket connection count when last checked (a change: events lost).
    ws_connects: int = 0


@dataclass
class Lane:
    """One ComfyUI server and the dispatcher's view of it."""

    config: WorkerConfig
    client: ComfyClient
    #: Memory ComfyUI can use (``workers.worker_memory``: the farm file's VRAM less a speech
    #: server sharing the GPU, never more than the server reports; RAM on a CPU server).
    vram_gb: float
    #: "VRAM", or "RAM" for a server that runs on the CPU.
    memory_kind: str = "VRAM"
    #: Per task kind, the VRAM its workflow here needs at full size.
    needs: dict[TaskKind, float] = field(default_factory=dict)
    up: bool = False
    reason: str = ""
    jobs: dict[str, Job] = field(default_factory=dict)
    #: Tasks placed here whose attempt has not posted yet (they hold a slot already).
    reserved: set[str] = field(default_factory=set)
    busy_until: float = 0.0
    loaded: TaskKind | None = None
    refused: dict[TaskKind, str] = field(default_factory=dict)
    #: When the last job of ours on this server ended (a queued job's clock starts then).
    idle_since: float = field(default_factory=time.monotonic)
    probe_task: asyncio.Task[None] | None = None
    #: Its workflows were checked against its server (a worker down at start is checked
    #: when it first answers).
    preflighted: bool = False

    @property
    def id(self) -> str:
        """The worker id."""
        return self.config.id

    @property
    def free_slots(self) -> int:
        """Jobs the server may still be given: one running plus JOBS_AHEAD queued."""
        return max(0, 1 + JOBS_AHEAD_PER_SERVER - len(self.jobs) - len(self.reserved))

    def view(self, now: float, estimates: Estimates, *, draining: bool = False) -> WorkerView:
        """What placement needs to know of this worker now (times on the dispatcher clock).

        A server its launcher is draining for a restart keeps its jobs but gets no new one.
        """
        return WorkerView(
            id=self.id,
            roles=tuple(self.config.roles),
            vram_gb=self.vram_gb,
            speed=estimates.speeds(self.id),
            up=self.up,
            free_slots=self.free_slots if self.up and not draining else 0,
            busy_until=max(now, self.busy_until),
            loaded=self.loaded,
            refused=dict(self.refused),
            why_down=self.reason,
            needs=self.needs,
        )

    def need(self, task: TaskView) -> float:
        """The VRAM ``task`` needs on this worker: its workflow's need at the task's size."""
        declared = self.needs.get(task.kind)
        return task.vram_gb if declared is None else declared * task.scale

    def head(self) -> Job | None:
        """The job that runs (or will run next) on the server: started first, else oldest."""
        if not self.jobs:
            return None
        started = [j for j in self.jobs.values() if j.started_at is not None]
        pool = started or list(self.jobs.values())
        return min(pool, key=lambda j: j.started_at or j.submitted_at)
