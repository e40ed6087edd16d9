"""A film's music: what ``--music`` asks for, made into the ``Music`` of its timeline.

``--music`` takes ``auto`` (the default), ``none`` or a FILE:

* ``auto``: a bed generated for the film (``bed.py``), in the mood its plan points to
  (``mood.py``), written once into the run's ``music/`` folder (the same plan gives the same
  file, so a re-assembly reuses it); it fades in, sits ``BED_LEVEL_LU`` under the narration,
  ducks under it and fades out at the end;
* ``none``: no music; the room tone still plays, so the video has no digital silence;
* FILE: the user's music, checked when the command starts (missing, empty, corrupt or without
  audio: one line naming the file, before any GPU work). A file shorter than the film is
  looped; ``loop_for`` joins its end to its start with a short crossfade where the two match
  best, so that the loop does not click.
"""

from __future__ import annotations

import math
import os
import secrets
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videofactory.assembly.probe import MediaInfo, check_media
from videofactory.assembly.timeline import Music
from videofactory.errors import MediaError

if TYPE_CHECKING:
    # Imported where used: the CLI checks ``--music`` through this module before a detached
    # run starts, and that process should not load numpy (tests/e2e/test_e2e_startup.py).
    import numpy as np

    from videofactory.assembly.mood import MoodChoice

__all__ = [
    "AUTO",
    "BED_LEVEL_LU",
    "NONE",
    "bed_for",
    "check_music_file",
    "decode",
    "loop_for",
    "loop_point",
    "music_for",
    "music_setting",
]

#: ``--music`` values that are not files.
AUTO = "auto"
NONE = "none"
#: The generated bed's loudness under the narration, in LU: there, not in the way.
BED_LEVEL_LU = -10.0
#: The generated bed swells in over this long at the start of the film.
BED_FADE_IN_S = 1.5
#: Where a run keeps its generated bed.
MUSIC_FOLDER = "music"

#: The crossfade that joins a looped file's end to its start.
LOOP_CROSSFADE_S = 0.1
#: How far before the end the loop point is looked for (where the music best matches its
#: start); at most a third of the file.
LOOP_SEARCH_S = 1.0
#: Leading and trailing audio quieter than this (RMS of 10 ms, dBFS) is cut before looping:
#: a song's silent tail would otherwise be a gap in every pass.
LOOP_SILENCE_DBFS = -60.0


def check_music_file(path: str | os.PathLike[str]) -> MediaInfo:
    """Probe a music file, refusing it with one line that says how to fix it."""
    try:
        return check_media(path, kind="audio")
    except MediaError as exc:
        raise MediaError(
            f"music: {exc}; pass an audio file (mp3, m4a, wav, flac, ogg) to --music, "
            "or --music none",
            path=exc.path,
        ) from exc


def music_setting(value: str | None) -> str:
    """A run's music setting from ``--music``: ``auto``, ``none`` or a file's absolute path.

    Raises:
        MediaError: the file is missing, empty, corrupt or has no audio.
    """
    if value is None or value.strip().lower() in ("", AUTO):
        return AUTO
    if value.strip().lower() == NONE:
        return NONE
    path = Path(value).expanduser()
    check_music_file(path)
    return str(path.resolve())


def bed_for(plan: Mapping[str, Any], folder: Path, rate: int = 48000) -> tuple[Music, MoodChoice]:
    """The generated bed of a film (written into ``folder`` unless it is there) and its mood."""
    from videofactory.assembly.bed import MOODS, render_bed, write_wav
    from videofactory.assembly.mood import choose_mood

    choice = choose_mood(plan)
    path = Path(folder) / f"bed-{choice.mood}-{choice.seed:08x}-{rate}.wav"
    if not path.is_file():
        write_wav(path, render_bed(MOODS[choice.mood], choice.seed, rate), rate, seed=choice.seed)
    music = Music(path, level_lu=BED_LEVEL_LU, fade_in_s=BED_FADE_IN_S, seamless=True)
    return music, choice


def music_for(
    setting: str | None, plan: Mapping[str, Any], run_dir: Path, rate: int = 48000
) -> tuple[Music | None, str]:
    """The ``Music`` of a run's timeline for its setting (``music_setting``; None: ``auto``),
    None for none, and a line saying what it is (for the run's log).

    Raises:
        MediaError: the user's file is gone or unusable (named, with how to fix it).
    """
    if setting is None or setting == AUTO:
        music, choice = bed_for(plan, Path(run_dir) / MUSIC_FOLDER, rate)
        return music, f"generated bed, {choice.mood} ({choice.reason})"
    if setting == NONE:
        return None, "no music (room tone only)"
    check_music_file(setting)
    return Music(Path(setting)), f"music {Path(setting).name}"


