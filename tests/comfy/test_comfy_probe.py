"""The sync probe and the async client read ComfyUI's answers the same way (comfy.protocol).

Real servers on loopback: the simulator, and a plain HTTP server that answers what a wrong
server would (a proxy's 403, a web page, JSON that is not ComfyUI's, a 500, silence).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.probe import ComfyProbe, is_comfyui
from videofactory.comfy.protocol import GIB, queue_ids, vram_gb
from videofactory.errors import BackendError, BackendTimeout, BackendUnavailable, ProtocolError

from .conftest import FIXTURES

#: path -> (status, content type, body, seconds to wait before answering)
ANSWERS: dict[str, tuple[int, str, bytes, float]] = {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        status, ctype, body, delay = ANSWERS[self.server.server_address[1]]  # type: ignore[index]
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the asker gave up waiting (the timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def wrong_server() -> Iterator[str]:
    """The URL of a plain server on loopback; ``_answer`` sets what it answers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        ANSWERS.pop(port, None)


def _answer(url: str, status: int, ctype: str, body: bytes, delay: float = 0.0) -> None:
    ANSWERS[int(url.rsplit(":", 1)[1])] = (status, ctype, body, delay)


def _both(url: str, *, timeout: float = 2.0) -> list[BaseException | dict]:
    """What the probe and the client each make of ``/system_stats`` at ``url``."""
    out: list[BaseException | dict] = []
    with ComfyProbe(timeout=timeout) as probe:
        try:
            out.append(probe.system_stats(url))
        except BackendError as exc:
            out.append(exc)

    async def ask() -> None:
        async with ComfyClient(url, timeout=timeout, retry_backoff=()) as client:
            try:
                out.append(await client.system_stats())
            except BackendError as exc:
                out.append(exc)

    asyncio.run(ask())
    return out


def test_the_probe_reads_a_comfyui_server(sim_url) -> None:
    with ComfyProbe() as probe:
        stats = probe.system_stats(sim_url)
    used, total = vram_gb(stats)
    device = stats["devices"][0]
    assert total == pytest.approx(device["vram_total"] / GIB)
    assert used == pytest.approx((device["vram_total"] - device["vram_free"]) / GIB)
    assert is_comfyui(sim_url)


@pytest.mark.parametrize(
    ("status", "ctype", "body", "error", "words"),
    [
        (403, "text/plain", b"Forbidden", ProtocolError, "refused GET /system_stats (403)"),
        (200, "text/html", b"<html>router</html>", ProtocolError, "is not a ComfyUI server"),
        (200, "application/json", b'{"status": "ok"}', ProtocolError, "not ComfyUI's answer"),
        (500, "text/plain", b"boom", ProtocolError, "answered 500 to GET /system_stats"),
        (404, "text/plain", b"nope", ProtocolError, "is this a ComfyUI server?"),
    ],
)
def test_a_wrong_answer_reads_the_same_from_the_probe_and_the_client(
    wrong_server, status, ctype, body, error, words
) -> None:
    url = wrong_server
    _answer(url, status, ctype, body)
    probe_says, client_says = _both(url)
    assert isinstance(probe_says, error) and isinstance(client_says, error)
    assert words in str(probe_says)
    assert str(probe_says) == str(client_says)
    assert not is_comfyui(url)


def test_a_silent_server_is_a_timeout(wrong_server) -> None:
    url = wrong_server
    _answer(url, 200, "application/json", b"{}", delay=1.5)
    probe_says, client_says = _both(url, timeout=0.3)
    assert isinstance(probe_says, BackendTimeout) and isinstance(client_says, BackendTimeout)
    assert str(probe_says) == str(client_says) == f"{url} did not answer GET /system_stats in time"


def test_nobody_listening_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again before anyone asks
    probe_says, client_says = _both(url)
    assert isinstance(probe_says, BackendUnavailable)
    assert isinstance(client_says, BackendUnavailable)
    for said in (probe_says, client_says):
        assert str(said).startswith(f"cannot reach ComfyUI at {url} (")
        assert str(said).endswith("is the server running and is the URL right?")


def test_queue_ids_of_a_busy_queue() -> None:
    queue = json.loads((FIXTURES / "queue_busy.json").read_text())
    running, pending = queue_ids(queue)
    assert running == [item[1] for item in queue["queue_running"]]
    assert pending == [item[1] for item in queue["queue_pending"]]
    assert queue_ids({"queue_running": [["not", "an"], 7], "queue_pending": None}) == (["an"], [])


def test_a_device_without_memory_figures_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="no device memory"):
        vram_gb({"devices": []})
    with pytest.raises(ProtocolError, match="no device memory"):
        vram_gb({"devices": [{"name": "cuda:0"}]})
