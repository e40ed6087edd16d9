"""Helpers for speech tests: read a WAV back as samples."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


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


@pytest.fixture(scope="session")
def wav_of():
    """``read_wav`` as a fixture, so test modules need not import conftest."""
    return read_wav
