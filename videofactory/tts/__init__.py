"""Speech: narration text to WAV, through a registry of backends (local eSpeak NG by default).

``build_speech(farm.speech)`` gives the engine a farm file asks for; ``speak`` on it returns a
``SpeechResult`` naming the engine that spoke. ``fit_narration`` speeds a narration up to fit
its shot (at most 1.25x) and reports what still does not fit.
"""

from __future__ import annotations

from videofactory.tts.base import (
    BACKENDS,
    SpeechBackend,
    SpeechResult,
    get_backend,
    register,
    write_wav,
)
from videofactory.tts.build import build_speech, local_speech
from videofactory.tts.chatterbox import ChatterboxSpeech
from videofactory.tts.fallback import FallbackSpeech
from videofactory.tts.fit import MAX_TEMPO, FitResult, fit_narration
from videofactory.tts.local import EspeakSpeech, clean_text
from videofactory.tts.openai_speech import OpenAISpeech
from videofactory.tts.piper import PiperSpeech
from videofactory.tts.server import ServerSpeech, server_lock
from videofactory.tts.text import split_text

__all__ = [
    "BACKENDS",
    "MAX_TEMPO",
    "ChatterboxSpeech",
    "EspeakSpeech",
    "FallbackSpeech",
    "FitResult",
    "OpenAISpeech",
    "PiperSpeech",
    "ServerSpeech",
    "SpeechBackend",
    "SpeechResult",
    "build_speech",
    "clean_text",
    "fit_narration",
    "get_backend",
    "local_speech",
    "register",
    "server_lock",
    "split_text",
    "write_wav",
]
