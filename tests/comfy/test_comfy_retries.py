"""Requests that fail in transit are retried on the same server, a prompt is never queued twice,
and what is not transient (4xx, refused, timeout, retries spent) surfaces as before."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from videofactory.comfy.check import tiny_workflow
from videofactory.comfy.client import ComfyClient
from videofactory.comfy.results import OutputRef
from videofactory.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ProtocolError,
    WorkflowRejected,
)
from videofactory.sim.options import SimFaults, SimOptions
from videofactory.sim.thread import ServerThread

PNG = b"\x89PNG\r\n\x1a\n"
#: Short waits between retries: the schedule's length is what matters here, not its pace.
QUICK = (0.01,) * 8


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[str]:
    """A simulated server answering 30 % of its requests with aiohttp's 500."""
    faults = SimFaults(http_error_rate=0.3, seed=11)
    server = ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0, faults=faults))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _log(url: str) -> list[dict[str, Any]]:
    return httpx.get(url + "/sim/requests", timeout=5).json()


def _faults(url: str, **changes: Any) -> dict[str, Any]:
    return httpx.post(url + "/sim/faults", json=changes, timeout=5).json()


def _executions(url: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in _log(url):
        if e["event"] == "execution_start":
            out[e["prompt_id"]] = out.get(e["prompt_id"], 0) + 1
    return out


def test_a_flaky_server_serves_a_whole_job_through_retries(flaky, tmp_path):
    calls: list[tuple[str, str, int, BackendError]] = []

    async def go() -> ComfyClient:
        def on_retry(method: str, path: str, attempt: int, error: BackendError) -> None:
            calls.append((method, path, attempt, error))

        async with ComfyClient(flaky, retry_backoff=QUICK, on_retry=on_retry) as c:
            await c.system_stats()
            await c.object_info()
            src = tmp_path / "in.png"
            src.write_bytes(PNG + b"ref")
            names = {await c.upload(src, subfolder="up") for _ in range(6)}
            assert names == {"up/in.png"}  # overwrite=true: the same name every time
            results = [await c.run(tiny_workflow(f"t/f{i}")) for i in range(6)]
            for i, result in enumerate(results):
                path = await c.download(result.outputs[0], tmp_path / "out" / f"{i}.png")
                assert path.read_bytes()[:8] == PNG
            assert not list((tmp_path / "out").glob(".*part"))
            for _ in range(10):
                await c.queue()
            return c

    client = asyncio.run(go())
    state = _faults(flaky)
    assert state["http_errors"] >= 5  # the draws did strike (30 % of ~60 requests)
    # Every injected 500 cost one retry on the same server, and nothing more.
    assert client.retries == len(calls) == state["http_errors"]
    assert all(isinstance(e, ProtocolError) and "answered 500" in str(e) for *_, e in calls)
    assert all(attempt >= 1 for _, _, attempt, _ in calls)
    paths = {p for _, p, _, _ in calls}
    assert paths & {"/queue", "/view", "/upload/image", "/prompt", "/object_info", "/system_stats"}
    # Six prompts posted, six run: none twice, though some POSTs answered 500 after queueing.
    assert sorted(_executions(flaky).values()) == [1] * 6


def test_a_prompt_queued_before_its_500_is_followed_not_posted_again(tmp_path):
    """The server answers the POST with a 500; half the time it had queued the prompt first.
    Either way the prompt runs exactly once."""
    server = ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0))
    url = server.start()
    posts_per_prompt = []
    try:
        for seed in range(1, 9):

            async def go(seed: int = seed) -> str:
                def calm(*_: Any) -> None:  # only the first POST fails
                    _faults(url, http_error_rate=0)

                async with ComfyClient(url, retry_backoff=QUICK, on_retry=calm) as c:
                    await c.system_stats()  # the socket and the connection are up
                    _faults(url, http_error_rate=1, seed=seed)
                    result = await c.run(tiny_workflow(f"t/s{seed}"))
                    assert c.retries == 1 and result.outputs
                    return result.prompt_id

            pid = asyncio.run(go())
            posts = [e for e in _log(url) if e["path"] == "/prompt" and e["prompt_id"] == pid]
            assert posts[0]["status"] == 500
            posts_per_prompt.append(len(posts))
            assert _executions(url)[pid] == 1, f"seed {seed}: prompt {pid} ran twice"
    finally:
        server.stop()
    # Queued then 500 (one POST: found in /queue or /history), and 500 before queueing (posted
    # again): both happened.
    assert set(posts_per_prompt) == {1, 2}, posts_per_prompt