def decode(path: Path, rate: int) -> np.ndarray:
    """Every sample of an audio file as float32 stereo at ``rate`` (samples x 2)."""
    import av
    import numpy as np

    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, 2))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1, 2))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 2), np.float32)


def _trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """``samples`` without their silent head and tail (kept whole when all silent)."""
    import numpy as np

    step = max(1, rate // 100)
    frames = len(samples) // step
    if frames == 0:
        return samples
    power = (samples[: frames * step].astype(np.float64) ** 2).reshape(frames, -1).mean(axis=1)
    loud = np.flatnonzero(power >= 10 ** (LOOP_SILENCE_DBFS / 10))
    if len(loud) == 0:
        return samples
    end = len(samples) if loud[-1] == frames - 1 else (loud[-1] + 1) * step
    return samples[loud[0] * step : end]


def loop_point(samples: np.ndarray, rate: int) -> tuple[int, int]:
    """Where to loop ``samples``: (``loop``, ``fade``) such that the ``fade`` samples from
    ``loop`` match the first ``fade`` samples best (normalised cross-correlation over the last
    ``LOOP_SEARCH_S``); a file too short to search loops at its end with no fade."""
    import numpy as np

    n = len(samples)
    fade = min(round(LOOP_CROSSFADE_S * rate), n // 4)
    search = min(round(LOOP_SEARCH_S * rate), n // 3)
    if fade < 16 or search <= fade:
        return n, 0
    mono = samples.astype(np.float64).mean(axis=1)
    head = mono[:fade]
    region = mono[n - search :]
    # Sliding dot products of the head with every window of the region, by FFT.
    size = 1 << math.ceil(math.log2(len(region) + fade))
    dots = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(head, size)), size)
    windows = len(region) - fade + 1
    dots = dots[:windows]
    energy = np.concatenate([[0.0], np.cumsum(region**2)])
    norms = np.sqrt((energy[fade : fade + windows] - energy[:windows]) * float(head @ head))
    score = dots / np.maximum(norms, 1e-12)
    best = int(np.argmax(score))
    return n - search + best, fade


def loop_for(music: Music, info: MediaInfo, total_s: float, rate: int, dest: Path) -> Path | None:
    """Write the film-length music for a file shorter than the film, looped without clicks.

    The file plays from its start; each time it comes round it joins the next pass with a
    ``LOOP_CROSSFADE_S`` crossfade at ``loop_point``, so every pass starts where the last one
    left off, and the seams do not click. Silent heads and tails are cut first. Returns
    ``dest``, or None when no loop is needed (the file is long enough, or made to loop).
    """
    import numpy as np

    if music.seamless or info.duration_s >= total_s:
        return None
    samples = _trim_silence(decode(music.path, rate), rate)
    if len(samples) == 0:
        raise MediaError(
            f"music: {music.path} decodes to no audio; pass another file to --music",
            path=str(music.path),
        )
    loop, fade = loop_point(samples, rate)
    total = math.ceil(total_s * rate)
    # Head: the file's first ``fade`` samples, once. Body: the rest up to the loop point, its
    # last ``fade`` samples crossfaded into the head, so the body repeats seamlessly.
    head = samples[:fade].astype(np.float64)
    if fade:
        body = samples[fade : loop + fade].astype(np.float64)
        ramp = (np.arange(fade) / fade)[:, None]
        body[-fade:] = body[-fade:] * (1 - ramp) + head * ramp
    else:
        body = samples[:loop].astype(np.float64)
    _write_repeated(dest, head, body, total, rate)
    return dest


def _pcm(samples: np.ndarray) -> bytes:
    """Float samples as 16-bit PCM bytes."""
    import numpy as np

    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()


def _write_repeated(dest: Path, head: np.ndarray, body: np.ndarray, total: int, rate: int) -> None:
    """``head`` then ``body`` over and over, ``total`` samples in all, as a 16-bit WAV."""

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{secrets.token_hex(4)}")
    try:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(_pcm(head[:total]))
            written = min(len(head), total)
            pass_pcm = _pcm(body)
            while written < total:
                take = min(len(body), total - written)
                out.writeframes(pass_pcm if take == len(body) else _pcm(body[:take]))
                written += take
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
