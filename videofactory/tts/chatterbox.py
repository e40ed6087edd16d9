"""The seed's speech server: Chatterbox TTS, ``POST /generate`` (on :8880 in the seed).

The request is JSON ``{"text": ...}`` plus the voice options the farm file gives
(``exaggeration``, ``cfg_weight``, ``temperature``, a reference voice, ...), passed through as
they are; the answer is the audio itself, WAV or MP3. Text longer than 250 characters is split
at sentence boundaries first (Chatterbox garbles longer text) and the pieces are joined.
"""

from __future__ import annotations

from typing import Any

from videofactory.constants import DEFAULT_SPEECH_URL
from videofactory.tts.base import register
from videofactory.tts.server import ServerSpeech

__all__ = ["ChatterboxSpeech"]


@register
class ChatterboxSpeech(ServerSpeech):
    """Chatterbox TTS over HTTP: ``POST {url}/generate`` with ``{"text": ..., **options}``."""

    BACKEND_NAME = "chatterbox"
    SERVER_KIND = "Chatterbox server"

    def __init__(self, url: str = DEFAULT_SPEECH_URL, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)

    def _request(self, piece: str) -> tuple[str, dict[str, Any]]:
        """``/generate`` with the text, the voice (when set) and the farm's options."""
        body: dict[str, Any] = {**self.options, "text": piece}
        if self.voice:
            body.setdefault("voice", self.voice)
        return "/generate", body
