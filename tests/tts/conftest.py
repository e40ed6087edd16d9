"""Helpers for speech tests: read a WAV back as samples."""

from __future__ import annotations

import pytest
from mediakit import read_wav


@pytest.fixture(scope="session")
def wav_of():
    """``read_wav`` as a fixture, so test modules need not import conftest."""
    return read_wav
