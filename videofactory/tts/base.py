"""The speech backend interface and the registry of backends by name.

A backend turns one narration text into one WAV file. ``synthesize`` is synchronous (callers
run it in a thread: ``await asyncio.to_thread(backend.synthesize, text, path)``), writes the
file atomically and returns its path. ``speak`` does the same and says which engine spoke
(a ``FallbackSpeech`` may have fallen back to its local engine). Backends register under
their ``BACKEND_NAME``::

    piper        local neural voice (piper-tts and a pinned voice package): the default
    espeak       local formant voice (libespeak-ng from espeakng-loader), when Piper is not there
    chatterbox   the seed's Chatterbox server, POST /generate
    openai       OpenAI-compatible /v1/audio/speech (Kokoro-FastAPI, Chatterbox-TTS-Server)
"""

from __future__ import annotations

import importlib
import os
import secrets
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from videofactory.errors import ConfigError, SpeechError

__all__ = ["BACKENDS", "SpeechBackend", "SpeechResult", "get_backend", "register", "write_wav"]


@dataclass(frozen=True)
class SpeechResult:
    """A spoken narration: the WAV, the engine that spoke it and what failed before."""

    path: Path
    #: ``BACKEND_NAME`` of the engine that spoke (e.g. "espeak" after a fallback).
    engine: str
    #: One line for people about that engine (``describe()``).
    description: str
    #: True when the configured engine failed and the fallback spoke instead.
    fell_back: bool = False
    #: Requests sent to the configured engine (a server's pieces and their retries; 0 when it
    #: was not asked: the film had already settled on the fallback).
    attempts: int = 1
    #: The errors met on the way, oldest first (empty when the first try worked).
    errors: tuple[str, ...] = field(default_factory=tuple)

    def note(self) -> str:
        """One line for a run report when this narration found the configured engine failing;
        empty when nothing unusual happened (or the film had already settled on the fallback).
        """
        if not self.fell_back or not self.attempts:
            return ""
        last = self.errors[-1] if self.errors else "unknown error"
        return (
            f"spoken by {self.engine} (fallback) after {self.attempts} request(s) to the "
            f"configured engine: {last}"
        )


class SpeechBackend(ABC):
    """Turns narration text into a WAV file."""

    #: The name this backend is registered and configured under.
    BACKEND_NAME: str = ""
    #: Why this engine speaks, for the run's log, when the farm file did not name it: the
    #: default voice, or eSpeak NG standing in for a default Piper that cannot speak here.
    reason: str = ""

    @abstractmethod
    def synthesize(self, text: str, out_path: Path) -> Path:
        """Speak ``text`` into a WAV at ``out_path`` and return the path.

        Raises:
            SpeechError: the engine could not speak it.
        """

    @abstractmethod
    def describe(self) -> str:
        """One line for people: engine, version, voice, where it runs."""

    def voice_id(self) -> str:
        """The voice the next narration is spoken with, as ``describe`` names it: narrations
        spoken with equal ``voice_id()`` sound alike (a film keeps one)."""
        return self.describe()

    def speak(self, text: str, out_path: Path) -> SpeechResult:
        """Like ``synthesize``, and say which engine spoke.

        Raises:
            SpeechError: the engine could not speak it.
        """
        path = self.synthesize(text, out_path)
        return SpeechResult(path=Path(path), engine=self.BACKEND_NAME, description=self.describe())

    def close(self) -> None:  # noqa: B027 - an optional hook: most engines hold nothing
        """Release what the backend holds (connections, models); it may be used again after."""


#: Why the default local voice speaks, when nothing chose another (``SpeechBackend.reason``).
DEFAULT_REASON = "the default local voice"

#: Backend classes by ``BACKEND_NAME``.
BACKENDS: dict[str, type[SpeechBackend]] = {}
#: The modules of the built-in backends: each registers its engine when imported, which
#: ``get_backend`` makes sure of (the package imports none of them up front: they would bring
#: PyAV and an HTTP client to every importer of ``videofactory.tts``).
BUILTIN_MODULES = ("local", "piper", "chatterbox", "openai_speech")

B = TypeVar("B", bound=type[SpeechBackend])


def register(cls: B) -> B:
    """Class decorator: add a backend to ``BACKENDS`` under its ``BACKEND_NAME``."""
    if not cls.BACKEND_NAME:
        raise TypeError(f"{cls.__name__} has no BACKEND_NAME")
    BACKENDS[cls.BACKEND_NAME] = cls
    return cls


def get_backend(name: str, **options: Any) -> SpeechBackend:
    """Make the backend registered as ``name`` with ``options``.

    Raises:
        ConfigError: no backend has that name.
    """
    for module in BUILTIN_MODULES:
        importlib.import_module(f"videofactory.tts.{module}")
    try:
        cls = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS)) or "none"
        raise ConfigError(f"unknown speech backend {name!r} (known: {known})") from None
    return cls(**options)


def write_wav(path: Path, pcm: bytes, sample_rate: int, channels: int = 1) -> Path:
    """Write 16-bit PCM to ``path`` atomically (temporary name beside it, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm)
        os.replace(tmp, path)
    except OSError as exc:
        raise SpeechError(f"cannot write speech to {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path
