"""Contract suite: our ComfyUI client against the simulator over real loopback HTTP/websockets.

Every behaviour the captured fixtures (tests/fixtures/comfyui) show is exercised through
``ComfyClient``; the simulator's own answers are checked in tests/sim. ``Gate`` is a fault seam
(``SimOptions.hooks``) that holds a node until the test lets it go, so that "while the prompt
runs" is a state the test controls rather than a race.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from videofactory.sim.options import SimHooks, SimOptions
from videofactory.sim.thread import ServerThread

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "comfyui"


def fixture(name: str):
    """A captured answer (JSON) from the fixtures folder."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def workflow(name: str) -> dict:
    """A captured workflow from fixtures/comfyui/workflows."""
    return fixture(f"workflows/{name}")


class Gate(SimHooks):
    """Holds every node of one class before it runs until ``release()`` (or 30 s)."""

    def __init__(self, class_type: str) -> None:
        self.class_type = class_type
        self.entered = threading.Event()
        self._open = threading.Event()

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        if class_type == self.class_type and not self._open.is_set():
            self.entered.set()
            self._open.wait(30)

    def release(self) -> None:
        """Let held and later nodes run."""
        self._open.set()


@dataclass
class Sim:
    """A running simulated server and its gate."""

    url: str
    gate: Gate
    root: Path


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """A fresh simulated ComfyUI (its gate is open: nothing is held)."""
    gate = Gate("nothing")
    gate.release()
    server = ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0, hooks=gate))
    server.start()
    try:
        yield Sim(server.url, gate, tmp_path / "sim")
    finally:
        server.stop()


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[Callable[[str], Sim]]:
    """Start simulated ComfyUIs that hold every node of a class until the test releases it."""
    started: list[tuple[ServerThread, Gate]] = []

    def start(hold: str) -> Sim:
        gate = Gate(hold)
        root = tmp_path / f"held{len(started)}"
        server = ServerThread(SimOptions(base_directory=root, port=0, hooks=gate))
        started.append((server, gate))
        server.start()
        return Sim(server.url, gate, root)

    try:
        yield start
    finally:
        for server, gate in started:
            gate.release()
            server.stop()


@pytest.fixture
def held_sim(make_sim: Callable[[str], Sim]) -> Sim:
    """A fresh simulated ComfyUI that holds every SaveImage node until the test releases it."""
    return make_sim("SaveImage")
