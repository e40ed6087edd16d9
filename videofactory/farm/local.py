"""The tasks of a run that run here, not on a GPU: each shot's narration (the speech engine, one
request at a time) and the assembly of the finished video (one FFmpeg run)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.assembly.probe import check_media
from videofactory.errors import RunCancelled
from videofactory.farm.attempt import FOLDER, media_dict
from videofactory.farm.context import RunContext
from videofactory.farm.dag import Task
from videofactory.store import TaskState
from videofactory.tts.base import SpeechBackend
from videofactory.vocabulary import TaskId, TaskKind

if TYPE_CHECKING:
    from videofactory.farm.reuse import Reuse

__all__ = ["LocalRunner"]


class LocalRunner:
    """Speaks narration and assembles the video of one run."""

    def __init__(self, ctx: RunContext, outputs: Mapping[str, Path], speech: SpeechBackend) -> None:
        self.ctx = ctx
        #: Task id -> its checked output (the dispatcher's record; the assembly reads it).
        self.outputs = outputs
        self.speech = speech
        self._speech_lock = asyncio.Lock()
        #: Keeps each narration in the artifact cache (the dispatcher sets it).
        self.reuse: Reuse | None = None

    async def run(self, task: Task) -> Path:
        """Run a speech or assembly task; its checked output."""
        if task.kind is TaskKind.speech:
            return await self.speak(task)
        return await self.assemble(task)

    async def speak(self, task: Task) -> Path:
        """Speak one shot's narration, fitted to the shot's length."""
        from videofactory.tts.fit import fit_narration

        ctx = self.ctx
        shot = ctx.shotlist.shot(task.shot_id or "")
        dest = ctx.run_dir / FOLDER[TaskKind.speech] / f"{shot.id}.wav"
        ctx.store.set_task_state(task.id, TaskState.running, worker="speech")
        ctx.emit(
            "task_started", f"speech {shot.id} ({self.speech.describe()})", task, worker="speech"
        )
        async with self._speech_lock:  # one request at a time per speech engine
            spoken = await asyncio.to_thread(self.speech.speak, shot.narration, dest)
        if spoken.note():
            ctx.emit("warning", f"shot {shot.id}: {spoken.note()}", task, worker="speech")
        fit = await asyncio.to_thread(fit_narration, dest, dest, shot.duration)
        if not fit.fits:
            ctx.emit("warning", fit.warning(shot.id), task, worker="speech")
        media = await asyncio.to_thread(check_media, dest, kind="audio", task=task.id)
        if self.reuse is not None and not spoken.fell_back:
            # Spoken by a fallback engine, it is not what the configured one would say: the
            # next run asks that engine again.
            await asyncio.to_thread(self.reuse.keep, task, dest, media_dict(media))
        ctx.store.add_artifact(ctx.run_id, task.id, "speech", dest, media_dict(media))
        ctx.emit(
            "task_done",
            f"speech {shot.id}: {media.duration_s:.1f} s"
            + (f" (sped up {fit.factor:.2f}x)" if fit.factor > 1 else ""),
            task,
            worker="speech",
            data={"engine": spoken.engine, "tempo": fit.factor},
        )
        return dest

    async def assemble(self, task: Task) -> Path:
        """Assemble the finished video from every shot's hero pass (else clip) and speech.

        A video made before (this run's, before ``resume --heroes``) is kept: the new one is
        the next version beside it.
        """
        from videofactory.assembly.render import assemble
        from videofactory.assembly.runfiles import next_version
        from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot

        ctx, sl = self.ctx, self.ctx.shotlist
        shots = []
        for shot in sl.shots:
            out = {k: self.outputs.get(str(TaskId(ctx.run_id, k, shot.id))) for k in TaskKind}
            clip = out[TaskKind.hero] or out[TaskKind.clip]
            assert clip is not None, f"shot {shot.id} has no clip"
            speech = out[TaskKind.speech]
            shots.append(TimelineShot(shot.id, clip, shot.duration, speech, shot.narration))
        timeline = Timeline(tuple(shots), OutputSpec(width=sl.width, height=sl.height, fps=sl.fps))
        final = next_version(ctx.run_dir)[1]
        ctx.store.set_task_state(task.id, TaskState.running, worker="ffmpeg")
        ctx.emit("task_started", "assembling with ffmpeg", task, worker="ffmpeg")
        loop = asyncio.get_running_loop()
        # A thread cannot be cancelled: when the run stops (cancel, Ctrl-C, SIGTERM) the next
        # progress report raises instead, which kills ffmpeg and removes its partial files.
        stop = threading.Event()

        def progress(fraction: float) -> None:
            if stop.is_set():
                raise RunCancelled(f"run {ctx.run_id} stopped during its assembly")
            loop.call_soon_threadsafe(
                lambda: ctx.emit(
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
        ctx.store.add_artifact(ctx.run_id, task.id, "final", final, media_dict(media))
        ctx.emit("task_done", f"final.mp4 {media.duration_s:.2f} s", task, worker="ffmpeg")
        return final
