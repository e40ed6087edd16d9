"""Real, small media made with lavfi by the ffmpeg the package finds, and a finished run built
from it: fixtures for the assembly tests and the assemble command's (tests/conftest.py's plugin)."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from subprocs import make

from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg
from videofactory.errors import AssemblyError
from videofactory.store import RunState, Store


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


RUN = "20260101-000000-test-run-abcd"


@pytest.fixture
def workdir(tmp_path, ffmpeg_bin, media):
    """A finished run as the dispatcher records it: shots, artifacts, files."""
    work = tmp_path / "runs"
    run_dir = work / RUN
    for sub in ("clips", "hero", "speech"):
        (run_dir / sub).mkdir(parents=True)
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    shots = []
    with Store.for_workdir(work) as store:
        for i, colour in enumerate(["red", "green", "blue"]):
            sid = f"s0{i + 1}"
            make(
                ffmpeg_bin, run_dir / "clips" / f"{sid}.mp4",
                "-f", "lavfi", "-i", f"color={colour}:s=160x90:r=24:d=1.5", *x264,
            )  # fmt: skip
            shots.append(
                {"id": sid, "duration": 1.5, "narration": f"Shot {i + 1}.", "hero": i == 1}
            )
        store.create_run(
            RUN,
            plan={"concept": "test", "duration": 4.5, "width": 160, "height": 90, "fps": 24,
                  "shots": shots},
            run_dir=run_dir,
            farm={},
        )  # fmt: skip
        for shot in shots:
            sid = shot["id"]
            store.add_artifact(
                RUN, f"{RUN}/{sid}/clip", "clip", run_dir / "clips" / f"{sid}.mp4", {}
            )
            speech = run_dir / "speech" / f"{sid}.wav"
            speech.write_bytes(media.tone_short.read_bytes())
            store.add_artifact(RUN, f"{RUN}/{sid}/speech", "speech", speech, {})
        # The hero pass of s02 (white) replaces its clip.
        hero = make(
            ffmpeg_bin, run_dir / "hero" / "s02.mp4",
            "-f", "lavfi", "-i", "color=white:s=160x90:r=24:d=1.5", *x264,
        )  # fmt: skip
        store.add_artifact(RUN, f"{RUN}/s02/hero", "hero", hero, {})
        (run_dir / "final.mp4").write_bytes(b"the first final")
        store.set_run_state(RUN, RunState.done, final=str(run_dir / "final.mp4"))
    song = make(ffmpeg_bin, tmp_path / "song.mp3", "-f", "lavfi", "-i", "sine=f=220:d=1")
    return work, run_dir, song


@pytest.fixture(scope="session")
def samples_of():
    """``audio_samples`` as a fixture."""
    return audio_samples


@dataclass(frozen=True)
class Wav:
    """A decoded 16-bit WAV: samples in -1..1, rate and length."""

    samples: np.ndarray
    rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.samples**2))) if len(self.samples) else 0.0


def read_wav(path: Path) -> Wav:
    """Read a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2
        raw = wav.readframes(wav.getnframes())
        data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
        return Wav(data, wav.getframerate(), wav.getnchannels())
