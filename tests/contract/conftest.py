"""Contract suite: what our ComfyUI client expects of a server, over real loopback HTTP and
websockets, against the simulator always and against a real ComfyUI when one is named.

``comfy_server`` runs a test twice: on a fresh simulated server, and on the real ComfyUI at
``$VIDEOFACTORY_TEST_COMFYUI_URL`` (skipped, saying how to enable it, when that is not set).
What runs there uses core nodes only and no model files, so any ComfyUI can take it, a CPU one
too; and it assumes nothing of the server's past: other prompts may be in its history and
files in its folders (names come from ``ComfyServer.unique``). Nobody else should run prompts
on it meanwhile, though: ComfyUI's cache keeps only the last prompt's results, and two tests
check what that cache serves.

"While a prompt runs" is a state the test controls, not a race: ``ComfyServer.hold`` starts a
prompt that keeps the server busy until ``release``. On the simulator a ``Gate`` (a fault seam,
``SimOptions.hooks``) holds it; on a real server it is a long list of small blurs that an
interrupt stops within one item. Tests that need what only the simulator has (progress ticks of
a sampler: a real sampler needs model files) take the ``sim`` fixture instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from videofactory.comfy.client import ComfyClient, new_prompt_id
from videofactory.errors import FactoryError, Interrupted
from videofactory.sim.options import SimHooks, SimOptions
from videofactory.sim.thread import ServerThread

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "comfyui"
#: The real ComfyUI to check the contract against (e.g. http://127.0.0.1:8188).
REAL_URL_ENV = "VIDEOFACTORY_TEST_COMFYUI_URL"
NO_REAL_SERVER = (
    f"no real ComfyUI to check the contract against: set {REAL_URL_ENV}=http://HOST:PORT "
    "(core nodes only, no model files; a CPU server will do)"
)
#: How many small blurs the hold's prompt runs on a real server, one list item at a time:
#: each of a 128x128 picture, ~50 ms on two CPU cores, so ~1 minute in all if nothing stops
#: it (an interrupt is noticed before the next item). A GPU blurs them far faster: raise it
#: there (each item holds ~0.6 MB of RAM until the prompt ends).
HOLD_ITEMS_ENV = "VIDEOFACTORY_TEST_COMFYUI_HOLD_ITEMS"
HOLD_ITEMS = int(os.environ.get(HOLD_ITEMS_ENV) or 1200)
#: The node of the hold's prompt that is running while the server is held.
HOLD_NODE = "3"


def fixture(name: str) -> Any:
    """A captured answer (JSON) from the fixtures folder."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def workflow(name: str) -> dict:
    """A captured workflow from fixtures/comfyui/workflows."""
    return fixture(f"workflows/{name}")


