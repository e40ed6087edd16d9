"""Fit a narration into its shot: speed it up with ffmpeg's ``atempo``, at most 1.25x.

Faster than 1.25x starts to sound hurried, so a narration that is still too long after that
keeps its overflow, and ``FitResult`` says by how much, so that the run report can warn and
name the shot (the fix is a shorter narration or a longer shot in the shot list).
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

from videofactory.assembly.ffmpeg import find_ffmpeg, run_ffmpeg
from videofactory.assembly.probe import probe
from videofactory.errors import ConfigError, MediaError

__all__ = ["MAX_TEMPO", "FitResult", "fit_narration"]

#: The fastest speed-up that still sounds natural.
MAX_TEMPO = 1.25
#: Overflow below this is rounding, not a narration that does not fit.
OVERFLOW_TOLERANCE_S = 0.02


@dataclass(frozen=True)
class FitResult:
    """How a narration was fitted: the speed-up used and what still does not fit."""

    #: Tempo applied (1.0: untouched; at most ``MAX_TEMPO``).
    factor: float
    #: Seconds the fitted narration still runs past the shot (0.0 when it fits).
    overflow_s: float
    #: Length before and after fitting.
    source_s: float
    duration_s: float

    @property
    def fits(self) -> bool:
        """True when the narration now ends within its shot."""
        return self.overflow_s == 0.0

    def warning(self, shot_id: str) -> str:
        """A line for the run report, or "" when the narration fits."""
        if self.fits:
            return ""
        return (
            f"shot {shot_id}: narration is {self.overflow_s:.2f} s longer than the shot even at "
            f"{self.factor:.2f}x speed; shorten its narration or lengthen the shot"
        )


def _length(path: Path) -> float:
    """Exact length of a PCM WAV from its header; other formats through PyAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (wave.Error, EOFError, OSError):
        return probe(path).duration_s


def fit_narration(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], max_seconds: float
) -> FitResult:
    """Write ``src`` to ``dest`` (a WAV), sped up just enough to last ``max_seconds``, up to 1.25x.

    Arguments:
        src: the narration (any audio file; WAV from the speech backends).
        dest: where the fitted WAV goes (may be ``src`` itself: it is replaced atomically).
        max_seconds: the shot's length.

    Raises:
        ConfigError: ``max_seconds`` is not a positive number.
        MediaError: ``src`` is missing or not audio.
        AssemblyError: ffmpeg failed.
    """
    if (
        not (isinstance(max_seconds, int | float) and math.isfinite(max_seconds))
        or max_seconds <= 0
    ):
        raise ConfigError(f"a narration must fit a positive length, not {max_seconds!r}")
    src, dest = Path(src), Path(dest)
    info = probe(src)
    if not info.has_audio:
        raise MediaError(f"narration {src} has no audio stream", path=str(src))
    source_s = _length(src)
    if source_s <= max_seconds:
        if src.resolve() != dest.resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        return FitResult(1.0, 0.0, source_s, source_s)
    # Round up so that 1.2 s over 1.0 s gives 1.2 exactly, never a hair under.
    factor = min(MAX_TEMPO, math.ceil(source_s / max_seconds * 10000) / 10000)
    tmp = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(4)}.wav")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        args = ["-i", str(src), "-vn", "-filter:a", f"atempo={factor:.4f}"]
        run_ffmpeg(find_ffmpeg(), [*args, "-c:a", "pcm_s16le", "-f", "wav", str(tmp)])
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    duration_s = _length(dest)
    overflow = duration_s - max_seconds
    overflow_s = round(overflow, 3) if overflow > OVERFLOW_TOLERANCE_S else 0.0
    return FitResult(factor, overflow_s, source_s, duration_s)
