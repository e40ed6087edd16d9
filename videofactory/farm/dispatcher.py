"""The dispatcher: runs a run's task graph on the farm. It holds the policy; I/O is delegated.

Whenever a task finishes or a slot frees it asks the pure placement (``scheduler.decide``) what
to start, records every state change in the store before acting on it, and drives ComfyUI
through ``ComfyClient`` (see ``attempt.py``). Failures go through the recovery rules
(``recovery.verdict``): an execution error is retried with back-off, elsewhere when possible;
out of memory moves the task to more VRAM or shrinks it; a worker that is unreachable, whose
job stalls past its deadline, or that keeps failing is taken out of rotation, its jobs go
elsewhere, and it is probed until it answers again. A task that fails on every worker that
could run it fails the run; everything finished is kept. A run restarted after its
orchestrator died finds its jobs again by prompt id (``reconcile.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.assembly.probe import MediaInfo, check_media
from videofactory.assembly.render import assemble
from videofactory.assembly.runfiles import next_version
from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot
from videofactory.comfy.client import ComfyClient
from videofactory.comfy.farmcheck import preflight_worker
from videofactory.comfy.results import OutputRef
from videofactory.comfy.workflow import Workflow
from videofactory.config import FarmConfig
from videofactory.errors import (
    BackendError,
    BackendUnavailable,
    FactoryError,
    MediaError,
    RunCancelled,
    RunFailed,
)
from videofactory.events import Event, EventSink
from videofactory.farm.attempt import FOLDER, GpuAttempts, media_dict, missing_bindings
from videofactory.farm.board import TaskBoard
from videofactory.farm.dag import Task, build_tasks, upward_ranks
from videofactory.farm.estimates import Estimates
from videofactory.farm.feasibility import Ability, ability_of, impossible_kinds
from videofactory.farm.lanes import Lane
from videofactory.farm.reconcile import Reconciler
from videofactory.farm.recovery import Action, backoff_s, verdict
from videofactory.farm.scheduler import TaskView, candidates, decide
from videofactory.farm.workers import worker_memory
from videofactory.shotlist import ShotList
from videofactory.store import (
    FINISHED,
    RunState,
    Store,
    TaskState,
    driven_elsewhere,
    heroes_missing,
)
from videofactory.tts.base import SpeechBackend
from videofactory.tts.fit import fit_narration
from videofactory.vocabulary import GPU_KINDS, ROLE_FOR_KIND, TaskKind

__all__ = ["Dispatcher", "RunResult"]

#: How often the loop looks for a cancel request, due retries and stuck tasks.
TICK_S = 0.5
#: Each shrink after out of memory multiplies width, height and frames by this.
SHRINK = 0.75
#: Why a worker gets no more tasks of a kind after running out of memory on one.
OOM_REFUSAL = "out of memory on a {kind}"
#: A task fails the run once every worker able to run it has failed it this many times.
FAILS_PER_WORKER = 2
#: A task whose servers went down while running it this many times (on different workers)
#: is taken for the cause (it runs them out of memory, say) and shrunk, not passed on whole.
DOWNS_TO_SUSPECT = 2
#: Why the jobs in flight stop when the run's process is interrupted.
INTERRUPTED = "run interrupted (Ctrl-C or SIGTERM)"
#: Why an attempt stopped when nobody said why (its process is going away).
STOPPED = "stopped with the run's process"


def stop_reason(exc: BaseException | None) -> str:
    """Why the jobs still in flight stop, from what ended the run's loop (None: it ended)."""
    if exc is None:
        return "left open when the run ended"
    if isinstance(exc, RunCancelled):
        return "run cancelled"
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return INTERRUPTED
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"run failed: {first}"


@dataclass
class RunResult:
    """What a finished run produced."""

    run_id: str
    run_dir: Path
    #: The finished video (None when the run was not assembled).
    final: Path | None
    media: MediaInfo | None
    elapsed_s: float
    shots: tuple[str, ...] = ()
    #: Shot id -> why it went out without its hero pass.
    heroes_missing: dict[str, str] = field(default_factory=dict)


