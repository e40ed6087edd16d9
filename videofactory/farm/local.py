"""The tasks of a run that run here, not on a GPU: each shot's narration (the speech engine, one
request at a time, in one voice for the whole film: farm/voice.py) and the assembly of the
finished video (one FFmpeg run)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.errors import RunCancelled
from videofactory.farm.attempt import media_dict
from videofactory.farm.context import RunContext
from videofactory.farm.dag import Task
from videofactory.farm.picking import WHY, film_takes
from videofactory.farm.voice import FilmVoice
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
        #: The film's one voice: speaks each shot, and again when the voice changes.
        self.voice = FilmVoice(ctx, speech)
        self._speech_lock = asyncio.Lock()
        #: Keeps each narration in the artifact cache (the dispatcher sets it).
        self.reuse: Reuse | None = None

    async def run(self, task: Task) -> Path:
        """Run a speech or assembly task; its checked output."""
        if task.kind is TaskKind.speech:
            return await self.speak(task)
        return await self.assemble(task)

    async def speak(self, task: Task) -> Path:
        """Speak one shot's narration, fitted to the shot's length, in the film's one voice
        (``FilmVoice``: a voice that changes mid-film speaks the earlier shots again)."""
        ctx = self.ctx
        shot = ctx.shotlist.shot(task.shot_id or "")
        async with self._speech_lock:  # one narration at a time: it runs once it has the lock
            ctx.store.set_task_state(task.id, TaskState.running, worker="speech")
            ctx.emit(
                "task_started",
                f"speech {shot.id} ({self.speech.describe()})",
                task,
                worker="speech",
            )
            spoken = await self.voice.speak(task, shot)
        media, fit = spoken.media, spoken.fit
        if self.reuse is not None and not spoken.result.fell_back:
            # Spoken by a fallback engine, it is not what the configured one would say: the
            # next run asks that engine again. The record names the voice (``FilmVoice`` reads
            # it back when it reuses the file).
            record = {
                **media_dict(media),
                "engine": spoken.result.engine,
                "voice": spoken.result.description,
            }
            await asyncio.to_thread(self.reuse.keep, task, Path(spoken.result.path), record)
        ctx.emit(
            "task_done",
            f"speech {shot.id}: {media.duration_s:.1f} s by {spoken.result.engine}"
            + (f" (sped up {fit.factor:.2f}x)" if fit.factor > 1 else ""),
            task,
            worker="speech",
            data={"engine": spoken.result.engine, "voice": spoken.result.description,
                  "tempo": fit.factor},
        )  # fmt: skip
        return Path(spoken.result.path)

    async def assemble(self, task: Task) -> Path:
        """Assemble the finished video from every shot's hero pass (else clip) and speech.

        A preview assembles its animatic instead, ``preview.mp4``: every shot's keyframe held
        for the shot and moved as its camera says (``assembly/animatic.py``), with the same
        narration, music, subtitles and transitions as the film.

        A video made before (this run's, before ``resume --heroes``) is kept: the new one is
        the next version beside it.
        """
        from videofactory.assembly.render import assemble
        from videofactory.assembly.runfiles import PREVIEW_STEM, next_version
        from videofactory.assembly.soundtrack import music_for
        from videofactory.assembly.timeline import (
            FitMode,
            OutputSpec,
            Timeline,
            TimelineShot,
            Transition,
        )

        ctx, sl = self.ctx, self.ctx.shotlist
        async with self._speech_lock:  # a run stopped mid-way may have left two voices
            await self.voice.unify()
        settings = ctx.store.run(ctx.run_id)["settings"]
        preview = bool(settings.get("preview"))
        # A shot with takes uses the picked one, else the best scored (its contact sheet is
        # written beside): ``farm/picking.py``. A preview has no clips to choose from.
        takes = {}
        if not preview:
            takes = await asyncio.to_thread(
                film_takes, ctx.store, ctx.run_id, ctx.run_dir, sl, self.outputs
            )
        if takes:
            used = {shot: t["take"] for shot, t in takes.items()}
            ctx.emit(
                "takes_used",
                "the film uses "
                + ", ".join(
                    f"{shot} take {t['take']} ({WHY[t['why']]})" for shot, t in takes.items()
                ),
                task,
                data={"takes": used},
            )
        shots = []
        for shot in sl.shots:
            out = {k: self.outputs.get(str(TaskId(ctx.run_id, k, shot.id))) for k in TaskKind}
            if shot.id in takes:
                out[TaskKind.clip] = self.outputs.get(takes[shot.id]["clip"])
            if preview:  # the keyframe, seen through the shot's camera
                picture, move = out[TaskKind.keyframe], shot.camera.value
            else:
                picture, move = out[TaskKind.hero] or out[TaskKind.clip], None
            assert picture is not None, f"shot {shot.id} has no {'keyframe' if preview else 'clip'}"
            speech = out[TaskKind.speech]
            # each shot comes in as the shot list says (cut, or a dissolve where time passes)
            into = Transition(shot.transition)
            shots.append(TimelineShot(shot.id, picture, shot.duration, speech, shot.narration,
                                      into, move=move))  # fmt: skip
        # A clip that came back in another shape (a user's workflow that ignores the size) is
        # cropped to follow its subject rather than letterboxed; a keyframe is filled from
        # its middle (the camera moves over it).
        fit: FitMode = "crop" if preview else "follow"
        output = OutputSpec(width=sl.width, height=sl.height, fps=sl.fps, fit=fit)
        # The run's --music (recorded with it): the generated bed, none, or the user's file.
        setting = settings.get("music")
        music, sound = await asyncio.to_thread(
            music_for, setting, sl.model_dump(mode="json"), ctx.run_dir, output.audio_rate
        )
        timeline = Timeline(tuple(shots), output, music=music)
        final = next_version(ctx.run_dir, PREVIEW_STEM if preview else "final")[1]
        ctx.store.set_task_state(task.id, TaskState.running, worker="ffmpeg")
        ctx.emit("task_started", f"assembling with ffmpeg; {sound}", task, worker="ffmpeg")
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
        ctx.emit("task_done", f"{final.name} {media.duration_s:.2f} s", task, worker="ffmpeg")
        return final
