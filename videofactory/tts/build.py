"""Build the speech engine a farm file asks for (``SpeechConfig`` -> ``SpeechBackend``).

With no ``speech.backend`` the narration is spoken by the best local voice installed: Piper's
``en_US-joe-medium`` (a main dependency), else eSpeak NG, with the reason kept on the engine
(``reason``) for the run's log. A named local engine (espeak, piper) is used as it is, and one
that is not installed is a ``ConfigError`` with the install hint. A speech server (chatterbox,
openai) retries each request itself and comes wrapped in ``FallbackSpeech``: when it fails for
good, the local ``fallback`` voice (by default the same best local voice) speaks the whole film.
docs/speech.md compares the local voices and says why Piper is the default.
"""

from __future__ import annotations

from typing import Any

from videofactory.config import SpeechConfig
from videofactory.constants import DEFAULT_SPEECH_URL
from videofactory.errors import ConfigError
from videofactory.tts.base import DEFAULT_REASON, SpeechBackend, get_backend
from videofactory.tts.fallback import FallbackSpeech
from videofactory.tts.piper import PiperSpeech

__all__ = ["build_speech", "default_local", "local_speech"]

#: Engines that need no server, best first.
LOCAL_BACKENDS = ("piper", "espeak")


def default_local() -> SpeechBackend:
    """The best local voice installed: Piper's bundled voice, else eSpeak NG (whose ``reason``
    then says why Piper is not speaking)."""
    piper = PiperSpeech()
    try:
        piper.check()
    except ConfigError as exc:
        espeak = _make("espeak", {"voice": "en-us"})
        espeak.reason = f"the default voice, Piper, cannot speak here ({exc})"
        return espeak
    piper.reason = DEFAULT_REASON
    return piper


def local_speech(
    name: str | None, *, voice: str | None = None, options: dict[str, Any] | None = None
) -> SpeechBackend:
    """A local engine by name (None: ``default_local()``), checked to be installed.

    Raises:
        ConfigError: unknown name, bad option, or piper not installed.
    """
    options = dict(options or {})
    if name is None:
        if voice or options:
            raise ConfigError(
                "speech.voice and speech.options need a speech.backend (piper or espeak) to "
                "say which engine they are for"
            )
        return default_local()
    if name == "espeak":
        kwargs: dict[str, Any] = {"voice": voice or "en-us"}
        if "words_per_minute" in options:
            kwargs["words_per_minute"] = options["words_per_minute"]
        return _make("espeak", kwargs)
    if name == "piper":
        backend = PiperSpeech(voice, length_scale=options.get("length_scale"))
        backend.check()
        return backend
    raise ConfigError(f"{name!r} is not a local speech engine (use one of {LOCAL_BACKENDS})")


def _make(name: str, kwargs: dict[str, Any]) -> SpeechBackend:
    try:
        return get_backend(name, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"speech backend {name!r}: bad option ({exc})") from exc


def build_speech(config: SpeechConfig, *, backoff_s: float = 1.0) -> SpeechBackend:
    """The engine ``config`` describes; a server engine comes wrapped in ``FallbackSpeech``.

    Raises:
        ConfigError: a setting does not fit the backend, or a local engine is not installed.
    """
    if config.backend is None or config.backend in LOCAL_BACKENDS:
        return local_speech(config.backend, voice=config.voice, options=config.options)
    kwargs: dict[str, Any] = {
        "url": config.url or DEFAULT_SPEECH_URL,
        "voice": config.voice,
        "options": config.options,
        "timeout_s": config.timeout_s,
        "max_chars": config.max_chars,
        "api_key": config.api_key(),
        "retries": config.retries,
        "backoff_s": backoff_s,
    }
    if config.backend == "openai":
        kwargs.update(model=config.model, speed=config.speed)
    elif config.model:
        raise ConfigError(
            f"speech.model is for OpenAI-compatible servers; backend {config.backend!r} has none "
            "(put engine settings in speech.options)"
        )
    primary = _make(config.backend, kwargs)
    fallback = None if config.fallback == "none" else local_speech(config.fallback)
    return FallbackSpeech(primary, fallback)
