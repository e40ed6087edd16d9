"""Contract: transport failures map to FactoryErrors the scheduler can act on, never tracebacks:
unreachable, silent, HTML and garbage servers, a /view shorter than announced, unsafe names."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from videofactory.comfy.check import check_server
from videofactory.comfy.client import ComfyClient
from videofactory.comfy.results import OutputRef, PromptResult
from videofactory.errors import BackendTimeout, BackendUnavailable, ProtocolError


def serve(body: bytes, content_type: str, *, announce: int | None = None) -> Iterator[str]:
    """A plain HTTP server answering every GET/POST with ``body`` (``announce``: a lying
    Content-Length)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(announce if announce else len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def html_url():
    yield from serve(b"<html><body>router login</body></html>", "text/html")


@pytest.fixture
def garbage_url():
    yield from serve(b"\x00\xff{nope", "application/json")


@pytest.fixture
def short_view_url():
    yield from serve(b"\x89PNG\r\n\x1a\n" + b"x" * 100, "image/png", announce=5000)


@pytest.fixture
def silent_url():
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_unreachable_server():
    async def go():
        async with ComfyClient("http://127.0.0.1:9", timeout=2) as c:
            with pytest.raises(BackendUnavailable, match="cannot reach ComfyUI") as info:
                await c.system_stats()
            assert info.value.retryable and info.value.url == "http://127.0.0.1:9"

    asyncio.run(go())


def test_silent_server_times_out(silent_url):
    async def go():
        async with ComfyClient(silent_url, timeout=0.5) as c:
            with pytest.raises(BackendTimeout, match="did not answer"):
                await c.queue()

    asyncio.run(go())


def test_html_and_garbage_are_not_comfyui(html_url, garbage_url):
    async def go():
        for url in (html_url, garbage_url):
            async with ComfyClient(url, timeout=2) as c:
                with pytest.raises(ProtocolError, match="not a ComfyUI server"):
                    await c.system_stats()
                with pytest.raises(ProtocolError):
                    await c.object_info()

    asyncio.run(go())


def test_view_shorter_than_announced(short_view_url, tmp_path):
    async def go():
        async with ComfyClient(short_view_url, timeout=2, retry_backoff=(0.01, 0.01)) as c:
            ref = OutputRef("9", "a_00001_.png", "", "output", "images")
            with pytest.raises(ProtocolError, match="a_00001_.png"):
                await c.download(ref, tmp_path / "a.png")
            assert c.retries == 2  # broken off: downloaded again from scratch, then given up
            assert not (tmp_path / "a.png").exists()
            assert not list(tmp_path.glob(".*part"))  # no half file left behind

    asyncio.run(go())


@pytest.mark.parametrize(
    ("filename", "subfolder"),
    [
        ("../../etc/passwd", ""),
        ("a.png", "../outside"),
        ("/etc/passwd", ""),
        ("a.png", "/abs"),
        ("x\\..\\y.png", ""),
        ("sub/a.png", ""),
        ("", ""),
    ],
)
def test_names_that_would_escape_are_refused(sim, tmp_path, filename, subfolder):
    async def go():
        async with ComfyClient(sim.url) as c:
            ref = OutputRef("1", filename, subfolder, "output", "images")
            with pytest.raises(ProtocolError, match="unsafe|outside"):
                await c.download_all(PromptResult("p", (ref,)), tmp_path / "dest")
            assert not (tmp_path / "dest").exists()

    asyncio.run(go())


def test_check_reports_each_failure_as_a_step(html_url):
    report = asyncio.run(check_server(html_url, timeout=2))
    assert not report.ok and report.steps[-1].name == "system_stats"
    assert "not a ComfyUI server" in report.steps[-1].detail
