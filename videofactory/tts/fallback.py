"""Retry a speech server, then let the local engine speak: a run always gets its narration.

``FallbackSpeech(primary, fallback, retries)`` tries the primary engine (a speech server) up to
``1 + retries`` times with exponential backoff, then speaks with the fallback (eSpeak NG or
Piper, both local). ``speak`` returns a ``SpeechResult`` that says which engine spoke and what
failed before, so that the run report can say so. A server that failed ``trip_after``
narrations in a row is skipped for ``cooldown_s`` (then tried again): a dead server should not
cost every remaining shot its retries and timeouts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from videofactory.errors import FactoryError, SpeechError
from videofactory.tts.base import SpeechBackend, SpeechResult

__all__ = ["FallbackSpeech"]


class FallbackSpeech(SpeechBackend):
    """A primary engine with retries and a local fallback; ``speak`` says which one spoke."""

    BACKEND_NAME = "fallback"  # not registered: it is built around two configured engines

    def __init__(
        self,
        primary: SpeechBackend,
        fallback: SpeechBackend | None,
        retries: int = 2,
        *,
        backoff_s: float = 1.0,
        trip_after: int = 2,
        cooldown_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.primary = primary
        self.fallback = fallback
        self.retries = retries
        self.backoff_s = backoff_s
        self.trip_after = trip_after
        self.cooldown_s = cooldown_s
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._failed_in_row = 0
        self._skip_until = 0.0

    def describe(self) -> str:
        """The primary, and what happens when it fails."""
        if self.fallback is None:
            return f"{self.primary.describe()} ({self.retries} retries, no fallback)"
        return (
            f"{self.primary.describe()} (after {self.retries} retries: {self.fallback.describe()})"
        )

    def synthesize(self, text: str, out_path: Path) -> Path:
        """Speak ``text`` into ``out_path`` with the primary, else the fallback."""
        return self.speak(text, out_path).path

    def speak(self, text: str, out_path: Path) -> SpeechResult:
        """Speak ``text``; the result names the engine that spoke and the errors before.

        Raises:
            SpeechError: the primary failed and there is no fallback, or the fallback failed
                too (the message has both reasons).
        """
        errors: list[str] = []
        attempts = 0
        skip = self._skipping()
        if skip:
            errors.append(
                f"{self.primary.describe()} skipped: it failed {self._failed_in_row} narrations "
                f"in a row (tried again after {self.cooldown_s:g} s)"
            )
        else:
            for attempt in range(self.retries + 1):
                attempts += 1
                try:
                    path = self.primary.synthesize(text, out_path)
                except FactoryError as exc:
                    errors.append(str(exc))
                    if not exc.retryable or attempt == self.retries:
                        break
                    self._sleep(self.backoff_s * 2**attempt)
                else:
                    self._record(ok=True)
                    return SpeechResult(
                        path=Path(path),
                        engine=self.primary.BACKEND_NAME,
                        description=self.primary.describe(),
                        attempts=attempts,
                        errors=tuple(errors),
                    )
            self._record(ok=False)
        if self.fallback is None:
            raise SpeechError(
                f"{self.primary.describe()} failed after {attempts} attempt(s) and no fallback "
                f"is configured (speech.fallback): {errors[-1]}"
            )
        try:
            path = self.fallback.synthesize(text, out_path)
        except FactoryError as exc:
            raise SpeechError(
                f"{self.primary.describe()} failed ({errors[-1]}) and so did the fallback "
                f"{self.fallback.describe()}: {exc}"
            ) from exc
        return SpeechResult(
            path=Path(path),
            engine=self.fallback.BACKEND_NAME,
            description=self.fallback.describe(),
            fell_back=True,
            attempts=attempts,
            errors=tuple(errors),
        )

    def close(self) -> None:
        """Close both engines."""
        self.primary.close()
        if self.fallback is not None:
            self.fallback.close()

    def _skipping(self) -> bool:
        with self._lock:
            return self._failed_in_row >= self.trip_after and self._clock() < self._skip_until

    def _record(self, *, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failed_in_row = 0
                return
            self._failed_in_row += 1
            if self._failed_in_row >= self.trip_after:
                self._skip_until = self._clock() + self.cooldown_s
