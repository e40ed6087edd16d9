"""Where the voice is in a narration file: its voiced span and the pauses inside it.

Speech engines pad their audio with silence (eSpeak NG ends every line with a few hundred
milliseconds of it) and pause between sentences. Subtitles timed to the file's length would
stay up after the voice stops; timed to this span they come and go with the words, and a cue
per sentence can change at the pause where the sentence ends.

The file is read with the ``wave`` module when it is a PCM WAV (what the speech engines and
``tts.fit`` write), else decoded with PyAV; the level is measured in 10 ms frames.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from videofactory.assembly.timeline import Spoken

__all__ = ["FRAME_S", "MIN_PAUSE_S", "spoken_of", "spoken_span"]

#: Length of one level measurement.
FRAME_S = 0.01
#: A frame is voiced when its RMS is within this many dB of the loudest frame's...
VOICED_BELOW_PEAK_DB = 35.0
#: ...and above this absolute level (dBFS): a file of noise alone has no voice.
VOICED_FLOOR_DBFS = -55.0
#: A silent gap inside the voice at least this long is a pause (where a sentence may end);
#: shorter ones are the stops inside words (p, t, k).
MIN_PAUSE_S = 0.12


def _samples(path: Path) -> tuple[np.ndarray, int]:
    """The file's samples as mono float64 in -1..1, and their rate."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
        if width == 2:
            data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768
            return data.reshape(-1, channels).mean(axis=1), rate
    except (wave.Error, EOFError):
        pass  # not a PCM WAV (float WAV, MP3, FLAC...): PyAV reads it
    import av

    chunks, rate = [], 0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            data = frame.to_ndarray().astype(np.float64)
            if frame.format.name in ("s16", "s16p"):
                data /= 32768
            elif frame.format.name in ("s32", "s32p"):
                data /= 2**31
            chunks.append(data.mean(axis=0) if data.ndim == 2 else data)
    return (np.concatenate(chunks) if chunks else np.zeros(0)), rate or 1


def spoken_span(samples: np.ndarray, rate: int) -> Spoken | None:
    """The voiced span of mono samples and the pauses inside it; None when nothing is voiced."""
    step = max(1, round(FRAME_S * rate))
    frames = len(samples) // step
    if frames == 0:
        return None
    power = (samples[: frames * step].reshape(frames, step) ** 2).mean(axis=1)
    level = 10 * np.log10(np.maximum(power, 1e-20))
    threshold = max(float(level.max()) - VOICED_BELOW_PEAK_DB, VOICED_FLOOR_DBFS)
    voiced = np.flatnonzero(level >= threshold)
    if len(voiced) == 0:
        return None
    first, last = int(voiced[0]), int(voiced[-1])
    pauses = []
    gaps = np.flatnonzero(np.diff(voiced) > 1)
    for g in gaps:
        gap_start, gap_end = int(voiced[g]) + 1, int(voiced[g + 1])  # silent frames [a, b)
        if (gap_end - gap_start) * step / rate >= MIN_PAUSE_S:
            pauses.append(round((gap_start + gap_end) / 2 * step / rate, 3))
    seconds = step / rate
    return Spoken(round(first * seconds, 3), round((last + 1) * seconds, 3), tuple(pauses))


def spoken_of(path: str | Path) -> Spoken | None:
    """Where the voice is in a narration file (see the module's docstring); None: silent."""
    samples, rate = _samples(Path(path))
    return spoken_span(samples, rate)
