"""Tests of the ComfyUI side against a real simulated server on loopback (the client's
contract with a server is in tests/contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from videofactory.sim.options import SimOptions
from videofactory.sim.thread import ServerThread

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "comfyui"


def fixture_workflow(name: str) -> dict:
    """A workflow from the captured fixtures."""
    return json.loads((FIXTURES / "workflows" / name).read_text())


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    """URL of a fresh simulated server."""
    server = ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
