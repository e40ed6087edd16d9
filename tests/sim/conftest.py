"""Fixtures of the sim tests: a fresh real loopback simulator per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .simkit import SimClient, start_sim


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimClient]:
    """A fresh simulated server (own folders, own port) and a client for it."""
    server, client = start_sim(tmp_path)
    try:
        yield client
    finally:
        client.close()
        server.stop()
