"""One voice for the whole film: which engine speaks a run's narration, kept across resumes.

Narration is spoken shot by shot (a speech task each), but a film must not change voice between
shots. Every narration is recorded with the voice that spoke it (its speech artifact's
``voice``). When the voice changes mid-film, because the speech server failed for good and
``FallbackSpeech`` settled on its local fallback, the shots spoken before in the server's voice
are spoken again in the fallback's before the task that met the failure ends: the assembly
waits for every speech task, so it never sees two voices.

The decision is in the run's log: a ``speech_voice`` event each time the film's voice is set
(the engine, and why: the farm file's choice, Piper missing, the server's failure), a
``speech_respoken`` event for each shot spoken again. A resumed run reads the last
``speech_voice`` and settles on the fallback again rather than go back to a server that may
answer now, and ``unify`` runs again before the assembly, which mends a run stopped while it
was speaking the shots again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videofactory.tts.base import DEFAULT_REASON, SpeechBackend, SpeechResult
from videofactory.tts.fallback import FallbackSpeech
from videofactory.vocabulary import TaskId, TaskKind

if TYPE_CHECKING:
    # Imported where used: the run report reads the log with ``film_voice_of`` alone.
    from videofactory.assembly.probe import MediaInfo
    from videofactory.farm.context import RunContext
    from videofactory.farm.dag import Task
    from videofactory.shotlist import Shot
    from videofactory.tts.fit import FitResult

__all__ = ["RESPOKEN_EVENT", "VOICE_EVENT", "FilmVoice", "Spoken", "film_voice_of"]

#: The film's voice was set (data: engine, voice, fell_back, why).
VOICE_EVENT = "speech_voice"
#: A shot's narration was spoken again in the film's voice (data: engine, voice, was).
RESPOKEN_EVENT = "speech_respoken"


@dataclass(frozen=True)
class Spoken:
    """One shot's narration, spoken, fitted to its shot, checked and recorded."""

    result: SpeechResult
    fit: FitResult
    media: MediaInfo


