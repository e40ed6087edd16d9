"""Speech: narration text to WAV, through a registry of backends (local Piper by default).

``build_speech(farm.speech)`` gives the engine a farm file asks for; ``speak`` on it returns a
``SpeechResult`` naming the engine that spoke. ``fit_narration`` speeds a narration up to fit
its shot (at most 1.25x) and reports what still does not fit.

The names below are imported from their modules on first use (``videofactory.lazy``): one
backend does not load the others' HTTP clients, nor PyAV, with it.
"""

from __future__ import annotations

import typing

from videofactory import lazy

if typing.TYPE_CHECKING:
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

#: Where each name lives.
_HOMES = {
    "BACKENDS": "base",
    "SpeechBackend": "base",
    "SpeechResult": "base",
    "get_backend": "base",
    "register": "base",
    "write_wav": "base",
    "build_speech": "build",
    "local_speech": "build",
    "ChatterboxSpeech": "chatterbox",
    "FallbackSpeech": "fallback",
    "MAX_TEMPO": "fit",
    "FitResult": "fit",
    "fit_narration": "fit",
    "EspeakSpeech": "local",
    "clean_text": "local",
    "OpenAISpeech": "openai_speech",
    "PiperSpeech": "piper",
    "ServerSpeech": "server",
    "server_lock": "server",
    "split_text": "text",
}

__getattr__, __dir__ = lazy.exports(globals(), _HOMES)
