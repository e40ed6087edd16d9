"""Fixtures of the sim tests: a fresh real loopback simulator per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Any]:
    """Start servers with options; all stopped at teardown."""
    started: list[Any] = []

    def make(name: str = "gpu0", **options: Any) -> SimClient:
        server, client = start_sim(tmp_path / name / str(len(started)), name=name, **options)
        started.append((server, client))
        return client

    yield make
    for server, client in started:
        client.close()
        server.stop()
