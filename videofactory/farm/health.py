"""The workers of a run: brought up (asked what they hold, their workflows checked against their
servers), taken out of rotation when they fail, probed until they answer again; and what their
supervisor (the farm launcher, the built-in farm) says of them: draining, restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from videofactory.comfy.farmcheck import preflight_worker
from videofactory.comfy.protocol import queue_ids
from videofactory.errors import BackendError, FactoryError
from videofactory.farm.attempt import GpuRunner, missing_bindings
from videofactory.farm.context import RunContext, Supervision
from videofactory.farm.feasibility import Ability, ability_of
from videofactory.farm.lanes import Lane
from videofactory.farm.workers import worker_memory

__all__ = ["Health"]

#: How often the supervisor's draining list is read.
DRAIN_CHECK_S = 0.5


class Health:
    """Brings a run's workers up and watches them come back (see the module docstring)."""

    def __init__(
        self,
        ctx: RunContext,
        lanes: Mapping[str, Lane],
        runner: GpuRunner,
        on_down: Callable[[Lane, str], None] = lambda lane, why: None,
        supervision: Supervision | None = None,
    ) -> None:
        self.ctx = ctx
        self.lanes = lanes
        self.runner = runner
        #: Told when a worker goes down (its tasks in flight are stopped there).
        self.on_down = on_down
        self.supervision = supervision
        #: The workers their supervisor is draining for a restart (they get no new job).
        self.draining: set[str] = set()
        self._drain_checked = 0.0

    async def start(self) -> None:
        """Probe every worker, then preflight each one's workflows before any job is sent."""
        await asyncio.gather(*(self._start(lane) for lane in self.lanes.values()))
        if not any(lane.up for lane in self.lanes.values()):
            raise BackendError(
                "no worker of the farm is reachable: "
                + "; ".join(f"{k}: {v.reason}" for k, v in self.lanes.items())
            )

    async def _start(self, lane: Lane) -> None:
        # A worker that does not answer now is judged by its farm file until it does (its
        # workflows are checked then, see ``probe``).
        if not lane.needs:
            lane.needs = dict(ability_of(lane.config, lane.vram_gb, "VRAM", None).needs)
        try:
            stats = await lane.client.system_stats()
        except BackendError as exc:
            self.take_down(lane, str(exc))
            return
        await self.preflight(lane, stats)
        lane.up = True

    async def preflight(self, lane: Lane, stats: dict[str, Any]) -> None:
        """What the worker can hold, and each kind's workflow (the farm file's, else a bundled
        one the server can run) checked against the server's nodes and models."""
        ctx = self.ctx
        shared = lane.config.vram_gb - ctx.farm.comfy_vram_gb(lane.id)
        memory = worker_memory(lane.config, stats, shared_gb=shared)
        lane.vram_gb, lane.memory_kind = memory.gb, memory.kind
        if memory.note:
            ctx.emit("worker_memory", memory.note, worker=lane.id, data={"gb": memory.gb})
        report = await preflight_worker(lane.config, lane.client)
        lane.preflighted = report.reachable
        lane.needs = dict(ability_of(lane.config, memory.gb, memory.kind, report).needs)
        for kind, check in report.kinds.items():
            if check.ok and check.fallback:
                ctx.emit(
                    "warning",
                    f"{lane.id} makes its {kind.value}s from their prompts alone, not as edits "
                    f"of the look ({check.fallback})",
                    worker=lane.id,
                    data={"kind": kind.value, "fallback": check.fallback},
                )
            problems = [str(p) for p in check.problems]
            if check.workflow is not None:
                self.runner.workflows[(lane.id, kind)] = check.workflow
                missing = missing_bindings(check.workflow, kind)
                if missing:
                    problems.append(f"workflow {check.workflow.name} binds no {', '.join(missing)}")
            if problems or not report.reachable:
                why = "; ".join(problems[:3]) or report.error
                lane.refused[kind] = why
                ctx.emit(
                    "worker_refused",
                    f"{lane.id} cannot run {kind.value}: {why}",
                    worker=lane.id,
                    data={"kind": kind.value, "problems": problems},
                )

    def abilities(self) -> list[Ability]:
        """What each worker could ever run, as far as its server told (``feasibility``)."""
        flows = self.runner.workflows
        return [
            Ability(
                lane.id,
                tuple(lane.config.roles),
                lane.vram_gb,
                lane.memory_kind,
                needs=lane.needs,
                # A worker not asked yet may come back: only what its server said counts.
                refused=lane.refused if lane.up else {},
                workflows={k: w.name for (wid, k), w in flows.items() if wid == lane.id},
                reachable=lane.up,
            )
            for lane in self.lanes.values()
        ]

    def take_down(self, lane: Lane, why: str) -> None:
        """Out of rotation: its jobs go elsewhere, and it is probed until it answers again."""
        if lane.up:
            self.ctx.emit("worker_down", f"{lane.id}: {why}", worker=lane.id)
        lane.up, lane.reason = False, why
        self.runner.forget(lane)
        self.on_down(lane, why)
        if lane.probe_task is None or lane.probe_task.done():
            lane.probe_task = asyncio.ensure_future(self.probe(lane))

    async def probe(self, lane: Lane) -> None:
        """Ask a down worker how it is until it answers with nothing of ours left on it.

        The jobs we gave up on it (a hung one, the ones queued behind it) are interrupted or
        taken off its queue first, so that when it is back it holds only what we send next.
        """
        delay = self.ctx.farm.dispatch.probe_interval_s
        while not lane.up:
            try:
                stats = await lane.client.system_stats()
                queue = await lane.client.queue()
                running, pending = queue_ids(queue)
                stale = [pid for pid in (*running, *pending) if pid in self.runner.abandoned]
                for pid in stale:
                    await lane.client.cancel(pid)
                if not stale and not lane.preflighted:
                    await self.preflight(lane, stats)
            except BackendError:
                stale = ["unreachable"]
            if not stale:
                lane.up, lane.reason = True, ""
                self.ctx.emit("worker_up", f"{lane.id} answers again", worker=lane.id)
                self.ctx.wake()
                return
            await asyncio.sleep(delay)
            delay = min(60.0, delay * 2)

    def http_retry(
        self, worker: str, method: str, path: str, attempt: int, error: BackendError
    ) -> None:
        """A request to a worker failed in transit and its client tries it again on that
        same worker: recorded, but no task's attempt failed and the worker stays up."""
        self.ctx.emit(
            "http_retry",
            f"{worker}: {error}; retry {attempt} on the same server",
            worker=worker,
            data={"method": method, "path": path, "attempt": attempt},
        )

    def refresh_draining(self, now: float) -> None:
        """Which servers their supervisor is draining for a restart (at most twice a second)."""
        if self.supervision is None or now - self._drain_checked < DRAIN_CHECK_S:
            return
        self._drain_checked = now
        try:
            self.draining = set(self.supervision.draining())
        except (OSError, ValueError, FactoryError):
            self.draining = set()

    def record_restarts(self, since: float) -> None:
        """Put the restarts of servers since ``since`` (wall clock) in the run's log."""
        if self.supervision is None:
            return
        try:
            restarts = self.supervision.restarts_since(since)
        except (OSError, ValueError, FactoryError):
            return
        for r in restarts:
            back = f", back {r['back_at'] - r['ts']:.1f} s later" if r.get("back_at") else ""
            self.ctx.emit(
                "worker_restarted",
                f"{r.get('worker')} restarted by {self.supervision.label} "
                f"({r.get('cause')}: {r.get('detail', '')}){back}",
                worker=str(r.get("worker", "")),
                data={"restart": r},
            )

    def close(self) -> None:
        """Stop probing."""
        for lane in self.lanes.values():
            if lane.probe_task:
                lane.probe_task.cancel()
