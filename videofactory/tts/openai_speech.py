"""OpenAI-compatible speech servers: ``POST /v1/audio/speech``.

Kokoro-FastAPI (on :8880 by default), Chatterbox-TTS-Server, openedai-speech and OpenAI itself
take ``{model, input, voice, response_format, speed}`` and answer with the audio bytes. WAV is
asked for (no lossy round trip); any format the server sends anyway is decoded. The farm's
``options`` are added to the body (e.g. Kokoro's ``lang_code``).
"""

from __future__ import annotations

from typing import Any

from videofactory.constants import DEFAULT_SPEECH_URL
from videofactory.tts.base import register
from videofactory.tts.server import ServerSpeech

__all__ = ["OpenAISpeech"]

#: Accepted by OpenAI and mapped by Kokoro-FastAPI to its own model.
DEFAULT_MODEL = "tts-1"
#: An OpenAI voice name; Kokoro-FastAPI maps it too. Set the server's own (af_heart, ...).
DEFAULT_VOICE = "alloy"


@register
class OpenAISpeech(ServerSpeech):
    """An OpenAI-compatible ``/v1/audio/speech`` endpoint."""

    BACKEND_NAME = "openai"
    SERVER_KIND = "OpenAI-compatible speech server"

    def __init__(
        self,
        url: str = DEFAULT_SPEECH_URL,
        *,
        model: str | None = None,
        speed: float = 1.0,
        voice: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, voice=voice or DEFAULT_VOICE, **kwargs)
        self.model = model or DEFAULT_MODEL
        self.speed = speed

    def describe(self) -> str:
        """Server, URL, model and voice."""
        return f"{super().describe()}, model {self.model}"

    def _request(self, piece: str) -> tuple[str, dict[str, Any]]:
        """``/v1/audio/speech`` (or ``/audio/speech`` when the url already ends in /v1)."""
        path = "/audio/speech" if self.url.endswith("/v1") else "/v1/audio/speech"
        body: dict[str, Any] = {
            **self.options,
            "model": self.model,
            "input": piece,
            "voice": self.voice,
            "response_format": "wav",
            "speed": self.speed,
        }
        return path, body
