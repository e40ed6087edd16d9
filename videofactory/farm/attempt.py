"""One attempt of a GPU task: inputs uploaded, workflow bound and posted, followed under a
watchdog, outputs downloaded and checked. Every state change is recorded before it happens.

``GpuRunner`` runs the attempts of one run on its workers. It is handed what it needs (the
run's context, its tasks, the outputs made so far, each task's scale) and knows nothing of the
dispatcher: an attempt ends in a checked output or raises a FactoryError subclass, which the
dispatcher's policy (``policy.py``) turns into a retry, a move or a worker outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videofactory.assembly.probe import check_media, probe
from videofactory.assembly.stills import last_frame
from videofactory.comfy.client import new_prompt_id
from videofactory.comfy.farmcheck import simulator_template
from videofactory.comfy.frames import ClipTiming
from videofactory.comfy.protocol import queue_ids
from videofactory.comfy.references import reference_name
from videofactory.comfy.results import OutputRef, PromptResult
from videofactory.comfy.workflow import Workflow, load_spec
from videofactory.errors import BackendError, BackendTimeout, MediaError, WorkflowError
from videofactory.farm.context import RunContext
from videofactory.farm.dag import Task, input_deps
from videofactory.farm.flow import (
    END_IMAGE,
    end_frame_dep,
    fallback_note,
    previous_clip_dep,
    takes_end_frame,
)
from videofactory.farm.lanes import Job, Lane
from videofactory.farm.params import HERO_SCALE, task_references, task_shot, workflow_params
from videofactory.farm.picking import record_score
from videofactory.farm.sharing import submit_slot
from videofactory.shotlist import Shot
from videofactory.store import TaskState
from videofactory.vocabulary import TaskId, TaskKind

if TYPE_CHECKING:
    from videofactory.farm.reuse import Reuse

__all__ = ["FOLDER", "GpuRunner", "HERO_SCALE", "STOPPED", "media_dict", "missing_bindings"]

#: Where each kind's output goes in the run folder.
FOLDER = {
    TaskKind.look: "look",
    TaskKind.keyframe: "keyframes",
    TaskKind.clip: "clips",
    TaskKind.hero: "hero",
    TaskKind.speech: "speech",
}
#: How often the watchdog looks at a job.
WATCH_S = 0.25
#: An adopted job (posted by an earlier orchestrator) shows us no progress: its deadline is
#: this many times a normal one.
ADOPTED_DEADLINE_FACTOR = 3.0
#: Progress of one job is passed on at most this often.
PROGRESS_EVERY_S = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
#: Why an attempt stopped when nobody said why (its process is going away).
STOPPED = "stopped with the run's process"


class GpuRunner:
    """Runs, follows and collects the GPU attempts of one run."""

    def __init__(
        self,
        ctx: RunContext,
        tasks: Mapping[str, Task],
        outputs: Mapping[str, Path],
        scale_of: Callable[[str], float],
    ) -> None:
        self.ctx = ctx
        self.tasks = tasks
        #: Task id -> its checked output (the dispatcher's record; read here for inputs).
        self.outputs = outputs
        self.scale_of = scale_of
        #: (worker, kind) -> the workflow it runs (set at preflight, else loaded on use).
        self.workflows: dict[tuple[str, TaskKind], Workflow] = {}
        #: (shot, worker) told already that its clip cannot end on the next keyframe there.
        self.flow_warned: set[tuple[str, str]] = set()
        #: Task id -> (worker, output ref) of files a server wrote during this run.
        self.made_on: dict[str, tuple[str, OutputRef]] = {}
        #: Prompt ids we gave up on: whatever is left of them on a server is cleared away.
        self.abandoned: set[str] = set()
        #: Task id -> whether its last failed attempt was running on its server.
        self.failed_running: dict[str, bool] = {}
        #: Task id -> why its attempt's future was cancelled (see ``stop``).
        self._stop_why: dict[str, str] = {}
        #: Keeps each checked output in the artifact cache (the dispatcher sets it).
        self.reuse: Reuse | None = None

    def stop(self, fut: asyncio.Future[Any], task_id: str, why: str) -> None:
        """Cancel a task's attempt, saying why: the attempt records the reason instead of a
        bare CancelledError."""
        if not fut.done():
            self._stop_why[task_id] = why
            fut.cancel(why)

    def stopped(self, task_id: str, exc: asyncio.CancelledError | None = None) -> str:
        """Why a task's attempt was cancelled (what ``stop`` recorded, else the message the
        cancellation carries, else the run's process is going away)."""
        why = self._stop_why.pop(task_id, None)
        if why:
            return why
        return str(exc.args[0]) if exc is not None and exc.args and exc.args[0] else STOPPED

    def forget(self, lane: Lane) -> None:
        """The worker went down: it may come back restarted with its output folder emptied
        (our copies are sent instead), and what we had on it is abandoned."""
        for tid in [t for t, (wid, _) in self.made_on.items() if wid == lane.id]:
            del self.made_on[tid]
        for job in list(lane.jobs.values()):
            self.abandoned.add(job.prompt_id)

    async def run(self, task: Task, lane: Lane) -> Path:
        """Run one attempt of ``task`` on ``lane`` and return its checked output."""
        shot = task_shot(task.kind, task.shot_id, self.ctx.shotlist)
        workflow = self.workflow(lane, task.kind)
        prompt_id = new_prompt_id()
        attempt = self.ctx.store.start_attempt(task.id, self.ctx.run_id, lane.id, prompt_id)
        est = self.ctx.estimates.seconds(lane.id, task.kind, task.cost_s)
        job = Job(task, prompt_id, attempt, est, ws_connects=lane.client.ws_connects)
        lane.jobs[task.id] = job
        result: PromptResult | None = None
        try:
            params = await self.params(task, shot, lane)
            # Parameters a workflow has no use for (a real model has no camera move) are left
            # out; the ones a kind cannot do without were checked at preflight.
            graph = workflow.bind(params, strict=False)
            self.ctx.emit(
                "task_submitted",
                f"{task.kind.value} {shot.id} -> {lane.id}",
                task,
                worker=lane.id,
                data={"prompt_id": prompt_id, "attempt": attempt},
            )
            # Another run may share this server: post only while its queue has room.
            async with submit_slot(lane.client):
                await lane.client.submit(graph, prompt_id=prompt_id)
            with self.ctx.store.batch():
                self.ctx.store.set_task_state(task.id, TaskState.submitted)
                self.ctx.store.set_attempt_state(attempt, TaskState.submitted)
            job.last_activity = time.monotonic()
            result = await self.follow(job, lane)
            self.release(lane, task)
            return await self.collect(task, lane, result, attempt)
        except BaseException as exc:
            self.end_attempt(task, attempt, exc, rendered=result is not None)
            # Whatever is left of it on the server (hung, or queued) is ours to clear away.
            self.abandoned.add(prompt_id)
            # Whether the server was running it when it failed (a server dying then may have
            # been killed by the job itself: see ``Dispatcher._recover``).
            self.failed_running[task.id] = job.started_at is not None and result is None
            raise
        finally:
            lane.jobs.pop(task.id, None)
            lane.idle_since = time.monotonic()

    async def adopt(
        self, task: Task, lane: Lane, prompt_id: str, attempt: int | None = None
    ) -> Path:
        """Follow a job an earlier orchestrator posted (found again by its prompt id); it goes
        on as that orchestrator's ``attempt`` (reopened by the reconciler): one prompt is one
        render."""
        shot = task_shot(task.kind, task.shot_id, self.ctx.shotlist)
        if attempt is None:  # no attempt row names the prompt: record one now
            attempt = self.ctx.store.start_attempt(task.id, self.ctx.run_id, lane.id, prompt_id)
            self.ctx.store.set_attempt_state(attempt, TaskState.submitted)
        est = self.ctx.estimates.seconds(lane.id, task.kind, task.cost_s)
        job = Job(task, prompt_id, attempt, est, adopted=True)
        lane.jobs[task.id] = job
        self.ctx.emit(
            "task_adopted",
            f"{task.kind.value} {shot.id} still on {lane.id}",
            task,
            worker=lane.id,
            data={"prompt_id": prompt_id},
        )
        result: PromptResult | None = None
        try:
            result = await self.follow(job, lane)
            self.release(lane, task)
            return await self.collect(task, lane, result, attempt)
        except BaseException as exc:
            self.end_attempt(task, attempt, exc, rendered=result is not None)
            self.abandoned.add(prompt_id)
            raise
        finally:
            lane.jobs.pop(task.id, None)
            lane.idle_since = time.monotonic()

    def end_attempt(self, task: Task, attempt: int, exc: BaseException, *, rendered: bool) -> None:
        """Record how an attempt ended on an exception: failed with its error, or cancelled
        with the reason it was stopped (a worker down, the run cancelled or interrupted). A
        job the server had finished before the stop ran on the GPU: done, not collected."""
        if isinstance(exc, asyncio.CancelledError):
            why = self.stopped(task.id, exc)
            if rendered:
                state, error = TaskState.done, f"finished on the server, not collected: {why}"
            else:
                state, error = TaskState.cancelled, why
        else:
            state, error = TaskState.failed, str(exc) or type(exc).__name__
        self.ctx.store.end_attempt(attempt, state, error)

    def release(self, lane: Lane, task: Task) -> None:
        """The server is done with a job: its slot takes the next one while we collect."""
        if lane.jobs.pop(task.id, None) is not None:
            lane.idle_since = time.monotonic()
            self.ctx.wake()

    async def follow(self, job: Job, lane: Lane) -> PromptResult:
        """Wait for a posted job under the watchdog; a stalled job raises BackendTimeout."""
        task = job.task

        def on_event(pid: str, name: str, data: Mapping[str, Any]) -> None:
            now = time.monotonic()
            job.last_activity = now
            if name == "execution_start" and job.started_at is None:
                job.started_at = now
                with self.ctx.store.batch():
                    self.ctx.store.set_task_state(task.id, TaskState.running)
                    self.ctx.store.set_attempt_state(job.attempt_id, TaskState.running)
                    self.ctx.emit(
                        "task_started",
                        f"{task.kind.value} {task.shot_id} on {lane.id}",
                        task,
                        worker=lane.id,
                    )
            elif name == "progress" and (
                now - job.last_progress_emit >= PROGRESS_EVERY_S
                or data.get("value") == data.get("max")
            ):
                # A sampler ticks many times a second: watchers need a few updates a second.
                job.last_progress_emit = now
                self.ctx.emit(
                    "task_progress",
                    "",
                    task,
                    worker=lane.id,
                    value=float(data.get("value", 0)),
                    max=float(data.get("max", 1)),
                )

        waiter = asyncio.ensure_future(lane.client.wait(job.prompt_id, on_event=on_event))
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=WATCH_S)
                if done:
                    return waiter.result()
                stalled = self.stalled(job, lane)
                if stalled and await self.confirm_stall(job, lane):
                    raise BackendTimeout(f"{lane.id} hung: {stalled}", url=lane.config.url)
        finally:
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await waiter

    async def confirm_stall(self, job: Job, lane: Lane) -> bool:
        """Ask the server before calling a quiet job hung: events may have been lost (a
        dropped socket), or the job may be waiting behind someone else's prompt."""
        pid = job.prompt_id
        if await lane.client.history(pid) is not None:
            job.last_activity = time.monotonic()  # it finished; the waiter collects it
            return False
        queue = await lane.client.queue()
        running, pending = queue_ids(queue)
        if pid not in running and pid not in pending:
            return True  # unknown to the server: the wait will call it lost
        ours = {j.prompt_id for j in lane.jobs.values()}
        for stale in [r for r in running if r in self.abandoned]:
            # A job of ours we gave up on still holds the server: stop it again.
            await lane.client.cancel(stale)
        behind_others = pid in pending and any(r not in ours for r in running)
        socket_dropped = lane.client.ws_connects != job.ws_connects
        if behind_others or socket_dropped or (pid in pending and running):
            # Not ours to judge yet: start its clock again from now.
            job.last_activity = time.monotonic()
            job.ws_connects = lane.client.ws_connects
            return False
        return True

    def stalled(self, job: Job, lane: Lane) -> str:
        """Why a job counts as hung, or "" while it is fine."""
        now = time.monotonic()
        cfg = self.ctx.farm.dispatch
        # The estimate improves as the farm shows its real speed: judge by today's.
        est = self.ctx.estimates.seconds(lane.id, job.task.kind, job.task.cost_s)
        deadline = max(cfg.progress_timeout_floor_s, cfg.progress_timeout_factor * est)
        if job.adopted:
            # No events reach us for a job another orchestrator posted, and it may have been
            # running for a while already: judge only by a generous multiple of its length.
            since = job.submitted_at
            deadline *= ADOPTED_DEADLINE_FACTOR
        elif job.started_at is None:
            head = lane.head()
            if head is not None and head is not job:
                return ""  # queued behind another job of ours; that one has its own clock
            since = max(job.last_activity, lane.idle_since)
        else:
            since = job.last_activity
        idle = now - since
        if idle <= deadline:
            return ""
        what = "started" if job.started_at is None else "progressed"
        return (
            f"{job.task.kind.value} {job.task.shot_id} has not {what} for {idle:.0f} s "
            f"(deadline {deadline:.0f} s)"
        )

    def workflow(self, lane: Lane, kind: TaskKind) -> Workflow:
        """The workflow a worker uses for a task kind (its own, or the bundled default)."""
        key = (lane.id, kind)
        if key not in self.workflows:
            spec = lane.config.workflow_spec(kind)
            self.workflows[key] = load_spec(spec, kind.value) if spec else simulator_template(kind)
        return self.workflows[key]

    async def params(self, task: Task, shot: Shot, lane: Lane) -> dict[str, Any]:
        """Our parameters for the task's workflow (inputs uploaded to that server first)."""
        subfolder = f"videofactory/{self.ctx.run_id}"
        inputs: dict[str, str] = {}
        if task.kind is TaskKind.clip:
            previous = previous_clip_dep(task, self.tasks)
            if previous is not None:  # it carries on from the last frame of the clip before
                still = await asyncio.to_thread(
                    last_frame,
                    self.outputs[previous],
                    self.ctx.run_dir / "stills" / f"{shot.id}_start.png",
                )
                inputs["input_image"] = await lane.client.upload(still, subfolder=subfolder)
            else:
                dep = self.dep(task, TaskKind.keyframe)
                inputs["input_image"] = await self.input_name(dep, lane, subfolder)
            end = end_frame_dep(task, self.tasks)
            if end is not None and takes_end_frame(self.workflow(lane, task.kind)):
                inputs[END_IMAGE] = await self.input_name(end, lane, subfolder)
            elif end is not None and (shot.id, lane.id) not in self.flow_warned:
                self.flow_warned.add((shot.id, lane.id))  # once, not at every retry
                name = self.workflow(lane, task.kind).name
                self.ctx.emit("warning", f"shot {shot.id}: {fallback_note(lane.id, name)}", task)
        elif task.kind is TaskKind.hero:
            dep = self.dep(task, TaskKind.clip)
            inputs["input_video"] = await self.input_name(dep, lane, subfolder)
        elif self.workflow(lane, task.kind).accepts(reference_name(1)):
            inputs.update(await self.references(task, lane, subfolder))
        return workflow_params(
            task.kind,
            shot,
            self.ctx.shotlist,
            self.workflow(lane, task.kind),
            scale=self.scale_of(task.id),
            prefix=f"videofactory/{self.ctx.run_id}/{task.stem}_{task.kind.value}",
            inputs=inputs,
            take=task.take,
        )

    async def references(self, task: Task, lane: Lane, subfolder: str) -> dict[str, str]:
        """The look pictures of a keyframe made as an edit, on ``lane``'s server: each look
        task's output (uploaded, unless that server made it), or the user's own picture
        (uploaded), as ``reference_1``.. in the look's order."""
        out: dict[str, str] = {}
        workflow = self.workflow(lane, task.kind)
        for i, item in enumerate(task_references(task.kind, self.ctx.shotlist), start=1):
            if not workflow.accepts(reference_name(i)):
                break
            if item.picture is not None:
                name = await lane.client.upload(Path(item.picture), subfolder=subfolder)
            else:
                dep = str(TaskId(self.ctx.run_id, TaskKind.look, item.name))
                if dep not in self.outputs:
                    raise WorkflowError(f"task {task.id} has no look picture {item.name!r} yet")
                name = await self.input_name(dep, lane, subfolder)
            out[reference_name(i)] = name
        return out

    def clip_timing(self, task: Task, shot: Shot, lane: Lane) -> ClipTiming:
        """Frames and rate a clip task asks ``lane``'s clip workflow for: the smallest count its
        model makes that lasts the shot, at the model's rate (fewer, slower, when shrunk after
        running out of memory); the assembly trims the clip to the shot."""
        scale = self.scale_of(task.id)
        workflow = self.workflow(lane, TaskKind.clip)
        return workflow.clip_timing(shot.duration, self.ctx.shotlist.fps, scale)

    def expected_length(self, task: Task, shot: Shot, lane: Lane) -> float | None:
        """How long the task's output must last (None: any; a keyframe is a still).

        A clip lasts the frames it was asked for at the rate it was asked for, which is at least
        its shot; a hero pass keeps its clip's frames and rate, so it lasts as long as the clip.
        """
        if task.kind is TaskKind.clip:
            return self.clip_timing(task, shot, lane).duration_s
        if task.kind is not TaskKind.hero:
            return None
        clip = self.outputs.get(self.dep(task, TaskKind.clip))
        try:
            return probe(clip).duration_s if clip is not None else None
        except MediaError:
            return None  # our copy is gone: the hero is still checked for being a video

    async def input_name(self, dep: str, lane: Lane, subfolder: str) -> str:
        """What a Load* node of ``lane`` should read for a dependency's output.

        A file this same server wrote during this run is read from its output folder with
        ComfyUI's ``[output]`` annotation (nothing crosses the network); otherwise our copy
        is uploaded and the name the server gives back is used.
        """
        made = self.made_on.get(dep)
        if made is not None and made[0] == lane.id:
            ref = made[1]
            path = f"{ref.subfolder}/{ref.filename}" if ref.subfolder else ref.filename
            return f"{path} [output]"
        return await lane.client.upload(self.outputs[dep], subfolder=subfolder)

    def dep(self, task: Task, kind: TaskKind) -> str:
        """The id of the task's dependency of a kind (its shot's; for a hero pass, the clip of
        the take it upgrades)."""
        for d in input_deps(task, self.tasks):
            if self.tasks[d].kind is kind and self.tasks[d].shot_id == task.shot_id:
                return d
        raise WorkflowError(f"task {task.id} has no {kind.value} input")

    async def collect(
        self, task: Task, lane: Lane, result: PromptResult, attempt: int | None = None
    ) -> Path:
        """Download the task's output, check it, record it (the attempt done), and learn the
        worker's speed."""
        shot = task_shot(task.kind, task.shot_id, self.ctx.shotlist)
        still = task.kind in (TaskKind.keyframe, TaskKind.look)
        want = IMAGE_SUFFIXES if still else VIDEO_SUFFIXES
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
        if ref.type == "output":
            self.made_on[task.id] = (lane.id, ref)
        dest = self.ctx.run_dir / FOLDER[task.kind] / f"{task.stem}{ref.suffix}"
        await lane.client.download(ref, dest)
        # A keyframe PNG probes as a one-frame video; clips must last what they were asked for.
        expected = await asyncio.to_thread(self.expected_length, task, shot, lane)
        media = await asyncio.to_thread(
            check_media, dest, kind="video", expected_duration_s=expected, task=task.id
        )
        if task.kind is TaskKind.clip and self.ctx.shotlist.takes_of(shot) > 1:
            await asyncio.to_thread(
                record_score, self.ctx.store, self.ctx.run_id, shot.id, task.take, dest
            )
        key = None
        if self.reuse is not None:
            key = await asyncio.to_thread(self.reuse.keep, task, dest, media_dict(media), lane.id)
        with self.ctx.store.batch():
            self.ctx.store.add_artifact(
                self.ctx.run_id, task.id, task.kind.value, dest, media_dict(media)
            )
            if attempt is not None:
                self.ctx.store.set_attempt_state(attempt, TaskState.done, content_key=key)
        if result.started_ms and result.finished_ms and not result.fully_cached:
            seconds = (result.finished_ms - result.started_ms) / 1000
            speed = self.ctx.estimates.observe(lane.id, task.kind, task.cost_s, seconds)
            if lane.config.url and not self.ctx.farm.simulated:
                self.ctx.store.save_speed(lane.config.url, task.kind.value, speed)
        return dest


def media_dict(media: Any) -> dict[str, Any]:
    """A MediaInfo as JSON-ready data."""
    from dataclasses import fields

    # Field by field: asdict() deep-copies, and this runs for every finished task.
    return {
        f.name: (str(v) if isinstance(v, Path) else v)
        for f in fields(media)
        for v in (getattr(media, f.name),)
    }


#: Parameters a workflow of each kind must bind for the factory to use it.
ESSENTIAL = {
    TaskKind.look: ("prompt", "output_prefix"),
    TaskKind.keyframe: ("prompt", "output_prefix"),
    TaskKind.clip: ("input_image", "output_prefix"),
    TaskKind.hero: ("input_video", "output_prefix"),
}


def missing_bindings(workflow: Workflow, kind: TaskKind) -> list[str]:
    """The essential parameters a workflow does not bind (see ESSENTIAL)."""
    return [name for name in ESSENTIAL.get(kind, ()) if not workflow.accepts(name)]