def test_a_rejected_workflow_or_a_missing_file_is_not_retried(sim_url, tmp_path):
    async def go() -> ComfyClient:
        async with ComfyClient(sim_url, retry_backoff=QUICK) as c:
            bad = tiny_workflow()
            bad["1"]["inputs"]["width"] = "wide"
            with pytest.raises(WorkflowRejected):
                await c.submit(bad)
            result = await c.run(tiny_workflow("t/ok"))
            assert result.outputs
            missing = OutputRef("2", "gone.png", "", "output", "images")
            with pytest.raises(ProtocolError, match="404"):
                await c.download(missing, tmp_path / "gone.png")
            return c

    client = asyncio.run(go())
    assert client.retries == 0
    log = _log(sim_url)
    assert len([e for e in log if e["path"] == "/prompt" and e["status"] == 400]) == 1
    assert len([e for e in log if e["path"] == "/view"]) == 1


def test_retries_spent_surface_the_error_as_before(sim_url):
    _faults(sim_url, http_error_rate=1)

    async def go() -> ComfyClient:
        async with ComfyClient(sim_url, retry_backoff=(0.01, 0.01, 0.01)) as c:
            with pytest.raises(ProtocolError, match="answered 500 to GET /system_stats"):
                await c.system_stats()
            with pytest.raises(ProtocolError, match="500"):
                await c.submit(tiny_workflow())
            return c

    client = asyncio.run(go())
    log = _log(sim_url)
    assert len([e for e in log if e["path"] == "/system_stats"]) == 4  # 1 + 3 retries
    assert client.retries >= 3 + 3


@pytest.fixture(params=["reset", "closed"])
def drops_first(request: Any) -> Iterator[tuple[str, list[str]]]:
    """A server that drops the first two connections without an answer (reset, or closed: a
    keep-alive connection closed under us), then answers /system_stats like ComfyUI. (aiohttp
    itself tries an idempotent request once more after such a drop; the second is ours.)"""
    seen: list[str] = []
    reset = request.param == "reset"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            if len(seen) <= 2:
                self.close_connection = True  # gone before a byte of the answer
                if reset:  # linger 0: close() sends RST instead of FIN
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                return
            body = json.dumps({"system": {}, "devices": [{"name": "cuda:0"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_dropped_before_the_answer_is_retried(drops_first):
    url, seen = drops_first

    async def go() -> ComfyClient:
        async with ComfyClient(url, retry_backoff=QUICK) as c:
            stats = await c.system_stats()
            assert stats["devices"][0]["name"] == "cuda:0"
            return c

    assert 1 <= asyncio.run(go()).retries <= 2
    assert seen == ["/system_stats"] * 3


def test_nobody_listening_or_answering_is_not_retried():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)

    async def go() -> tuple[ComfyClient, ComfyClient]:
        async with ComfyClient("http://127.0.0.1:9", timeout=2, retry_backoff=QUICK) as refused:
            with pytest.raises(BackendUnavailable, match="cannot reach ComfyUI"):
                await refused.system_stats()
        port = silent.getsockname()[1]
        async with ComfyClient(f"http://127.0.0.1:{port}", timeout=0.5) as hung:
            with pytest.raises(BackendTimeout):
                await hung.queue()
        return refused, hung

    try:
        refused, hung = asyncio.run(go())
    finally:
        silent.close()
    assert refused.retries == 0 and hung.retries == 0
