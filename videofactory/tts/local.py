"""The local speech engine: eSpeak NG, needing no server and nothing beyond ``pip install``.

It speaks through ``libespeak-ng`` from the ``espeakng-loader`` wheel via ctypes, and falls
back to a system ``espeak-ng`` binary when that library cannot be loaded. The voice is robotic
but clear and immediate; it is the default so that a run always has narration.

Text is cleaned before speaking: emoji, pictographs and control characters are dropped (eSpeak
would read their Unicode names or choke on them); quotes, ``$()``, backticks and the like are
passed as plain text (never to a shell). Text with nothing speakable left (empty, only emoji or
punctuation) gives a short silence WAV rather than an error: a shot with nothing to say should
not fail a run, and the silence keeps the narration file the scheduler expects.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from videofactory.errors import SpeechError
from videofactory.tts.base import SpeechBackend, register, write_wav

__all__ = ["SILENCE_S", "EspeakSpeech", "clean_text"]

#: Length of the WAV written for text with nothing speakable in it.
SILENCE_S = 0.25
#: Rate of the silence WAV and of the binary fallback's expected output.
_FALLBACK_RATE = 22050
#: Seconds the espeak-ng binary may take; it speaks far faster than real time.
_BINARY_TIMEOUT_S = 120.0

# espeak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data folder calls exit() in the library
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

# libespeak-ng keeps one global state (voice, rate, callback): every use holds this lock.
_lock = threading.Lock()


@dataclass
class _Library:
    """The loaded library, its sample rate and the callback that collects audio."""

    lib: ctypes.CDLL
    sample_rate: int
    version: str
    callback: object  # the ctypes callback; kept referenced so it is never collected
    chunks: list[bytes]


_library: _Library | None = None
_library_error: str | None = None


def _load_library() -> _Library:
    """Load and initialise libespeak-ng once per process (call with ``_lock`` held)."""
    global _library, _library_error
    if _library is not None:
        return _library
    if _library_error is not None:
        raise SpeechError(_library_error)
    try:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = os.path.dirname(espeakng_loader.get_data_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise OSError(f"espeak_Initialize returned {rate} (data folder {data_parent})")
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        version = (lib.espeak_Info(None) or b"?").decode("utf-8", "replace")
        chunks: list[bytes] = []

        def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: object) -> int:
            if wav and count > 0:
                chunks.append(ctypes.string_at(wav, count * 2))
            return 0  # 0: go on

        callback = _SynthCallback(collect)
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback(callback)
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
    except (ImportError, OSError, AttributeError) as exc:
        _library_error = f"libespeak-ng unavailable: {exc}"
        raise SpeechError(_library_error) from exc
    _library = _Library(lib, rate, version, callback, chunks)
    return _library


def clean_text(text: str) -> str:
    """Text as eSpeak should read it: no emoji, symbols or control characters; one-line."""
    text = unicodedata.normalize("NFKC", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\t\n\r\f\v":
            kept.append(" ")
        elif category[0] == "C" or category in ("So", "Sk", "Co"):
            continue  # controls, format (ZWJ), surrogates, emoji and other pictographs
        elif "\ufe00" <= char <= "\ufe0f":
            continue  # variation selectors that turn characters into emoji
        else:
            kept.append(char)
    return re.sub(r"\s+", " ", "".join(kept)).strip()


def _speakable(text: str) -> bool:
    """True when the text has a letter or digit: punctuation alone is silence."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


@register
class EspeakSpeech(SpeechBackend):
    """Local eSpeak NG speech: libespeak-ng via ctypes, else the ``espeak-ng`` binary."""

    BACKEND_NAME = "espeak"

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", voice):
            raise SpeechError(f"bad espeak voice name {voice!r}")
        if not 80 <= words_per_minute <= 450:  # eSpeak NG's supported range
            raise SpeechError(
                f"espeak rate must be 80..450 words per minute, got {words_per_minute}"
            )
        self.voice = voice
        self.words_per_minute = words_per_minute

    def describe(self) -> str:
        """Engine, version, voice and rate."""
        with _lock:
            try:
                lib = _load_library()
            except SpeechError:
                binary = shutil.which("espeak-ng") or "none found"
                where = f"espeak-ng binary ({binary})"
            else:
                where = f"espeak-ng {lib.version} (libespeak-ng from espeakng-loader)"
        return f"{where}, voice {self.voice}, {self.words_per_minute} wpm"

    def synthesize(self, text: str, out_path: Path) -> Path:
        """Speak ``text`` into a 16-bit mono WAV at ``out_path``; silence if nothing is speakable.

        Raises:
            SpeechError: neither the library nor a binary could speak it.
        """
        out_path = Path(out_path)
        cleaned = clean_text(text)
        if not _speakable(cleaned):
            return write_wav(out_path, b"\0\0" * int(SILENCE_S * _FALLBACK_RATE), _FALLBACK_RATE)
        try:
            pcm, rate = self._speak_library(cleaned)
        except SpeechError as lib_error:
            binary = shutil.which("espeak-ng")
            if binary is None:
                raise
            try:
                return self._speak_binary(binary, cleaned, out_path)
            except SpeechError as bin_error:
                raise SpeechError(f"{lib_error}; and the fallback: {bin_error}") from bin_error
        return write_wav(out_path, pcm, rate)

    def _speak_library(self, text: str) -> tuple[bytes, int]:
        """PCM and sample rate from libespeak-ng."""
        with _lock:
            engine = _load_library()
            lib = engine.lib
            if lib.espeak_SetVoiceByName(self.voice.encode()) != _EE_OK:
                raise SpeechError(f"espeak has no voice {self.voice!r} (try en-us, en-gb, de, fr)")
            lib.espeak_SetParameter(_RATE, self.words_per_minute, 0)
            engine.chunks.clear()
            data = text.encode("utf-8")
            buffer = ctypes.create_string_buffer(data)  # NUL-terminated; cleaned text has no NUL
            status = lib.espeak_Synth(
                buffer, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            pcm = b"".join(engine.chunks)
            engine.chunks.clear()
        if status != _EE_OK:
            raise SpeechError(f"espeak_Synth failed with status {status} for {text[:60]!r}")
        if not pcm:
            raise SpeechError(f"espeak produced no audio for {text[:60]!r}")
        return pcm, engine.sample_rate

    def _speak_binary(self, binary: str, text: str, out_path: Path) -> Path:
        """Speak with a system ``espeak-ng`` binary, text on stdin (never on a command line)."""
        tmp = out_path.with_name(f".{out_path.name}.partial-espeak.wav")
        argv = [
            binary,
            "-v",
            self.voice,
            "-s",
            str(self.words_per_minute),
            "-b",
            "1",
            "-w",
            str(tmp),
            "--stdin",
        ]
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                argv,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=_BINARY_TIMEOUT_S,
                check=False,
            )
            if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
                stderr = proc.stderr.decode("utf-8", "replace").strip()[-500:]
                raise SpeechError(f"{binary} failed (exit {proc.returncode}): {stderr}")
            os.replace(tmp, out_path)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SpeechError(f"cannot run {binary}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return out_path
