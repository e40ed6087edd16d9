"""What a finished video sounds like, as figures: its digital silences and its loudness.

Both are ffmpeg's own meters run over the file's audio (``silencedetect``, ``ebur128``), so a
figure here is what any ffmpeg user would measure: the benchmark (``bench/film_sound.py``)
and the tests read them, and so can a person checking a video.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from videofactory.assembly.audio import LoudnessMeasurement, parse_ebur128
from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg, run_ffmpeg
from videofactory.assembly.probe import probe

__all__ = ["DIGITAL_SILENCE_DB", "SoundCheck", "check_sound_of"]

#: A sample this quiet is digital silence: under 16-bit audio's last bit (-90.3 dBFS).
DIGITAL_SILENCE_DB = -90.0
#: The shortest silence counted (ffmpeg's silencedetect ``d``).
MIN_SILENCE_S = 0.1

_START = re.compile(r"silence_start: (-?[\d.]+)")
_END = re.compile(r"silence_end: (-?[\d.]+) \| silence_duration: ([\d.]+)")


@dataclass(frozen=True)
class SoundCheck:
    """The silences of a video's audio (start, length in seconds) and its loudness."""

    duration_s: float
    silences: tuple[tuple[float, float], ...]
    loudness: LoudnessMeasurement

    @property
    def silence_s(self) -> float:
        """Seconds of digital silence in all."""
        return sum(length for _start, length in self.silences)

    @property
    def silence_share(self) -> float:
        """The share of the video that is digital silence (0..1)."""
        return self.silence_s / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def longest_silence_s(self) -> float:
        """The longest stretch of digital silence (0.0: none)."""
        return max((length for _start, length in self.silences), default=0.0)


def check_sound_of(
    path: str | Path,
    *,
    ffmpeg: FFmpeg | None = None,
    silence_db: float = DIGITAL_SILENCE_DB,
    min_silence_s: float = MIN_SILENCE_S,
) -> SoundCheck:
    """Measure a video's (or audio file's) silences and EBU R128 loudness in one ffmpeg run.

    A silence still open at the end of the file counts up to the end.
    """
    ffmpeg = ffmpeg or find_ffmpeg()
    graph = (
        f"silencedetect=n={silence_db:g}dB:d={min_silence_s:g},ebur128=peak=true:framelog=verbose"
    )
    tail = run_ffmpeg(
        ffmpeg,
        ["-i", f"file:{path}", "-map", "0:a:0", "-af", graph, "-f", "null", "-"],
        tail_lines=100_000,
        label=f"the sound check of {path}",
    )
    loudness = parse_ebur128(tail)[-1]
    duration = probe(path).duration_s
    silences: list[tuple[float, float]] = []
    open_at: float | None = None
    for line in tail.splitlines():
        if (start := _START.search(line)) is not None:
            open_at = max(0.0, float(start.group(1)))
        elif (end := _END.search(line)) is not None and open_at is not None:
            silences.append((open_at, float(end.group(2))))
            open_at = None
    if open_at is not None and duration > open_at + min_silence_s:
        silences.append((open_at, duration - open_at))
    return SoundCheck(duration, tuple(silences), loudness)