def film_voice_of(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the last ``speech_voice`` event of a run's log says (engine, voice, fell_back,
    why, and the event's message), or None when the run spoke nothing yet."""
    for event in reversed(events):
        if event["kind"] == VOICE_EVENT:
            data = (event.get("data") or {}).get("data") or {}
            return {**data, "message": event["message"]}
    return None


class FilmVoice:
    """Speaks a run's narration shot by shot, in one voice for the whole film."""

    def __init__(self, ctx: RunContext, speech: SpeechBackend) -> None:
        self.ctx = ctx
        self.speech = speech
        #: Shot id -> the voice its narration file was spoken with (None until read from the
        #: store: a resumed run's earlier narration counts too).
        self._voices: dict[str, str] | None = None
        #: The voice the log last named for this film.
        self._told = ""

    # -- the run's records --------------------------------------------------------------------

    def _start(self) -> dict[str, str]:
        """Read what the run recorded: each shot's voice, the voice the log last named, and
        whether the film already settled on the fallback (a resume)."""
        if self._voices is not None:
            return self._voices
        store, run_id = self.ctx.store, self.ctx.run_id
        voices: dict[str, str] = {}
        for art in store.artifacts(run_id):  # oldest first: the newest of each shot wins
            tid = TaskId.of(art["task_id"])
            if art["kind"] == "speech" and tid is not None and tid.shot_id:
                voice = art["media"].get("voice")
                if voice:
                    voices[tid.shot_id] = str(voice)
                else:  # recorded before voices were: unknown, left as it is
                    voices.pop(tid.shot_id, None)
        self._voices = voices
        before = film_voice_of(store.events(run_id))
        if before is not None:
            self._told = str(before.get("voice") or "")
            speech = self.speech
            if before.get("fell_back") and isinstance(speech, FallbackSpeech):
                if speech.fallback is not None:
                    why = before.get("why") or "the speech server failed"
                    speech.settle(f"an earlier run of this film settled on it: {why}")
        return voices

    def _announce(self) -> None:
        """A ``speech_voice`` event when the film's voice is not the one the log last named."""
        speech = self.speech
        voice = speech.voice_id()
        if voice == self._told:
            return
        self._told = voice
        fell_back = False
        if isinstance(speech, FallbackSpeech):
            engine = speech.speaking
            fell_back = bool(speech.settled)
            why = speech.settled or "the farm file's speech server"
            if fell_back and engine.reason not in ("", DEFAULT_REASON):
                why = f"{why}; {engine.reason}"  # eSpeak NG standing in for Piper
        else:
            engine = speech
            why = speech.reason or "the farm file's speech engine"
        message = f"the film is spoken by {voice}" + (
            f", for every shot, as the fallback: {why}" if fell_back else f" ({why})"
        )
        self.ctx.emit(
            VOICE_EVENT,
            message,
            worker="speech",
            data={"engine": engine.BACKEND_NAME, "voice": voice, "fell_back": fell_back,
                  "why": why},
        )  # fmt: skip

    # -- speaking -----------------------------------------------------------------------------

    async def speak(self, task: Task, shot: Shot) -> Spoken:
        """Speak one shot's narration; if that changed the film's voice, speak every shot
        spoken before in another voice again. Call with the run's speech lock held."""
        self._start()
        self._announce()
        before = self.speech.voice_id()
        spoken = await self._render(task, shot)
        result = spoken.result
        if result.note():
            self.ctx.emit("warning", f"shot {shot.id}: {result.note()}", task, worker="speech")
        elif result.errors:
            self.ctx.emit(
                "warning",
                f"shot {shot.id}: {len(result.errors)} of {result.attempts} request(s) to "
                f"{result.description} failed and were retried; last: {result.errors[-1]}",
                task,
                worker="speech",
            )
        if self.speech.voice_id() != before:
            self._announce()
        await self.unify()
        return spoken

    async def unify(self) -> list[str]:
        """Speak again, in the film's voice, every shot whose narration another voice spoke;
        the ids of those shots. Call with the run's speech lock held."""
        from videofactory.farm.dag import Task

        voices = self._start()
        again: list[str] = []
        order = {s.id: i for i, s in enumerate(self.ctx.shotlist.shots)}
        for _ in range(3):  # the voice changes at most once in a run (to the fallback)
            target = self.speech.voice_id()
            stale = sorted((s for s, v in voices.items() if v != target and s in order),
                           key=order.__getitem__)  # fmt: skip
            if not stale:
                return again
            self._announce()
            for shot_id in stale:
                was = voices[shot_id]
                shot = self.ctx.shotlist.shot(shot_id)
                task = Task(str(TaskId(self.ctx.run_id, TaskKind.speech, shot_id)),
                            TaskKind.speech, shot_id, (), 0.0, 0.0)  # fmt: skip
                spoken = await self._render(task, shot)
                again.append(shot_id)
                self.ctx.emit(
                    RESPOKEN_EVENT,
                    f"speech {shot_id} spoken again by {spoken.result.description} so that the "
                    f"film has one voice (it was {was})",
                    task,
                    worker="speech",
                    data={"engine": spoken.result.engine, "voice": spoken.result.description,
                          "was": was},
                )  # fmt: skip
                if self.speech.voice_id() != target:  # the server failed on the way: again
                    self._announce()
                    break
        raise AssertionError("the film's voice kept changing")  # pragma: no cover

    async def _render(self, task: Task, shot: Shot) -> Spoken:
        """Speak, fit to the shot, check and record one shot's narration file."""
        from videofactory.assembly.probe import check_media
        from videofactory.farm.attempt import FOLDER, media_dict
        from videofactory.tts.fit import fit_narration

        ctx = self.ctx
        dest = ctx.run_dir / FOLDER[TaskKind.speech] / f"{shot.id}.wav"
        result = await asyncio.to_thread(self.speech.speak, shot.narration, Path(dest))
        fit = await asyncio.to_thread(fit_narration, dest, dest, shot.duration)
        if not fit.fits:
            ctx.emit("warning", fit.warning(shot.id), task, worker="speech")
        media = await asyncio.to_thread(check_media, dest, kind="audio", task=task.id)
        record = {**media_dict(media), "engine": result.engine, "voice": result.description}
        ctx.store.add_artifact(ctx.run_id, task.id, "speech", dest, record)
        assert self._voices is not None
        self._voices[shot.id] = result.description
        return Spoken(result, fit, media)
