"""A speech server for a film, and one local voice for the whole film when the server fails.

``FallbackSpeech(primary, fallback)`` speaks with the primary engine (a speech server, which
retries each request itself: ``ServerSpeech.retries``) until it fails for good; from then on it
speaks with the fallback (the local default voice, Piper or eSpeak NG) and never goes back to
the server: a film whose shots 1-6 came from Chatterbox and shot 7 from eSpeak NG would have
two voices. That switch is ``settle``: the run then speaks the shots the server spoke again with
the fallback (``farm/voice.py``), and a resumed run settles again on what its log says.

``speak`` returns a ``SpeechResult`` that says which engine spoke and what failed before, so
that the run's log and report can say which voice spoke the film and why.
"""

from __future__ import annotations

import threading
from pathlib import Path

from videofactory.errors import FactoryError, SpeechError
from videofactory.tts.base import SpeechBackend, SpeechResult

__all__ = ["FallbackSpeech"]


class FallbackSpeech(SpeechBackend):
    """A primary engine, and a fallback that speaks everything once the primary failed."""

    BACKEND_NAME = "fallback"  # not registered: it is built around two configured engines

    def __init__(self, primary: SpeechBackend, fallback: SpeechBackend | None) -> None:
        self.primary = primary
        self.fallback = fallback
        self._lock = threading.Lock()
        self._settled = ""

    @property
    def settled(self) -> str:
        """Why the fallback speaks from now on ("" while the primary does)."""
        with self._lock:
            return self._settled

    @property
    def speaking(self) -> SpeechBackend:
        """The engine the next narration goes to."""
        if self.fallback is not None and self.settled:
            return self.fallback
        return self.primary

    def settle(self, why: str) -> bool:
        """Speak with the fallback from now on, because of ``why``; True if this changed it.

        Raises:
            SpeechError: there is no fallback to settle on.
        """
        if self.fallback is None:
            raise SpeechError(f"{self.primary.describe()} failed and no fallback is configured "
                              f"(speech.fallback): {why}")  # fmt: skip
        with self._lock:
            if self._settled:
                return False
            self._settled = why
            return True

    def describe(self) -> str:
        """The primary, and what speaks the film when it fails."""
        retries = getattr(self.primary, "retries", 0)
        if self.fallback is None:
            return f"{self.primary.describe()} ({retries} retries a request, no fallback)"
        return (
            f"{self.primary.describe()} ({retries} retries a request; then the whole film: "
            f"{self.fallback.describe()})"
        )

    def voice_id(self) -> str:
        """The engine that speaks now (the primary, or the fallback once settled)."""
        return self.speaking.describe()

    def synthesize(self, text: str, out_path: Path) -> Path:
        """Speak ``text`` into ``out_path`` with the primary, else the fallback."""
        return self.speak(text, out_path).path

    def speak(self, text: str, out_path: Path) -> SpeechResult:
        """Speak ``text``; the result names the engine that spoke and the errors before.

        Raises:
            SpeechError: the primary failed and there is no fallback, or the fallback failed
                too (the message has both reasons).
        """
        why = self.settled
        if not why:
            try:
                return self.primary.speak(text, out_path)
            except FactoryError as exc:
                errors = getattr(exc, "history", None) or (str(exc),)
                attempts = getattr(exc, "requests", 1)
                if self.fallback is None:
                    raise SpeechError(
                        f"{self.primary.describe()} failed after {attempts} request(s) and no "
                        f"fallback is configured (speech.fallback): {exc}"
                    ) from exc
                self.settle(f"{exc} (gave up after {attempts} request(s))")
                result = self._fall_back(text, out_path, str(exc))
                return SpeechResult(
                    path=result.path,
                    engine=result.engine,
                    description=result.description,
                    fell_back=True,
                    attempts=attempts,
                    errors=tuple(errors),
                )
        result = self._fall_back(text, out_path, why)
        return SpeechResult(
            path=result.path,
            engine=result.engine,
            description=result.description,
            fell_back=True,
            attempts=0,
        )

    def _fall_back(self, text: str, out_path: Path, why: str) -> SpeechResult:
        assert self.fallback is not None
        try:
            return self.fallback.speak(text, out_path)
        except FactoryError as exc:
            raise SpeechError(
                f"{self.primary.describe()} failed ({why}) and so did the fallback "
                f"{self.fallback.describe()}: {exc}"
            ) from exc

    def close(self) -> None:
        """Close both engines."""
        self.primary.close()
        if self.fallback is not None:
            self.fallback.close()
