"""Director test fixtures: read WAVs back as samples; keep the LLM environment out of tests."""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class Wav:
    """A decoded 16-bit mono WAV: samples in -1..1 and rate."""

    samples: np.ndarray
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.samples**2))) if len(self.samples) else 0.0


def read_wav(path: Path) -> Wav:
    """Read a 16-bit PCM mono WAV file."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        raw = w.readframes(w.getnframes())
    return Wav(np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0, w.getframerate())


@pytest.fixture(scope="session")
def wav_of():
    """``read_wav`` as a fixture."""
    return read_wav


@pytest.fixture(autouse=True)
def _clean_llm_env(monkeypatch):
    """No test sees the developer's own LLM settings or keys."""
    for name in list(os.environ):
        if name.startswith("VIDEOFACTORY_LLM_") or name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
            monkeypatch.delenv(name)
