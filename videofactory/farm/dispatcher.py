"""The dispatcher: runs a run's task graph on the farm. It holds the policy; I/O is delegated.

It asks the pure placement (``scheduler.decide``) what to start whenever a task finishes or a
slot frees, records every state change in the store before acting on it, drives ComfyUI through
``ComfyClient`` (upload inputs, post, follow, download), speaks narration through the speech
backend and hands the finished pieces to the assembly. Retries and failover come later; for
now a failed task fails the run, keeping everything already rendered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videofactory.assembly.probe import MediaInfo, check_media
from videofactory.assembly.render import assemble
from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot
from videofactory.comfy.client import ComfyClient, new_prompt_id
from videofactory.comfy.results import OutputRef, PromptResult
from videofactory.comfy.workflow import Workflow, load_template, load_workflow
from videofactory.config import FarmConfig, TaskKind, WorkerConfig
from videofactory.constants import JOBS_AHEAD_PER_SERVER
from videofactory.errors import BackendError, FactoryError, RunFailed, WorkflowError
from videofactory.events import Event, EventSink
from videofactory.farm.dag import Task, build_tasks, ready_tasks, upward_ranks
from videofactory.farm.scheduler import TaskView, WorkerView, decide
from videofactory.shotlist import Shot, ShotList
from videofactory.store import RunState, Store, TaskState
from videofactory.tts.base import SpeechBackend

__all__ = ["Dispatcher", "RunResult"]

GPU_KINDS = (TaskKind.keyframe, TaskKind.clip, TaskKind.hero)
#: Where each kind's output goes in the run folder.
FOLDER = {
    TaskKind.keyframe: "keyframes",
    TaskKind.clip: "clips",
    TaskKind.hero: "hero",
    TaskKind.speech: "speech",
}
#: Upscale factor of the hero pass.
HERO_SCALE = 1.5


@dataclass
class RunResult:
    """What a finished run produced."""

    run_id: str
    run_dir: Path
    final: Path
    media: MediaInfo
    elapsed_s: float


@dataclass
class _Lane:
    """A worker as the dispatcher tracks it."""

    config: WorkerConfig
    client: ComfyClient
    up: bool = False
    inflight: int = 0
    busy_until: float = 0.0
    loaded: TaskKind | None = None
    vram_total: int = 0
    reason: str = ""
    jobs: set[str] = field(default_factory=set)


class Dispatcher:
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
    ) -> None:
        self.store = store
        self.farm = farm
        self.run_id = run_id
        self.run_dir = Path(run_dir)
        self.shotlist = shotlist
        self.speech = speech
        self._sink = on_event
        self.tasks = {t.id: t for t in build_tasks(run_id, shotlist)}
        self.ranks = upward_ranks(self.tasks.values())
        self.lanes: dict[str, _Lane] = {}
        self.outputs: dict[str, Path] = {}
        self._speech_lock = asyncio.Lock()
        self._workflows: dict[tuple[str, TaskKind], Workflow] = {}
        #: task id -> worker id, for GPU tasks placed and not yet finished.
        self._assigned: dict[str, str] = {}
        self._marked_ready: set[str] = set()
        self._t0 = time.monotonic()

    # -- events -----------------------------------------------------------------------------

    def emit(self, kind: str, message: str = "", task: Task | None = None, **kw: Any) -> None:
        """Log an event to the store (for lasting ones) and to the watcher."""
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
            self.store.add_event(
                self.run_id,
                kind,
                message,
                task_id=ev.task_id,
                data={k: v for k, v in ev.to_json().items() if k in ("worker", "data")},
            )
        if self._sink:
            self._sink(ev)

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Render every task, assemble, and return the final video."""
        self.store.set_run_state(self.run_id, RunState.running)
        self.emit(
            "run_started",
            f"{len(self.tasks)} tasks on {len(self.farm.workers)} GPUs",
            data={"tasks": len(self.tasks), "shots": len(self.shotlist.shots)},
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                for w in self.farm.workers:
                    client = await stack.enter_async_context(ComfyClient(w.url))
                    self.lanes[w.id] = _Lane(w, client)
                await self._probe_workers()
                await self._loop()
        except FactoryError as exc:
            self.store.set_run_state(self.run_id, RunState.failed, error=str(exc))
            self.emit("run_failed", str(exc))
            raise RunFailed(
                f"run {self.run_id} failed: {exc}\nEverything finished so far is kept in "
                f"{self.run_dir}",
                run_id=self.run_id,
            ) from exc
        final = self.outputs[f"{self.run_id}/assemble"]
        media = check_media(final, kind="video")
        self.store.set_run_state(self.run_id, RunState.done, final=str(final))
        elapsed = time.monotonic() - self._t0
        self.emit(
            "run_done",
            f"{final} ({media.duration_s:.2f} s) in {elapsed:.1f} s",
            data={"final": str(final), "duration_s": media.duration_s},
        )
        return RunResult(self.run_id, self.run_dir, final, media, elapsed)

    async def _probe_workers(self) -> None:
        async def probe(lane: _Lane) -> None:
            try:
                stats = await lane.client.system_stats()
                lane.up = True
                devices = stats.get("devices") or [{}]
                lane.vram_total = int(devices[0].get("vram_total") or 0)
            except BackendError as exc:
                lane.up, lane.reason = False, str(exc)
                self.emit("worker_down", str(exc), worker=lane.config.id)

        await asyncio.gather(*(probe(lane) for lane in self.lanes.values()))
        if not any(lane.up for lane in self.lanes.values()):
            raise BackendError(
                "no worker of the farm is reachable: "
                + "; ".join(f"{k}: {v.reason}" for k, v in self.lanes.items())
            )

    async def _loop(self) -> None:
        states = {t.id: t.state for t in self.store.tasks(self.run_id)}
        done = {tid for tid, s in states.items() if s == TaskState.done.value}
        for tid in done:
            self.outputs.setdefault(tid, self._recorded_output(tid))
        waiting = set(self.tasks) - done
        running: dict[asyncio.Task[None], str] = {}
        try:
            while waiting or running:
                for task in self._start_ready(done, waiting):
                    waiting.discard(task.id)
                    running[asyncio.create_task(self._run_task(task))] = task.id
                if not running:
                    raise FactoryError(self._stuck_reason(waiting))
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for fut in finished:
                    tid = running.pop(fut)
                    fut.result()  # a failure ends the run (retries come with the scheduler issue)
                    done.add(tid)
        finally:
            for fut in running:
                fut.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    def _start_ready(self, done: set[str], waiting: set[str]) -> list[Task]:
        ready = ready_tasks(self.tasks.values(), done, waiting)
        for t in ready:
            if t.id not in self._marked_ready:
                self.store.set_task_state(t.id, TaskState.ready)
                self._marked_ready.add(t.id)
        start = [t for t in ready if t.kind not in GPU_KINDS]
        gpu = [t for t in ready if t.kind in GPU_KINDS]
        if not gpu:
            return start
        now = time.monotonic() - self._t0
        views = [self._view(lane, now) for lane in self.lanes.values()]
        biggest = max((v.vram_gb for v in views if v.up), default=0.0)
        tviews = [
            TaskView(t.id, t.kind, t.cost_s, min(t.vram_gb, biggest), self.ranks[t.id]) for t in gpu
        ]
        for a in decide(tviews, views, now, strict=self.farm.strict):
            task = self.tasks[a.task_id]
            lane = self.lanes[a.worker_id]
            lane.inflight += 1
            lane.busy_until = a.est_finish
            lane.loaded = task.kind
            lane.jobs.add(task.id)
            self._assigned[task.id] = a.worker_id
            start.append(task)
        return start

    def _view(self, lane: _Lane, now: float) -> WorkerView:
        w = lane.config
        return WorkerView(
            id=w.id,
            roles=tuple(w.roles),
            vram_gb=w.vram_gb,
            speed={k: w.speed for k in TaskKind},
            up=lane.up,
            free_slots=max(0, 1 + JOBS_AHEAD_PER_SERVER - lane.inflight),
            busy_until=max(now, lane.busy_until),
            loaded=lane.loaded,
        )

    def _stuck_reason(self, waiting: set[str]) -> str:
        kinds = sorted({self.tasks[t].kind.value for t in waiting})
        up = [lane.config.id for lane in self.lanes.values() if lane.up]
        return (
            f"no reachable worker can take the remaining {', '.join(kinds)} task(s) "
            f"(workers up: {', '.join(up) or 'none'}); check the farm's VRAM and roles"
        )

    # -- one task -----------------------------------------------------------------------------

    async def _run_task(self, task: Task) -> None:
        if task.kind in GPU_KINDS:
            lane = self.lanes[self._assigned[task.id]]
            try:
                path = await self._run_gpu_task(task, lane)
            finally:
                lane.inflight -= 1
                lane.jobs.discard(task.id)
        elif task.kind is TaskKind.speech:
            path = await self._run_speech(task)
        else:
            path = await self._run_assembly(task)
        self.outputs[task.id] = path

    async def _run_gpu_task(self, task: Task, lane: _Lane) -> Path:
        shot = self.shotlist.shot(task.shot_id or "")
        workflow = self._workflow(lane.config, task.kind)
        prompt_id = new_prompt_id()
        attempt = self.store.start_attempt(task.id, self.run_id, lane.config.id, prompt_id)
        try:
            params = await self._params(task, shot, lane)
            graph = workflow.bind(params)
            self.emit(
                "task_submitted",
                f"{task.kind.value} {shot.id} -> {lane.config.id}",
                task,
                worker=lane.config.id,
                data={"prompt_id": prompt_id},
            )
            await lane.client.submit(graph, prompt_id=prompt_id)
            self.store.set_task_state(task.id, TaskState.submitted)
            self.store.set_attempt_state(attempt, TaskState.submitted)

            def on_event(pid: str, name: str, data: Mapping[str, Any]) -> None:
                if name == "execution_start":
                    self.store.set_task_state(task.id, TaskState.running)
                    self.store.set_attempt_state(attempt, TaskState.running)
                    self.emit(
                        "task_started",
                        f"{task.kind.value} {shot.id} on {lane.config.id}",
                        task,
                        worker=lane.config.id,
                    )
                elif name == "progress":
                    self.emit(
                        "task_progress",
                        "",
                        task,
                        worker=lane.config.id,
                        value=float(data.get("value", 0)),
                        max=float(data.get("max", 1)),
                    )

            result = await lane.client.wait(prompt_id, on_event=on_event)
            path = await self._collect(task, shot, lane, result)
        except FactoryError as exc:
            self.store.set_attempt_state(attempt, TaskState.failed, error=str(exc))
            self.store.set_task_state(task.id, TaskState.failed, error=str(exc))
            self.emit("task_failed", str(exc), task, worker=lane.config.id)
            raise
        self.store.set_attempt_state(attempt, TaskState.done)
        self.store.set_task_state(task.id, TaskState.done)
        self.emit(
            "task_done",
            f"{task.kind.value} {shot.id} on {lane.config.id}: {path.name}",
            task,
            worker=lane.config.id,
        )
        return path

    def _workflow(self, worker: WorkerConfig, kind: TaskKind) -> Workflow:
        key = (worker.id, kind)
        if key not in self._workflows:
            chosen = worker.workflows.get(kind)
            self._workflows[key] = (
                load_workflow(Path(chosen)) if chosen else load_template(kind.value)
            )
        return self._workflows[key]

    async def _params(self, task: Task, shot: Shot, lane: _Lane) -> dict[str, Any]:
        sl = self.shotlist
        prefix = f"videofactory/{self.run_id}/{shot.id}_{task.kind.value}"
        subfolder = f"videofactory/{self.run_id}"
        if task.kind is TaskKind.keyframe:
            return {
                "prompt": shot.prompt,
                "negative": shot.negative,
                "seed": shot.seed,
                "width": sl.width,
                "height": sl.height,
                "output_prefix": prefix,
            }
        if task.kind is TaskKind.clip:
            keyframe = self.outputs[self._dep(task, TaskKind.keyframe)]
            name = await lane.client.upload(keyframe, subfolder=subfolder)
            return {
                "input_image": name,
                "prompt": shot.prompt,
                "camera": shot.camera.value,
                "width": sl.width,
                "height": sl.height,
                "frames": max(1, round(shot.duration * sl.fps)),
                "seed": shot.seed,
                "fps": float(sl.fps),
                "output_prefix": prefix,
            }
        clip = self.outputs[self._dep(task, TaskKind.clip)]
        name = await lane.client.upload(clip, subfolder=subfolder)
        return {"input_video": name, "scale": HERO_SCALE, "output_prefix": prefix}

    def _dep(self, task: Task, kind: TaskKind) -> str:
        for d in task.deps:
            if self.tasks[d].kind is kind and self.tasks[d].shot_id == task.shot_id:
                return d
        raise WorkflowError(f"task {task.id} has no {kind.value} input")

    async def _collect(self, task: Task, shot: Shot, lane: _Lane, result: PromptResult) -> Path:
        want = (
            (".png", ".jpg", ".jpeg", ".webp")
            if task.kind is TaskKind.keyframe
            else (".mp4", ".webm", ".mov", ".mkv")
        )
        refs: list[OutputRef] = [
            r for r in result.outputs if r.type == "output" and r.suffix in want
        ]
        if not refs:
            raise BackendError(
                f"{lane.config.url}: the {task.kind.value} workflow finished but saved no "
                f"{'/'.join(want)} file (outputs: {[r.filename for r in result.outputs]})",
                url=lane.config.url,
            )
        ref = refs[-1]
        dest = self.run_dir / FOLDER[task.kind] / f"{shot.id}{ref.suffix}"
        await lane.client.download(ref, dest)
        # A keyframe PNG probes as a one-frame video; clips must last their shot.
        expected = None if task.kind is TaskKind.keyframe else shot.duration
        media = await asyncio.to_thread(
            check_media, dest, kind="video", expected_duration_s=expected, task=task.id
        )
        self.store.add_artifact(self.run_id, task.id, task.kind.value, dest, _media_dict(media))
        return dest

    async def _run_speech(self, task: Task) -> Path:
        shot = self.shotlist.shot(task.shot_id or "")
        dest = self.run_dir / FOLDER[TaskKind.speech] / f"{shot.id}.wav"
        self.store.set_task_state(task.id, TaskState.running, worker="local-speech")
        self.emit(
            "task_started", f"speech {shot.id} ({self.speech.describe()})", task, worker="speech"
        )
        try:
            async with self._speech_lock:  # one request at a time per speech engine
                await asyncio.to_thread(self.speech.synthesize, shot.narration, dest)
            media = await asyncio.to_thread(check_media, dest, kind="audio", task=task.id)
        except FactoryError as exc:
            self._local_failed(task, exc, "speech")
            raise
        self._local_done(task, dest, media, "speech", f"speech {shot.id}: {media.duration_s:.1f} s")
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
        final = self.run_dir / "final.mp4"
        self.store.set_task_state(task.id, TaskState.running, worker="ffmpeg")
        self.emit("task_started", "assembling with ffmpeg", task, worker="ffmpeg")
        loop = asyncio.get_running_loop()

        def progress(fraction: float) -> None:
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
        except FactoryError as exc:
            self._local_failed(task, exc, "ffmpeg")
            raise
        self._local_done(task, final, media, "ffmpeg", f"final.mp4 {media.duration_s:.2f} s")
        return final

    def _local_failed(self, task: Task, exc: FactoryError, worker: str) -> None:
        self.store.set_task_state(task.id, TaskState.failed, error=str(exc))
        self.emit("task_failed", str(exc), task, worker=worker)

    def _local_done(
        self, task: Task, path: Path, media: MediaInfo, worker: str, message: str
    ) -> None:
        kind = "final" if task.kind is TaskKind.assemble else task.kind.value
        self.store.add_artifact(self.run_id, task.id, kind, path, _media_dict(media))
        self.store.set_task_state(task.id, TaskState.done)
        self.emit("task_done", message, task, worker=worker)

    def _recorded_output(self, task_id: str) -> Path:
        for art in reversed(self.store.artifacts(self.run_id)):
            if art["task_id"] == task_id:
                return Path(art["path"])
        raise FactoryError(f"task {task_id} is marked done but has no recorded output")


def _media_dict(media: MediaInfo) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(media).items()}