class Dispatcher(GpuAttempts):
    """Runs one run to its end on a farm."""

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
    ) -> None:
        self.store = store
        self.farm = farm
        self.run_id = run_id
        self.run_dir = Path(run_dir)
        self.shotlist = shotlist
        self.speech = speech
        self._sink = on_event
        #: Without assembly the run stops once every shot is rendered and spoken.
        self.assemble = assemble
        self.tasks = {
            t.id: t
            for t in build_tasks(run_id, shotlist)
            if assemble or t.kind is not TaskKind.assemble
        }
        self.ranks = upward_ranks(self.tasks.values())
        self.board = TaskBoard(self.tasks, self.ranks)
        self.lanes: dict[str, Lane] = {}
        self.outputs: dict[str, Path] = {}
        urls = {w.id: w.url for w in farm.workers}
        learned = {} if farm.simulated else store.learned_speeds(urls)
        self.estimates = Estimates(farm.workers, learned)
        stored = {t.id: t for t in store.tasks(run_id)}
        self.task_scale = {tid: float(t.params.get("scale", 1.0)) for tid, t in stored.items()}
        self.failures: dict[str, Counter[str]] = {t: Counter() for t in self.tasks}
        #: Task id -> whether its last failed attempt was running on its server.
        self.failed_running: dict[str, bool] = {}
        #: Task id -> the workers whose servers went down while running it.
        self.took_down: dict[str, set[str]] = {}
        self.attempts: Counter[str] = Counter()
        self.min_vram: dict[str, float] = {}
        self.not_before: dict[str, float] = {}
        self.placed: dict[str, str] = {}
        #: Task id -> (worker, output ref) of files a server wrote during this run.
        self.made_on: dict[str, tuple[str, OutputRef]] = {}
        self._abandoned: set[str] = set()
        self._workflows: dict[tuple[str, TaskKind], Workflow] = {}
        self._speech_lock = asyncio.Lock()
        self._no_worker_since: dict[str, float] = {}
        self._wake: asyncio.Event | None = None
        #: Futures of the tasks in flight -> task id.
        self._running: dict[asyncio.Task[Path], str] = {}
        #: Task id -> why its future was cancelled (its attempt records it; see ``stop``).
        self._stop_why: dict[str, str] = {}
        self._to_stop: list[tuple[Lane, str]] = []
        self._last_cancel_check = 0.0
        self._last_stuck_check = 0.0
        #: Managed servers (started by ``farm up``) and the ones being drained right now.
        self._managed = any(getattr(w, "managed", False) for w in farm.workers)
        self._draining: set[str] = set()
        self._last_drain_check = 0.0
        self._started_wall = time.time()
        self._t0 = time.monotonic()

    # -- events -------------------------------------------------------------------------------

    def emit(self, kind: str, message: str = "", task: Task | None = None, **kw: Any) -> None:
        """Log an event to the store (lasting ones) and hand it to the watcher."""
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
        if self._sink:
            self._sink(ev)

    def _http_retry(
        self, worker: str, method: str, path: str, attempt: int, error: BackendError
    ) -> None:
        """A request to a worker failed in transit and its client tries it again on that
        same worker: recorded, but no task's attempt failed and the worker stays up."""
        self.emit(
            "http_retry",
            f"{worker}: {error}; retry {attempt} on the same server",
            worker=worker,
            data={"method": method, "path": path, "attempt": attempt},
        )

    def wake(self) -> None:
        """Make the loop look again now (a slot freed, a worker came back)."""
        if self._wake is not None:
            self._wake.set()

    # -- the run ------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Render every task, assemble, and return the final video."""
        self._wake = asyncio.Event()
        claim = self.store.claim_run(self.run_id, os.getpid())
        if not claim.won:  # refused: nothing of the run was changed
            raise driven_elsewhere(self.run_id, claim.owner)
        self.store.set_run_state(self.run_id, RunState.running)
        self.emit(
            "run_started",
            f"{len(self.tasks)} tasks on {len(self.farm.workers)} GPUs",
            data={"tasks": len(self.tasks), "shots": len(self.shotlist.shots)},
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                for w in self.farm.workers:
                    retried = functools.partial(self._http_retry, w.id)
                    client = await stack.enter_async_context(ComfyClient(w.url, on_retry=retried))
                    self.lanes[w.id] = Lane(w, client, self.farm.comfy_vram_gb(w.id))
                try:
                    await self._start_lanes()
                    self._check_feasible()
                    done, adopted = await Reconciler(self).reconcile()
                    await self._loop(done, adopted)
                except RunCancelled:
                    await self._stop_jobs()
                    raise
                finally:
                    self._record_restarts()
                    for lane in self.lanes.values():
                        if lane.probe_task:
                            lane.probe_task.cancel()
        except RunCancelled as exc:
            self._close_attempts(exc)
            self.emit("run_cancelled", str(exc))
            raise
        except FactoryError as exc:
            self._close_attempts(exc)
            self.store.set_run_state(self.run_id, RunState.failed, error=str(exc))
            self.emit("run_failed", str(exc))
            raise RunFailed(
                f"run {self.run_id} failed: {exc}\nEverything finished so far is kept in "
                f"{self.run_dir}; `videofactory resume {self.run_id}` goes on from there",
                run_id=self.run_id,
            ) from exc
        except BaseException as exc:  # Ctrl-C or SIGTERM (the main task cancelled), or a bug
            self._close_attempts(exc)
            raise
        self._close_attempts(None)
        elapsed = time.monotonic() - self._t0
        final: Path | None = None
        media: MediaInfo | None = None
        missing = self.heroes_missing()
        without = (
            f"; {len(missing)} shot(s) without their hero pass ({', '.join(missing)}): "
            f"`videofactory resume {self.run_id} --heroes` adds them"
            if missing
            else ""
        )
        if self.assemble:
            final = self.outputs[f"{self.run_id}/assemble"]
            media = check_media(final, kind="video")
            self.store.set_run_state(self.run_id, RunState.done, final=str(final))
            self.emit(
                "run_done",
                f"{final} ({media.duration_s:.2f} s) in {elapsed:.1f} s{without}",
                data={
                    "final": str(final),
                    "duration_s": media.duration_s,
                    "heroes_missing": missing,
                },
            )
        else:
            self.store.set_run_state(self.run_id, RunState.rendered)
            self.emit(
                "run_done",
                f"every shot rendered in {elapsed:.1f} s (not assembled){without}",
                data={"heroes_missing": missing},
            )
        shots = tuple(s.id for s in self.shotlist.shots)
        return RunResult(self.run_id, self.run_dir, final, media, elapsed, shots, missing)

    def heroes_missing(self) -> dict[str, str]:
        """Shot id -> why it goes out without its hero pass (skipped hero tasks)."""
        return heroes_missing(self.store.tasks(self.run_id))

    def _close_attempts(self, exc: BaseException | None) -> None:
        """No attempt outlives the run: one still open (never posted, lost, or followed when
        the run stopped) ends here, cancelled, with why the run ended."""
        left = self.store.close_open_attempts(self.run_id, TaskState.cancelled, stop_reason(exc))
        if left and exc is None:  # every attempt should have ended on its own
            self.emit("warning", f"{left} attempt(s) were still open when the run ended")

    async def _start_lanes(self) -> None:
        """Probe every worker, then preflight each one's workflows before any job is sent."""
        await asyncio.gather(*(self._start_lane(lane) for lane in self.lanes.values()))
        if not any(lane.up for lane in self.lanes.values()):
            raise BackendError(
                "no worker of the farm is reachable: "
                + "; ".join(f"{k}: {v.reason}" for k, v in self.lanes.items())
            )

    async def _start_lane(self, lane: Lane) -> None:
        """Ask a worker what it can hold, then check each kind's workflow against its server.

        A worker that does not answer now is judged by its farm file until it does (its
        workflows are checked then, see ``_probe``).
        """
        if not lane.needs:
            lane.needs = dict(ability_of(lane.config, lane.vram_gb, "VRAM", None).needs)
        try:
            stats = await lane.client.system_stats()
        except BackendError as exc:
            self._lane_down(lane, str(exc))
            return
        await self._preflight(lane, stats)
        lane.up = True

    async def _preflight(self, lane: Lane, stats: dict[str, Any]) -> None:
        """What the worker can hold, and each kind's workflow (the farm file's, else a bundled
        one the server can run) checked against the server's nodes and models."""
        shared = lane.config.vram_gb - self.farm.comfy_vram_gb(lane.id)
        memory = worker_memory(lane.config, stats, shared_gb=shared)
        lane.vram_gb, lane.memory_kind = memory.gb, memory.kind
        if memory.note:
            self.emit("worker_memory", memory.note, worker=lane.id, data={"gb": memory.gb})
        report = await preflight_worker(lane.config, lane.client)
        lane.preflighted = report.reachable
        lane.needs = dict(ability_of(lane.config, memory.gb, memory.kind, report).needs)
        for kind, check in report.kinds.items():
            problems = [str(p) for p in check.problems]
            if check.workflow is not None:
                self._workflows[(lane.id, kind)] = check.workflow
                missing = missing_bindings(check.workflow, kind)
                if missing:
                    problems.append(f"workflow {check.workflow.name} binds no {', '.join(missing)}")
            if problems or not report.reachable:
                why = "; ".join(problems[:3]) or report.error
                lane.refused[kind] = why
                self.emit(
                    "worker_refused",
                    f"{lane.id} cannot run {kind.value}: {why}",
                    worker=lane.id,
                    data={"kind": kind.value, "problems": problems},
                )

    def _check_feasible(self) -> None:
        """Refuse a plan the farm can never run (a kind no worker can take) before any GPU
        time is spent: one line per such kind, naming its shots and the best worker."""
        states = {t.id: t.state for t in self.store.tasks(self.run_id)}
        shots: dict[TaskKind, list[str]] = {}
        for task in self.tasks.values():
            if task.kind in GPU_KINDS and states.get(task.id) not in FINISHED:
                shots.setdefault(task.kind, []).append(task.shot_id or "")
        abilities = [
            Ability(
                lane.id,
                tuple(lane.config.roles),
                lane.vram_gb,
                lane.memory_kind,
                needs=lane.needs,
                # A worker not asked yet may come back: only what its server said counts.
                refused=lane.refused if lane.up else {},
                workflows={
                    k: wf.name for (wid, k), wf in self._workflows.items() if wid == lane.id
                },
                reachable=lane.up,
            )
            for lane in self.lanes.values()
        ]
        lines = impossible_kinds(shots, abilities, strict=self.farm.strict)
        if lines:
            raise FactoryError("; ".join(lines))

    async def _loop(self, done: set[str], adopted: dict[asyncio.Task[Path], str]) -> None:
        board = self.board
        for tid in done:
            board.finish(tid)
        for tid in adopted.values():
            board.start(tid)
        for t in [*board.ready_gpu(), *board.ready_local()]:
            self.store.set_task_state(t.id, TaskState.ready)
        running = self._running
        running.update(adopted)
        assert self._wake is not None
        ended: BaseException | None = None
        try:
            while board.unfinished:
                self._check_cancel()
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
                self.stop(fut, tid, stop_reason(ended))
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    def _finished(self, fut: asyncio.Task[Path], tid: str) -> None:
        task = self.tasks[tid]
        lane = self.lanes.get(self.placed.pop(tid, ""))
        if lane is not None:
            lane.reserved.discard(tid)
            # Re-estimate what is left on it with what the farm has shown so far.
            now = time.monotonic() - self._t0
            lane.busy_until = now + sum(
                self.estimates.seconds(lane.id, j.task.kind, j.task.cost_s)
                for j in lane.jobs.values()
            )
        if fut.cancelled():
            # Its worker went down (or the run is stopping): the task goes elsewhere.
            self._stop_why.pop(tid, None)
            self.store.set_task_state(tid, TaskState.ready)
            self.board.retry(tid)
            return
        exc = fut.exception()
        if exc is None:
            self.outputs[tid] = fut.result()
            with self.store.batch():
                self.store.set_task_state(tid, TaskState.done)
                for child in self.board.finish(tid):
                    self.store.set_task_state(child, TaskState.ready)
                if task.kind in GPU_KINDS and lane is not None:
                    self.emit(
                        "task_done",
                        f"{task.kind.value} {task.shot_id} on {lane.id}: {self.outputs[tid].name}",
                        task,
                        worker=lane.id,
                    )
            return
        if isinstance(exc, RunFailed):
            raise exc
        self._recover(task, lane, exc)

    # -- placement ------------------------------------------------------------------------------

    def _refresh_draining(self, now: float) -> None:
        """Which managed servers the farm launcher is draining for a restart (no new jobs)."""
        if not self._managed or now - self._last_drain_check < TICK_S:
            return
        self._last_drain_check = now
        from videofactory.launcher import draining

        try:
            self._draining = set(draining(self.farm))
        except (OSError, ValueError, FactoryError):
            self._draining = set()

    def _record_restarts(self) -> None:
        """Put the restarts of servers during this run in the run's log: managed ones by the
        farm launcher, the built-in farm's own (it keeps the same records in its folder)."""
        if not (self._managed or self.farm.simulated):
            return
        from videofactory.launcher import restarts_since

        try:
            restarts = restarts_since(self.farm, self._started_wall)
        except (OSError, ValueError, FactoryError):
            return
        by = "the built-in farm" if self.farm.simulated else "the launcher"
        for r in restarts:
            back = f", back {r['back_at'] - r['ts']:.1f} s later" if r.get("back_at") else ""
            self.emit(
                "worker_restarted",
                f"{r.get('worker')} restarted by {by} "
                f"({r.get('cause')}: {r.get('detail', '')}){back}",
                worker=str(r.get("worker", "")),
                data={"restart": r},
            )

    def _start_ready(self) -> list[Task]:
        now = time.monotonic()
        self._refresh_draining(now)
        start = [t for t in self.board.ready_local() if self.not_before.get(t.id, 0.0) <= now]
        free = sum(lane.free_slots for lane in self.lanes.values() if lane.up)
        if free == 0:
            return start
        # Only the head of each kind's ready list can be placed now.
        gpu = self.board.ready_gpu_head(max(16, 4 * free), self.not_before, now)
        if not gpu:
            return start
        clock = now - self._t0
        views = [
            lane.view(clock, self.estimates, draining=lane.id in self._draining)
            for lane in self.lanes.values()
        ]
        for a in decide(
            [self._view(t) for t in gpu],
            views,
            clock,
            strict=self.farm.strict,
            pending=self.board.pending_views(),
            time_factor=self.estimates.time_factor,
        ):
            task, lane = self.tasks[a.task_id], self.lanes[a.worker_id]
            lane.reserved.add(task.id)
            lane.busy_until = a.est_finish
            lane.loaded = task.kind
            self.placed[task.id] = lane.id
            start.append(task)
        return start

    def _view(self, task: Task) -> TaskView:
        """The task as placement sees it: its size (shrunk after out of memory), the memory
        a worker must hold (raised after out of memory) and the workers it failed on
        (avoided while another worker can take it)."""
        scale = self.task_scale.get(task.id, 1.0)
        view = TaskView(
            task.id,
            task.kind,
            task.cost_s * scale,
            task.vram_gb * scale,
            self.ranks[task.id],
            scale=scale,
            min_memory_gb=self.min_vram.get(task.id, 0.0),
        )
        failed = self.failures[task.id]
        if failed:
            able = [lane for lane in self.lanes.values() if lane.up and self._fits(lane, view)]
            fewest = min((failed[lane.id] for lane in able), default=0)
            avoid = frozenset(lane.id for lane in able if failed[lane.id] > fewest)
            view = dataclasses.replace(view, avoid=avoid)
        return view

    def _fits(self, lane: Lane, view: TaskView) -> bool:
        """Whether the worker accepts the task's kind and holds what its workflow needs."""
        need = max(lane.need(view), view.min_memory_gb)
        return view.kind not in lane.refused and lane.vram_gb >= need

    def _check_stuck(self) -> None:
        """Act on ready tasks that no worker can take now.

        Waiting makes sense only while a worker that could take the task is down (it may
        come back); when every worker refuses it or is too small, nothing will change, and
        a hero goes out without its pass / another task fails the run at once. A hero pass
        is a bonus: it waits while the rest of the film renders, and once it is all that
        holds the film back it waits ``hero_wait_s`` more for a GPU able to run it, then its
        shot goes out with the base clip. Any other task fails the run after
        ``no_worker_timeout_s``.
        """
        now = time.monotonic()
        if now - self._last_stuck_check < TICK_S:
            return
        self._last_stuck_check = now
        cfg = self.farm.dispatch
        workers = [lane.view(0, self.estimates) for lane in self.lanes.values()]
        # The same workers as if every one were up: which tasks a worker's return would help.
        if_back = [dataclasses.replace(w, up=True) for w in workers if not w.up]
        verdicts: dict[tuple[Any, ...], tuple[bool, bool]] = {}
        holding_back: bool | None = None
        for task in list(self.board.ready_gpu()):
            view = self._view(task)
            if view.fit_key not in verdicts:
                strict = self.farm.strict
                verdicts[view.fit_key] = (
                    bool(candidates(view, workers, strict=strict)),
                    bool(candidates(view, if_back, strict=strict)),
                )
            can_now, can_later = verdicts[view.fit_key]
            if can_now:
                self._no_worker_since.pop(task.id, None)
                continue
            if task.kind is TaskKind.hero:
                if not can_later:
                    self._skip_hero(task, self._no_worker_reason(task))
                    continue
                if holding_back is None:
                    holding_back = not self._other_gpu_work_left()
                if not holding_back:
                    self._no_worker_since.pop(task.id, None)
                    continue
                since = self._no_worker_since.setdefault(task.id, now)
                if now - since >= cfg.hero_wait_s:
                    self._skip_hero(task, self._no_worker_reason(task, waited_s=now - since))
                continue
            since = self._no_worker_since.setdefault(task.id, now)
            if not can_later or now - since >= cfg.no_worker_timeout_s:
                raise FactoryError(self._no_worker_reason(task))

    def _other_gpu_work_left(self) -> bool:
        """Whether any keyframe or clip is still to be rendered (heroes aside)."""
        return any(
            t.kind in (TaskKind.keyframe, TaskKind.clip) and t.id not in self.board.done
            for t in self.tasks.values()
        )

    def _no_worker_reason(self, task: Task, *, waited_s: float | None = None) -> str:
        view = self._view(task)
        parts = []
        for lane in self.lanes.values():
            if not lane.up:
                parts.append(f"{lane.id} down ({lane.reason})")
            elif task.kind in lane.refused:
                parts.append(f"{lane.id} refuses {task.kind.value} ({lane.refused[task.kind]})")
            elif lane.vram_gb < (need := max(lane.need(view), view.min_memory_gb)):
                parts.append(f"{lane.id} has {lane.vram_gb:g} GB, needs {need:g}")
            elif self.farm.strict and task.kind in ROLE_FOR_KIND:
                if ROLE_FOR_KIND[task.kind] not in lane.config.roles:
                    parts.append(f"{lane.id} is not a {ROLE_FOR_KIND[task.kind].value} GPU")
        waited = f" for {waited_s:.0f} s" if waited_s is not None else ""
        return f"no worker could take {task.kind.value} {task.shot_id}{waited}: " + "; ".join(parts)

    def _skip_hero(self, task: Task, reason: str) -> None:
        """The shot goes out with its base clip: the hero is recorded as skipped, and why."""
        self._no_worker_since.pop(task.id, None)
        self.not_before.pop(task.id, None)
        with self.store.batch():
            self.store.set_task_state(task.id, TaskState.skipped, error=reason)
            for child in self.board.finish(task.id):
                self.store.set_task_state(child, TaskState.ready)
            self.emit(
                "hero_skipped",
                f"shot {task.shot_id} goes out without its hero pass: {reason}",
                task,
                data={"reason": reason},
            )

    def _check_cancel(self) -> None:
        now = time.monotonic()
        if now - self._last_cancel_check < TICK_S:
            return
        self._last_cancel_check = now
        if self.store.run(self.run_id)["state"] == RunState.cancelled.value:
            self._to_stop = [
                (lane, j.prompt_id) for lane in self.lanes.values() for j in lane.jobs.values()
            ]
            raise RunCancelled(
                f"run {self.run_id} was cancelled; what finished is kept in {self.run_dir}",
                run_id=self.run_id,
            )

    async def _stop_jobs(self) -> None:
        """Interrupt our running jobs and delete our queued ones (the run was cancelled)."""

        async def stop(lane: Lane, prompt_id: str) -> None:
            with contextlib.suppress(BackendError):
                outcome = await lane.client.cancel(prompt_id)
                self.emit("job_cancelled", f"{lane.id}: {prompt_id} {outcome}", worker=lane.id)

        await asyncio.gather(*(stop(lane, pid) for lane, pid in self._to_stop))

    # -- running one task ------------------------------------------------------------------------

    async def _run_task(self, task: Task) -> Path:
        if task.kind in GPU_KINDS:
            lane = self.lanes[self.placed[task.id]]
            lane.reserved.discard(task.id)
            return await self.run_gpu_attempt(task, lane)
        if task.kind is TaskKind.speech:
            return await self._run_speech(task)
        return await self._run_assembly(task)

    async def _run_speech(self, task: Task) -> Path:
        shot = self.shotlist.shot(task.shot_id or "")
        dest = self.run_dir / FOLDER[TaskKind.speech] / f"{shot.id}.wav"
        self.store.set_task_state(task.id, TaskState.running, worker="speech")
        self.emit(
            "task_started", f"speech {shot.id} ({self.speech.describe()})", task, worker="speech"
        )
        async with self._speech_lock:  # one request at a time per speech engine
            spoken = await asyncio.to_thread(self.speech.speak, shot.narration, dest)
        if spoken.note():
            self.emit("warning", f"shot {shot.id}: {spoken.note()}", task, worker="speech")
        fit = await asyncio.to_thread(fit_narration, dest, dest, shot.duration)
        if not fit.fits:
            self.emit("warning", fit.warning(shot.id), task, worker="speech")
        media = await asyncio.to_thread(check_media, dest, kind="audio", task=task.id)
        self.store.add_artifact(self.run_id, task.id, "speech", dest, media_dict(media))
        self.emit(
            "task_done",
            f"speech {shot.id}: {media.duration_s:.1f} s"
            + (f" (sped up {fit.factor:.2f}x)" if fit.factor > 1 else ""),
            task,
            worker="speech",
            data={"engine": spoken.engine, "tempo": fit.factor},
        )
        return dest

    async def _run_assembly(self, task: Task) -> Path:
        sl = self.shotlist
        shots = []
        for shot in sl.shots:
            hero = f"{self.run_id}/{shot.id}/hero"
            clip = self.outputs.get(hero) or self.outputs[f"{self.run_id}/{shot.id}/clip"]
            speech = self.outputs.get(f"{self.run_id}/{shot.id}/speech")
            shots.append(TimelineShot(shot.id, clip, shot.duration, speech, shot.narration))
        timeline = Timeline(tuple(shots), OutputSpec(width=sl.width, height=sl.height, fps=sl.fps))
        # A video made before (this run's, before `resume --heroes`) is kept: the new one is
        # the next version beside it.
        final = next_version(self.run_dir)[1]
        self.store.set_task_state(task.id, TaskState.running, worker="ffmpeg")
        self.emit("task_started", "assembling with ffmpeg", task, worker="ffmpeg")
        loop = asyncio.get_running_loop()
        # A thread cannot be cancelled: when the run stops (cancel, Ctrl-C, SIGTERM) the next
        # progress report raises instead, which kills ffmpeg and removes its partial files.
        stop = threading.Event()

        def progress(fraction: float) -> None:
            if stop.is_set():
                raise RunCancelled(f"run {self.run_id} stopped during its assembly")
            loop.call_soon_threadsafe(
                lambda: self.emit(
                    "task_progress",
                    "",
                    task,
                    worker="ffmpeg",
                    value=round(fraction * 100, 1),
                    max=100.0,
                )
            )

        try:
            media = await asyncio.to_thread(assemble, timeline, final, on_progress=progress)
        except asyncio.CancelledError:
            stop.set()
            raise
        self.store.add_artifact(self.run_id, task.id, "final", final, media_dict(media))
        self.emit("task_done", f"final.mp4 {media.duration_s:.2f} s", task, worker="ffmpeg")
        return final

    # -- failures -------------------------------------------------------------------------------

    def _recover(self, task: Task, lane: Lane | None, exc: BaseException) -> None:
        self.attempts[task.id] += 1
        attempts = self.attempts[task.id]
        v = verdict(exc, attempts=attempts, max_attempts=self.farm.dispatch.max_attempts)
        ran = self.failed_running.pop(task.id, False)
        went_down = v.action is Action.worker_down and lane is not None and ran
        if went_down:
            assert lane is not None
            if isinstance(exc, BackendUnavailable):  # not a hang: the server is gone
                v = dataclasses.replace(
                    v, reason=f"{lane.id}'s server went away while running it: {v.reason}"
                )
            self.took_down.setdefault(task.id, set()).add(lane.id)
        where = (
            lane.id
            if lane
            else (task.kind.value if task.kind is not TaskKind.assemble else "ffmpeg")
        )
        self.store.set_task_state(task.id, TaskState.ready, error=v.reason)
        self.emit(
            "task_failed",
            f"{task.kind.value} {task.shot_id or ''} on {where}: {v.reason} -> {v.action.value}",
            task,
            worker=where,
            data={"action": v.action.value, "attempt": attempts},
        )
        try:
            if v.action is Action.give_up:
                raise FactoryError(f"{task.kind.value} {task.shot_id or ''}: {v.reason}")
            if task.kind is TaskKind.assemble and isinstance(exc, MediaError):
                self._invalidate(exc)
            if lane is not None and v.avoid_worker:
                self.failures[task.id][lane.id] += 1
            if v.action is Action.worker_down and lane is not None:
                self._lane_down(lane, v.reason)
            elif v.action is Action.refuse_kind and lane is not None:
                lane.refused[task.kind] = v.reason
            elif v.action is Action.more_vram and lane is not None:
                self._more_vram(task, lane)
            downs = sorted(self.took_down.get(task.id, ()))
            if went_down and lane is not None and len(downs) >= DOWNS_TO_SUSPECT:
                # Servers keep dying under this one task: it is the likely cause (a job that
                # exhausts RAM gets its server killed), so it is not passed on whole.
                self._shrink(task, lane, f"the servers of {', '.join(downs)} went down running it")
            self.not_before[task.id] = time.monotonic() + backoff_s(attempts)
            self._check_everywhere(task)
        except FactoryError as failure:
            if task.kind is not TaskKind.hero:
                raise
            # A hero pass is a bonus: what would fail the run leaves its shot without it.
            self._skip_hero(task, str(failure))
            return
        self.board.retry(task.id)

    def _more_vram(self, task: Task, lane: Lane) -> None:
        """Out of memory: another worker up now that can hold it, else one with more memory,
        else the task made smaller (step by step, down to ``min_scale``) at once: it never
        waits for a worker that is down."""
        # This server cannot hold this kind of job: spare it the next ones like it.
        lane.refused[task.kind] = OOM_REFUSAL.format(kind=task.kind.value)
        view = self._view(task)
        workers = [o.view(0, self.estimates) for o in self.lanes.values()]
        if candidates(view, workers, strict=self.farm.strict):
            return
        bigger = lane.vram_gb + 0.5
        roomier = dataclasses.replace(view, min_memory_gb=bigger)
        if candidates(roomier, workers, strict=self.farm.strict):
            self.min_vram[task.id] = bigger
            return
        self._shrink(task, lane, "out of memory on every worker that could take it")

    def _shrink(self, task: Task, lane: Lane, why: str) -> None:
        """Render the task smaller (width, height and frames times ``SHRINK``); below
        ``min_scale`` it fails (a hero pass then goes without)."""
        scale = self.task_scale.get(task.id, 1.0) * SHRINK
        if scale < self.farm.dispatch.min_scale:
            raise FactoryError(
                f"{task.kind.value} {task.shot_id}: {why}, even at {scale / SHRINK:.0%} of its "
                "size; use a lighter workflow or a bigger GPU"
            )
        self.task_scale[task.id] = scale
        self.min_vram.pop(task.id, None)
        self.failures[task.id].clear()
        # Smaller, it may fit where the full size did not: give those workers another go.
        for other in self.lanes.values():
            if other.refused.get(task.kind) == OOM_REFUSAL.format(kind=task.kind.value):
                del other.refused[task.kind]
        params = {**self.store.task(task.id).params, "scale": scale}
        self.store.update_task_params(task.id, params)
        self.emit(
            "task_shrunk",
            f"{task.kind.value} {task.shot_id}: {why}; rendering at {scale:.0%} of its size "
            "and frames",
            task,
            worker=lane.id,
            data={"scale": scale},
        )

    def _check_everywhere(self, task: Task) -> None:
        """Give up when every worker that could run the task has failed it repeatedly."""
        failed = self.failures[task.id]
        view = self._view(task)
        able = [lane.id for lane in self.lanes.values() if self._fits(lane, view)]
        if able and all(failed[w] >= FAILS_PER_WORKER for w in able):
            raise FactoryError(
                f"{task.kind.value} {task.shot_id} failed on every worker that can run it "
                f"({', '.join(able)})"
            )

    def _invalidate(self, exc: MediaError) -> None:
        """A file the assembly refused is rendered again by the task that made it."""
        bad = Path(exc.path or "")
        for tid, path in list(self.outputs.items()):
            if path == bad or path.resolve() == bad.resolve():
                self.emit(
                    "warning",
                    f"{path.name} is unusable ({exc}); rendering it again",
                    self.tasks[tid],
                )
                self.outputs.pop(tid)
                self.board.undo(tid)
                self.store.set_task_state(tid, TaskState.ready, error=str(exc))

    # -- workers going down and coming back ------------------------------------------------------

    def _lane_down(self, lane: Lane, reason: str) -> None:
        if lane.up:
            self.emit("worker_down", f"{lane.id}: {reason}", worker=lane.id)
        lane.up, lane.reason = False, reason
        # It may come back restarted, its output folder emptied: send it our copies instead.
        for tid in [t for t, (wid, _) in self.made_on.items() if wid == lane.id]:
            del self.made_on[tid]
        for job in list(lane.jobs.values()):
            self._abandoned.add(job.prompt_id)
        # Its other jobs go elsewhere (the loop sees them cancelled and puts them back).
        for fut, tid in self._running.items():
            if self.placed.get(tid) == lane.id and not fut.done():
                self.stop(fut, tid, f"worker {lane.id} went down: {reason}")
        if lane.probe_task is None or lane.probe_task.done():
            lane.probe_task = asyncio.ensure_future(self._probe(lane))

    def stop(self, fut: asyncio.Task[Path], task_id: str, why: str) -> None:
        """Cancel a task's future, saying why: its attempt records the reason (``stopped``)
        instead of a bare CancelledError."""
        if not fut.done():
            self._stop_why[task_id] = why
            fut.cancel(why)

    def stopped(self, task_id: str, exc: asyncio.CancelledError) -> str:
        """Why a task's attempt was cancelled (what ``stop`` recorded, else the message the
        cancellation carries, else the run's process is going away)."""
        why = self._stop_why.pop(task_id, None)
        return why or (str(exc.args[0]) if exc.args and exc.args[0] else STOPPED)

    async def _probe(self, lane: Lane) -> None:
        """Ask a down worker how it is until it answers with nothing of ours left on it.

        The jobs we gave up on it (a hung one, the ones queued behind it) are interrupted or
        taken off its queue first, so that when it is back it holds only what we send next.
        """
        delay = self.farm.dispatch.probe_interval_s
        while not lane.up:
            try:
                stats = await lane.client.system_stats()
                queue = await lane.client.queue()
                items = [*(queue.get("queue_running") or []), *(queue.get("queue_pending") or [])]
                stale = [
                    i[1]
                    for i in items
                    if isinstance(i, list) and len(i) > 1 and i[1] in self._abandoned
                ]
                for pid in stale:
                    await lane.client.cancel(pid)
            except BackendError:
                stale = ["unreachable"]
            if not stale and not lane.preflighted:
                try:
                    await self._preflight(lane, stats)
                except BackendError:
                    stale = ["unreachable"]
            if not stale:
                lane.up, lane.reason = True, ""
                self.emit("worker_up", f"{lane.id} answers again", worker=lane.id)
                self.wake()
                return
            await asyncio.sleep(delay)
            delay = min(60.0, delay * 2)
