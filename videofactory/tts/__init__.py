"""Speech: narration text to WAV, through a registry of backends (local eSpeak NG by default)."""

from __future__ import annotations

from videofactory.tts.base import BACKENDS, SpeechBackend, get_backend, register, write_wav
from videofactory.tts.local import EspeakSpeech, clean_text

__all__ = [
    "BACKENDS",
    "EspeakSpeech",
    "SpeechBackend",
    "clean_text",
    "get_backend",
    "register",
    "write_wav",
]
