"""The dispatcher: the loop that runs a run's task graph on the farm. It decides nothing itself.

Whenever a task finishes or a slot frees it asks the pure placement (``scheduler.decide``) what
to start and hands the work to its parts: ``GpuRunner`` runs an attempt on a worker (upload,
post, follow, collect), ``LocalRunner`` speaks narration and assembles, ``Health`` brings the
workers up and probes the ones that went down. When an attempt fails, or a ready task finds no
worker, the pure ``Policy`` answers with actions (retry, take a worker down, refuse a kind,
shrink a task, let a hero go, fail the run) that the loop carries out; every state change is
recorded in the store before the action it announces. A run restarted after its process died
first settles what the servers still have (``reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.comfy.client import ComfyClient
from videofactory.config import FarmConfig
from videofactory.detach import cancelled_since_start
from videofactory.errors import BackendError, FactoryError, RunCancelled, RunFailed
from videofactory.events import EventSink
from videofactory.farm import reconcile
from videofactory.farm.actions import Actions
from videofactory.farm.attempt import GpuRunner
from videofactory.farm.board import TaskBoard
from videofactory.farm.context import RunContext, Supervision
from videofactory.farm.dag import PREVIEW_PINNED, Task, upward_ranks
from videofactory.farm.estimates import Estimates
from videofactory.farm.feasibility import impossible_kinds
from videofactory.farm.flow import end_frame_dep, prefer_end_frame, takes_end_frame
from videofactory.farm.health import Health
from videofactory.farm.lanes import Lane
from videofactory.farm.local import LocalRunner
from videofactory.farm.outcome import RunResult, close_attempts, run_result, stop_reason
from videofactory.farm.picking import settle_take
from videofactory.farm.policy import Policy
from videofactory.farm.reuse import Reuse, speaker_identity
from videofactory.farm.scheduler import TaskView, WorkerView, decide
from videofactory.shotlist import ShotList
from videofactory.store import (
    FINISHED,
    RunState,
    Store,
    TaskState,
    driven_elsewhere,
)
from videofactory.tts.base import SpeechBackend
from videofactory.vocabulary import GPU_KINDS, TaskKind

if TYPE_CHECKING:
    from videofactory.cache.artifacts import ArtifactCache

__all__ = ["Dispatcher"]

#: How often the loop looks for a cancel request, due retries and stuck tasks.
TICK_S = 0.5


class Dispatcher:
    """Runs one recorded run to its end on a farm."""

    def __init__(
        self,
        store: Store,
        farm: FarmConfig,
        run_id: str,
        run_dir: Path,
        shotlist: ShotList,
        *,
        speech: SpeechBackend,
        on_event: EventSink | None = None,
        assemble: bool = True,
        supervision: Supervision | None = None,
        cache: ArtifactCache | None = None,
        fresh: bool = False,
        preview: bool = False,
    ) -> None:
        # The task graph as it was recorded with the run (built once, by ``dag.build_tasks``);
        # without assembly the run stops once every shot is rendered and spoken.
        self.assemble = assemble
        #: A preview's keyframes stay on the control GPU while it can take them.
        self.pinned = PREVIEW_PINNED if preview else frozenset()
        rows = store.tasks(run_id)
        self.tasks = {
            r.id: Task.from_record(r) for r in rows if assemble or r.kind != TaskKind.assemble.value
        }
        urls = {w.id: w.url for w in farm.workers}
        estimates = Estimates(farm.workers, {} if farm.simulated else store.learned_speeds(urls))
        self.ctx = RunContext(store, farm, run_id, Path(run_dir), shotlist, estimates, on_event,
                              self.wake)  # fmt: skip
        ranks = upward_ranks(self.tasks.values())
        self.board = TaskBoard(self.tasks, ranks)
        scales = {t.id: float(t.params.get("scale", 1.0)) for t in self.tasks.values()}
        self.policy = Policy(farm.dispatch, self.tasks, ranks, strict=farm.strict, scales=scales)
        self.lanes: dict[str, Lane] = {}
        #: Task id -> its checked output.
        self.outputs: dict[str, Path] = {}
        self.gpu = GpuRunner(self.ctx, self.tasks, self.outputs, self.policy.scale)
        self.local = LocalRunner(self.ctx, self.outputs, speech)
        # What did not change comes from the artifact cache (``--fresh``: nothing does, but
        # what the run makes is still kept there).
        self.reuse = Reuse(
            self.ctx,
            self.tasks,
            self.outputs,
            cache,
            lookup=not fresh,
            workflows=lambda kind: {
                lane.id: self.gpu.workflow(lane, kind) for lane in self.lanes.values()
            },
            scale_of=self.policy.scale,
            speaker=lambda: speaker_identity(
                farm.speech, getattr(speech, "primary", speech).describe()
            ),
        )
        self.gpu.reuse = self.local.reuse = self.reuse
        #: Tasks that became ready and are still to be looked up in the cache, and those that
        #: were (each is looked up once: a retry renders).
        self._to_look: list[str] = []
        self._looked: set[str] = set()
        self.health = Health(self.ctx, self.lanes, self.gpu, on_down=self._stop_on,
                             supervision=supervision)  # fmt: skip
        #: Carries out the policy's decisions on these parts.
        self.actions = Actions(self.ctx, self.tasks, self.board, self.lanes, self.health,
                               self.outputs, self.reuse, self._to_look)  # fmt: skip
        #: Task id -> the worker it was placed on (while in flight).
        self.placed: dict[str, str] = {}
        #: Futures of the tasks in flight -> task id.
        self._running: dict[asyncio.Task[Path], str] = {}
        self._wake: asyncio.Event | None = None
        self._to_stop: list[tuple[Lane, str]] = []
        self._last = {"cancel": 0.0, "stuck": 0.0}
        self._started_wall = time.time()
        self._t0 = time.monotonic()

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.ctx.run_id

    def wake(self) -> None:
        """Make the loop look again now (a slot freed, a worker came back)."""
        if self._wake is not None:
            self._wake.set()

    # -- the run ------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Render every task, assemble, and return the final video."""
        ctx, store = self.ctx, self.ctx.store
        self._wake = asyncio.Event()
        claim = store.claim_run(self.run_id, os.getpid())
        if not claim.won:  # refused: nothing of the run was changed
            raise driven_elsewhere(self.run_id, claim.owner)
        if cancelled_since_start(store.run(self.run_id), ctx.run_dir):  # while the farm started
            raise RunCancelled(
                f"run {self.run_id} was cancelled before it started; nothing was rendered",
                run_id=self.run_id,
            )
        store.set_run_state(self.run_id, RunState.running)
        ctx.emit(
            "run_started",
            f"{len(self.tasks)} tasks on {len(ctx.farm.workers)} GPUs",
            data={"tasks": len(self.tasks), "shots": len(ctx.shotlist.shots)},
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                for w in ctx.farm.workers:
                    retried = functools.partial(self.health.http_retry, w.id)
                    client = await stack.enter_async_context(ComfyClient(w.url, on_retry=retried))
                    self.lanes[w.id] = Lane(w, client, ctx.farm.comfy_vram_gb(w.id))
                try:
                    await self.health.start()
                    self._check_feasible()
                    found = await reconcile.find(store, self.run_id, self.tasks, self.lanes)
                    resumed = await reconcile.settle(found, ctx, self.tasks, self.gpu, self.lanes)
                    await self._loop(resumed)
                except RunCancelled:
                    await self._stop_jobs()
                    raise
                finally:
                    self.health.record_restarts(self._started_wall)
                    self.health.close()
        except RunCancelled as exc:
            close_attempts(ctx, exc)
            ctx.emit("run_cancelled", str(exc))
            raise
        except FactoryError as exc:
            close_attempts(ctx, exc)
            store.set_run_state(self.run_id, RunState.failed, error=str(exc))
            ctx.emit("run_failed", str(exc))
            raise RunFailed(
                f"run {self.run_id} failed: {exc}\nEverything finished so far is kept in "
                f"{ctx.run_dir}; `videofactory resume {self.run_id}` goes on from there",
                run_id=self.run_id,
            ) from exc
        except BaseException as exc:  # Ctrl-C or SIGTERM (the main task cancelled), or a bug
            close_attempts(ctx, exc)
            raise
        close_attempts(ctx, None)
        elapsed = time.monotonic() - self._t0
        return run_result(ctx, self.outputs, assemble=self.assemble, elapsed=elapsed)

    def _check_feasible(self) -> None:
        """Refuse a plan the farm can never run (a kind no worker can take) before any GPU
        time is spent: one line per such kind, naming its shots and the best worker."""
        states = {t.id: t.state for t in self.ctx.store.tasks(self.run_id)}
        shots: dict[TaskKind, list[str]] = {}
        for task in self.tasks.values():
            if task.kind in GPU_KINDS and states.get(task.id) not in FINISHED:
                shots.setdefault(task.kind, []).append(task.shot_id or "")
        lines = impossible_kinds(shots, self.health.abilities(), strict=self.ctx.farm.strict)
        if lines:
            raise FactoryError("; ".join(lines))

    # -- the loop -------------------------------------------------------------------------------

    async def _loop(self, resumed: reconcile.Resumed) -> None:
        board, running, store = self.board, self._running, self.ctx.store
        self.outputs.update(resumed.done)
        for tid in resumed.done:
            board.finish(tid)
        for tid, (worker, prompt_id, attempt) in resumed.follow.items():
            self.placed[tid] = worker
            job = self.gpu.adopt(self.tasks[tid], self.lanes[worker], prompt_id, attempt)
            running[asyncio.ensure_future(job)] = tid
            board.start(tid)
        for t in [*board.ready_gpu(), *board.ready_local()]:
            store.set_task_state(t.id, TaskState.ready)
            self._to_look.append(t.id)
        assert self._wake is not None
        ended: BaseException | None = None
        try:
            while board.unfinished:
                self._check_cancel()
                self._reuse_ready()
                for task in self._start_ready():
                    board.start(task.id)
                    running[asyncio.ensure_future(self._run_task(task))] = task.id
                self._check_stuck()
                self._wake.clear()
                wake = asyncio.ensure_future(self._wake.wait())
                finished, _ = await asyncio.wait(
                    {*running, wake}, timeout=TICK_S, return_when=asyncio.FIRST_COMPLETED
                )
                wake.cancel()
                for fut in finished:
                    if fut is not wake:
                        self._finished(fut, running.pop(fut))  # type: ignore[arg-type]
        except BaseException as exc:
            ended = exc
            raise
        finally:
            for fut, tid in running.items():
                self.gpu.stop(fut, tid, stop_reason(ended))
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    def _reuse_ready(self) -> None:
        """Finish from the cache the tasks that became ready whose content it holds (no GPU
        work); what they unblock is looked up in turn, so a shot that did not change is done
        at once."""
        board, store, queue = self.board, self.ctx.store, self._to_look
        while queue:
            tid = queue.pop()
            task = self.tasks[tid]
            if tid in self._looked or task.kind is TaskKind.assemble or not board.is_ready(tid):
                continue
            self._looked.add(tid)
            # Which take a hero pass upgrades, or a continuing clip goes on from, before its
            # key is made.
            task = settle_take(self.ctx, self.tasks, task, self.outputs)
            path = self.reuse.take(task)
            if path is None:
                continue
            self.outputs[tid] = path
            with store.batch():
                self.actions.release(tid)

    async def _run_task(self, task: Task) -> Path:
        if task.kind in GPU_KINDS:
            lane = self.lanes[self.placed[task.id]]
            lane.reserved.discard(task.id)
            return await self.gpu.run(task, lane)
        return await self.local.run(task)

    def _views(self, now: float = 0.0) -> list[WorkerView]:
        est, draining = self.ctx.estimates, self.health.draining
        return [lane.view(now, est, draining=lane.id in draining) for lane in self.lanes.values()]

    def _start_ready(self) -> list[Task]:
        now = time.monotonic()
        self.health.refresh_draining(now)
        start = [t for t in self.board.ready_local() if self.policy.due(t.id, now)]
        free = sum(lane.free_slots for lane in self.lanes.values() if lane.up)
        if free == 0:
            return start
        # Only the head of each kind's ready list can be placed now.
        gpu = self.board.ready_gpu_head(max(16, 4 * free), self.policy.not_before(), now)
        if not gpu:
            return start
        clock = now - self._t0
        views = self._views(clock)
        for a in decide(
            [self._flow_view(t, self.policy.view(t, views), views) for t in gpu],
            views,
            clock,
            strict=self.ctx.farm.strict,
            pending=self.board.pending_views(),
            time_factor=self.ctx.estimates.time_factor,
            pinned=self.pinned,
        ):
            task, lane = self.tasks[a.task_id], self.lanes[a.worker_id]
            lane.reserved.add(task.id)
            lane.busy_until = a.est_finish
            lane.loaded = task.kind
            self.placed[task.id] = lane.id
            start.append(task)
        return start

    def _flow_view(self, task: Task, view: TaskView, views: list[WorkerView]) -> TaskView:
        """A clip that ends on the next keyframe goes to a worker whose workflow can, when one
        is able to take it (``flow.prefer_end_frame``)."""
        if end_frame_dep(task, self.tasks) is None:
            return view

        def can_end(worker: str) -> bool:
            return takes_end_frame(self.gpu.workflow(self.lanes[worker], TaskKind.clip))

        return prefer_end_frame(view, views, can_end)

    def _finished(self, fut: asyncio.Task[Path], tid: str) -> None:
        task, store = self.tasks[tid], self.ctx.store
        lane = self.lanes.get(self.placed.pop(tid, ""))
        if lane is not None:
            lane.reserved.discard(tid)
            # Re-estimate what is left on it with what the farm has shown so far.
            now = time.monotonic() - self._t0
            lane.busy_until = now + sum(
                self.ctx.estimates.seconds(lane.id, j.task.kind, j.task.cost_s)
                for j in lane.jobs.values()
            )
        if fut.cancelled():
            # Its worker went down (or the run is stopping): the task goes elsewhere.
            self.gpu.stopped(tid)
            store.set_task_state(tid, TaskState.ready)
            self.board.retry(tid)
            return
        exc = fut.exception()
        if exc is None:
            self.outputs[tid] = fut.result()
            with store.batch():
                store.set_task_state(tid, TaskState.done)
                self.actions.release(tid)
                if task.kind in GPU_KINDS and lane is not None:
                    self.ctx.emit(
                        "task_done",
                        f"{task.kind.value} {task.shot_id} on {lane.id}: {self.outputs[tid].name}",
                        task,
                        worker=lane.id,
                    )
            return
        if isinstance(exc, RunFailed):
            raise exc
        worker = lane.id if lane is not None else None
        ran = self.gpu.failed_running.pop(tid, False)
        d = self.policy.on_failure(
            task, worker, exc, workers=self._views(), now=time.monotonic(), ran=ran
        )
        where = worker or (task.kind.value if task.kind is not TaskKind.assemble else "ffmpeg")
        store.set_task_state(tid, TaskState.ready, error=d.verdict.reason)
        self.ctx.emit(
            "task_failed",
            f"{task.kind.value} {task.shot_id or ''} on {where}: {d.verdict.reason} -> "
            f"{d.verdict.move.value}",
            task,
            worker=where,
            data={"action": d.verdict.move.value, "attempt": d.attempt},
        )
        self.actions.apply(d.actions)

    def _check_stuck(self) -> None:
        """Ask the policy about ready tasks that no worker can take now."""
        now = time.monotonic()
        if now - self._last["stuck"] < TICK_S:
            return
        self._last["stuck"] = now
        ready = list(self.board.ready_gpu())
        if ready:
            left = any(
                t.kind in (TaskKind.keyframe, TaskKind.clip) and t.id not in self.board.done
                for t in self.tasks.values()
            )
            self.actions.apply(
                self.policy.on_tick(ready, self._views(), now, other_gpu_work_left=left)
            )

    # -- a worker down, a cancel -------------------------------------------------------------

    def _stop_on(self, lane: Lane, why: str) -> None:
        """A worker went down: the tasks placed on it stop there and go elsewhere."""
        for fut, tid in self._running.items():
            if self.placed.get(tid) == lane.id:
                self.gpu.stop(fut, tid, f"worker {lane.id} went down: {why}")

    def _check_cancel(self) -> None:
        now = time.monotonic()
        if now - self._last["cancel"] < TICK_S:
            return
        self._last["cancel"] = now
        if self.ctx.store.run(self.run_id)["state"] == RunState.cancelled.value:
            self._to_stop = [
                (lane, j.prompt_id) for lane in self.lanes.values() for j in lane.jobs.values()
            ]
            raise RunCancelled(
                f"run {self.run_id} was cancelled; what finished is kept in {self.ctx.run_dir}",
                run_id=self.run_id,
            )

    async def _stop_jobs(self) -> None:
        """Interrupt our running jobs and delete our queued ones (the run was cancelled)."""

        async def stop(lane: Lane, prompt_id: str) -> None:
            with contextlib.suppress(BackendError):
                outcome = await lane.client.cancel(prompt_id)
                self.ctx.emit("job_cancelled", f"{lane.id}: {prompt_id} {outcome}",
                              worker=lane.id)  # fmt: skip

        await asyncio.gather(*(stop(lane, pid) for lane, pid in self._to_stop))