def image_chain(prefix: str) -> dict:
    """EmptyImage (a random colour: never served from cache) -> ImageInvert -> SaveImage."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": _colour()},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def _colour() -> int:
    return random.randrange(1 << 24)


async def written_history(client: ComfyClient, prompt_id: str) -> dict:
    """The /history entry of a prompt ``wait`` has returned, once the server has written it.

    A success seen whole on the socket is returned at ``execution_success``, and ComfyUI
    sends that a moment before it moves the prompt from its queue to /history (then it sends
    ``executing`` with node None): right after ``wait`` /history may not have it yet.
    """
    for _ in range(100):
        entry = await client.history(prompt_id)
        if entry is not None:
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"{client.url} wrote no history for {prompt_id} within 5 s")


class Gate(SimHooks):
    """Holds the chosen prompts before their ``class_type`` node until released (or 60 s)."""

    def __init__(self, class_type: str) -> None:
        self.class_type = class_type
        self._held: dict[str, threading.Event] = {}

    def hold(self, prompt_id: str) -> None:
        """Hold this prompt when it reaches the gated node."""
        self._held[prompt_id] = threading.Event()

    def release(self, prompt_id: str | None = None) -> None:
        """Let one held prompt (or all of them) go on."""
        for pid, opened in self._held.items():
            if prompt_id in (None, pid):
                opened.set()

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        opened = self._held.get(prompt_id)
        if opened is not None and class_type == self.class_type:
            opened.wait(60)


@dataclass
class Held:
    """A prompt that keeps the server busy, and the task following it to its verdict."""

    prompt_id: str
    waiter: asyncio.Task


@dataclass
class ComfyServer:
    """A ComfyUI the contract runs against: the simulator, or a real server."""

    url: str
    #: "simulator" or "ComfyUI".
    kind: str
    gate: Gate | None = None
    _held: list[str] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        return self.gate is not None

    @staticmethod
    def unique(stem: str = "vf-contract") -> str:
        """A subfolder no earlier run used: a real server keeps the files of every run."""
        return f"{stem}/{uuid.uuid4().hex[:12]}"

    def hold_workflow(self) -> dict:
        """The prompt ``hold`` runs: node ``HOLD_NODE`` is the one that runs while held."""
        prefix = f"{self.unique()}/held"
        if self.simulated:  # the gate holds it before node 3
            return {
                "1": {
                    "class_type": "EmptyImage",
                    "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": _colour()},
                },
                "3": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
                "5": {
                    "class_type": "SaveImage",
                    "inputs": {"images": ["3", 0], "filename_prefix": prefix},
                },
            }
        return {
            "1": {
                "class_type": "EmptyImage",
                "inputs": {
                    "width": 128,
                    "height": 128,
                    "batch_size": HOLD_ITEMS,
                    "color": _colour(),
                },
            },
            "2": {"class_type": "RebatchImages", "inputs": {"images": ["1", 0], "batch_size": 1}},
            "3": {
                "class_type": "ImageBlur",
                "inputs": {"image": ["2", 0], "blur_radius": 31, "sigma": 10.0},
            },
            "4": {
                "class_type": "ImageScale",
                "inputs": {
                    "image": ["3", 0],
                    "upscale_method": "nearest-exact",
                    "width": 8,
                    "height": 8,
                    "crop": "disabled",
                },
            },
            "5": {
                "class_type": "SaveImage",
                "inputs": {"images": ["4", 0], "filename_prefix": prefix},
            },
        }

    async def hold(self, client: ComfyClient) -> Held:
        """Queue a prompt that keeps the server busy; return once its ``HOLD_NODE`` runs."""
        graph = self.hold_workflow()
        pid = new_prompt_id()
        if self.gate is not None:
            self.gate.hold(pid)
        self._held.append(pid)
        running = asyncio.Event()

        def on_event(_pid: str, name: str, data: Any) -> None:
            if name == "executing" and data.get("node") == HOLD_NODE:
                running.set()

        await client.submit(graph, prompt_id=pid)
        waiter = asyncio.create_task(client.wait(pid, on_event=on_event))
        started = asyncio.create_task(running.wait())
        await asyncio.wait({waiter, started}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if not running.is_set():
            started.cancel()
            raise AssertionError(f"the hold prompt did not start within 60 s on {self.url}")
        if waiter.done() and not self.simulated:
            raise AssertionError(
                f"the hold prompt ended at once on {self.url}: raise {HOLD_ITEMS_ENV} "
                f"(now {HOLD_ITEMS}) for a server this fast"
            )
        return Held(pid, waiter)

    def release(self, held: Held) -> None:
        """Let a held prompt go on (the simulator's gate; a real server never stops it)."""
        if self.gate is not None:
            self.gate.release(held.prompt_id)

    async def stop(self, client: ComfyClient, held: Held) -> str:
        """Interrupt a held prompt and follow it to its end; what ``cancel`` said."""
        said = await client.cancel(held.prompt_id)
        self.release(held)
        with pytest.raises(Interrupted):
            await asyncio.wait_for(held.waiter, 60)
        return said

    async def needs(self, client: ComfyClient, *classes: str) -> None:
        """Skip, naming them, when the server lacks node classes (e.g. nodes_audio needs
        torchaudio, which a ComfyUI install may lack)."""
        missing = sorted(set(classes) - set(await client.object_info()))
        if missing:
            pytest.skip(f"{self.url} has no {', '.join(missing)} node")

    def cleanup(self) -> None:
        """Interrupt whatever ``hold`` left running (a failed test), so the next one finds the
        real server free; the simulator is stopped anyway."""
        if self.gate is not None:
            self.gate.release()
            return
        left = list(self._held)

        async def go() -> None:
            async with ComfyClient(self.url, timeout=10) as c:
                for pid in left:
                    await c.cancel(pid)

        try:
            asyncio.run(go())
        except FactoryError:  # the server went away: nothing left to stop
            pass


@dataclass
class Sim:
    """A running simulated server and its gate."""

    url: str
    gate: Gate
    root: Path


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """A fresh simulated ComfyUI, for what only the simulator can show."""
    gate = Gate("ImageInvert")  # the node of ComfyServer.hold_workflow that is held
    server = ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0, hooks=gate))
    server.start()
    try:
        yield Sim(server.url, gate, tmp_path / "sim")
    finally:
        gate.release()
        server.stop()


@pytest.fixture(scope="session")
def real_comfyui_url() -> str:
    """The real ComfyUI named by the environment, checked to answer once per session."""
    url = os.environ.get(REAL_URL_ENV, "").strip().rstrip("/")
    if not url:
        pytest.skip(NO_REAL_SERVER)

    async def probe() -> dict:
        async with ComfyClient(url, timeout=10) as c:
            return await c.system_stats()

    try:
        stats = asyncio.run(probe())
    except FactoryError as exc:
        pytest.fail(f"{REAL_URL_ENV}={url} does not answer like ComfyUI: {exc}")
    if "videofactory simulator" in json.dumps(stats):
        pytest.fail(f"{REAL_URL_ENV}={url} is the videofactory simulator, not a real ComfyUI")
    return url


@pytest.fixture(params=["simulator", "comfyui"])
def comfy_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ComfyServer]:
    """The server under contract: a fresh simulator, then the real ComfyUI if one is named."""
    if request.param == "simulator":
        with_gate = request.getfixturevalue("sim")
        yield ComfyServer(with_gate.url, "simulator", with_gate.gate)
        return
    server = ComfyServer(request.getfixturevalue("real_comfyui_url"), "ComfyUI")
    try:
        yield server
    finally:
        server.cleanup()
