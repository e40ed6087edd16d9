"""Real, small media made with lavfi by the ffmpeg the package finds; shared by assembly tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from subprocs import make

from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg
from videofactory.errors import AssemblyError


@pytest.fixture(scope="session")
def ffmpeg_bin() -> FFmpeg:
    """The ffmpeg the package would use; tests that need it skip when there is none."""
    try:
        return find_ffmpeg()
    except AssemblyError as exc:  # pragma: no cover - imageio-ffmpeg ships one
        pytest.skip(f"no ffmpeg: {exc}")


@dataclass(frozen=True)
class Media:
    """Inputs of different sizes, rates and lengths, plus broken files."""

    clip_a: Path  # 320x180, 24 fps, 1.0 s
    clip_b: Path  # 200x200 (square), 12 fps, 2.0 s
    clip_c: Path  # 640x360, 30 fps, 0.5 s (shorter than its shot: last frame is held)
    still: Path  # one PNG frame, 240x320 (portrait)
    tone_short: Path  # 440 Hz, 0.5 s, 22050 Hz mono WAV
    tone_long: Path  # 880 Hz, 3.0 s, 22050 Hz mono WAV
    audio_only: Path  # 1.0 s AAC in MP4, no video stream
    empty: Path  # 0 bytes
    corrupt: Path  # random bytes named .mp4
    truncated: Path  # the first 2 KB of a good MP4
    no_streams: Path  # an MP4 with zero frames: ffmpeg writes no stream at all


@pytest.fixture(scope="session")
def media(ffmpeg_bin: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Make every test input once per session (about a second)."""
    d = tmp_path_factory.mktemp("media")
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    clip_a = make(
        ffmpeg_bin, d / "a.mp4", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24:d=1", *x264
    )
    clip_b = make(ffmpeg_bin, d / "b.mp4", "-f", "lavfi", "-i", "testsrc=s=200x200:r=12:d=2", *x264)
    clip_c = make(
        ffmpeg_bin, d / "c.mp4", "-f", "lavfi", "-i", "smptebars=s=640x360:r=30:d=0.5", *x264
    )
    still = make(
        ffmpeg_bin, d / "still.png", "-f", "lavfi", "-i", "rgbtestsrc=s=240x320", "-frames:v", "1"
    )
    tone_short = make(ffmpeg_bin, d / "short.wav", "-f", "lavfi", "-i", "sine=f=440:d=0.5:r=22050")
    tone_long = make(ffmpeg_bin, d / "long.wav", "-f", "lavfi", "-i", "sine=f=880:d=3:r=22050")
    audio_only = make(
        ffmpeg_bin, d / "audio_only.mp4", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac"
    )
    empty = d / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = d / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(7).bytes(4096))
    truncated = d / "truncated.mp4"
    truncated.write_bytes(clip_a.read_bytes()[:2048])
    no_streams = make(
        ffmpeg_bin, d / "zero.mp4", "-f", "lavfi", "-i", "testsrc2=d=1", "-frames:v", "0", *x264
    )
    return Media(
        clip_a,
        clip_b,
        clip_c,
        still,
        tone_short,
        tone_long,
        audio_only,
        empty,
        corrupt,
        truncated,
        no_streams,
    )


def audio_rms(path: Path, window_s: float = 0.05) -> tuple[np.ndarray, float]:
    """RMS of the decoded audio (channels averaged) per window, and the window length."""
    samples = []
    rate = 0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            data = frame.to_ndarray().astype(np.float64)  # planar: (channels, samples)
            samples.append(data.mean(axis=0) if data.ndim == 2 else data)
    mono = np.concatenate(samples)
    step = int(window_s * rate)
    windows = mono[: len(mono) // step * step].reshape(-1, step)
    return np.sqrt((windows**2).mean(axis=1)), window_s


def audio_samples(path: Path) -> np.ndarray:
    """Every sample of a file's audio, samples x channels, float64 in -1..1."""
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            data = frame.to_ndarray().astype(np.float64)
            channels = len(frame.layout.channels)
            if frame.format.name.startswith("s16"):
                data /= 32768
            chunks.append(data.T if frame.format.is_planar else data.reshape(-1, channels))
    return np.concatenate(chunks)


def top_level_boxes(path: Path) -> list[str]:
    """The order of the top-level ISO-BMFF boxes (ftyp, moov, mdat, ...)."""
    names = []
    with path.open("rb") as fh:
        while header := fh.read(8):
            if len(header) < 8:
                break
            size, name = int.from_bytes(header[:4], "big"), header[4:].decode("latin-1")
            names.append(name)
            if size == 1:  # 64-bit size follows the name
                size = int.from_bytes(fh.read(8), "big")
                fh.seek(size - 16, 1)
            elif size == 0:  # box runs to the end of the file
                break
            else:
                fh.seek(size - 8, 1)
    return names


@pytest.fixture(scope="session")
def rms_of():
    """``audio_rms`` as a fixture, so test modules need not import conftest."""
    return audio_rms


@pytest.fixture(scope="session")
def boxes_of():
    """``top_level_boxes`` as a fixture."""
    return top_level_boxes


@pytest.fixture(scope="session")
def samples_of():
    """``audio_samples`` as a fixture."""
    return audio_samples
