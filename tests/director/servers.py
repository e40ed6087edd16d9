"""Local HTTP servers for the director tests: aiohttp apps on loopback, each in its own thread.

They answer with the shapes of the real services (Chatterbox ``POST /generate``, OpenAI
``/v1/audio/speech``, OpenAI ``/v1/chat/completions``, Anthropic ``/v1/messages``); what each
answers is scripted by the test.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import socket
import struct
import threading
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import av
import numpy as np
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AppThread:
    """An aiohttp app served on 127.0.0.1 (a free port) from a daemon thread."""

    def __init__(self, routes: list[tuple[str, str, Handler]]) -> None:
        self.routes = routes
        self.url = ""
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(middlewares=[self._track])
        for method, path, handler in self.routes:
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    @web.middleware
    async def _track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    def __enter__(self) -> AppThread:
        self._thread.start()
        assert self._ready.wait(10), "test server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def free_port_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tone(seconds: float, rate: int = 24000, freq: float = 440.0) -> np.ndarray:
    """A sine tone at half scale, as float samples."""
    t = np.arange(round(seconds * rate)) / rate
    return 0.5 * np.sin(2 * math.pi * freq * t)


def wav_bytes(samples: np.ndarray, rate: int = 24000, *, float32: bool = False) -> bytes:
    """A WAV file in memory: 16-bit PCM, or 32-bit float like torchaudio writes."""
    if not float32:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((samples * 32767).astype("<i2").tobytes())
        return buf.getvalue()
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(data)) + b"WAVE" + chunks + data


def mp3_bytes(samples: np.ndarray, rate: int = 24000) -> bytes:
    """An MP3 file in memory (PyAV's libmp3lame)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        pcm = (samples * 32767).astype("<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


#: Seconds of tone a scripted speech server answers per character of text.
SECONDS_PER_CHAR = 0.01


def chatterbox_app(answer: str = "wav") -> AppThread:
    """A Chatterbox-like ``POST /generate``: JSON in, a tone as long as the text out (WAV, or
    MP3 with ``answer="mp3"``)."""

    async def generate(request: web.Request) -> web.Response:
        body = await request.json()
        text = body["text"]
        await asyncio.sleep(0.02)  # long enough for a second request to overlap, if sent
        samples = tone(len(text) * SECONDS_PER_CHAR)
        if answer == "mp3":
            return web.Response(body=mp3_bytes(samples), content_type="audio/mpeg")
        return web.Response(body=wav_bytes(samples), content_type="audio/wav")

    return AppThread([("POST", "/generate", generate)])


def openai_speech_app() -> AppThread:
    """An OpenAI-compatible ``POST /v1/audio/speech`` (Kokoro-FastAPI's shape): a tone as long
    as the ``input``, as 32-bit float WAV the way torchaudio writes it."""

    async def speech(request: web.Request) -> web.Response:
        body = await request.json()
        missing = {"model", "input", "voice", "response_format", "speed"} - set(body)
        if missing:
            return web.json_response({"detail": f"missing {sorted(missing)}"}, status=422)
        samples = tone(len(body["input"]) * SECONDS_PER_CHAR)
        return web.Response(body=wav_bytes(samples, float32=True), content_type="audio/wav")

    return AppThread([("POST", "/v1/audio/speech", speech)])


def spoken_texts(server: AppThread) -> list[str]:
    """The texts a speech stand-in was asked to speak, in order (Chatterbox's ``text``,
    OpenAI's ``input``)."""
    texts = []
    for request in server.requests:
        body = json.loads(request["body"])
        texts.append(body["text"] if "text" in body else body["input"])
    return texts


#: Seconds of tone the scripted stand-in answers per character (about a person's pace).
SCRIPTED_SECONDS_PER_CHAR = 0.05


def scripted_speech_app(
    answers: Callable[[int, str], str], freq: float = 440.0, api: str = "chatterbox"
) -> AppThread:
    """A speech server whose answer to the n-th request (from 0) is scripted by
    ``answers(n, text)``: "ok" (a ``freq`` tone, the stand-in's voice, about as long as a person
    would take to say the text and never under half a second), "500" / "503" / "429" / "422" (a
    JSON error with that status), or "reset" (the connection is closed without an answer, as a
    server that crashed mid-request does). ``api``: "chatterbox" (``POST /generate``, the
    text in ``text``) or "openai" (``POST /v1/audio/speech``, the text in ``input``)."""
    count = [0]

    async def speak(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        text = body["text"] if api == "chatterbox" else body["input"]
        n = count[0]
        count[0] += 1
        what = answers(n, text)
        if what == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if what != "ok":
            headers = {"Retry-After": "0"} if what == "429" else None
            return web.json_response({"detail": f"scripted {what}"}, status=int(what),
                                     headers=headers)  # fmt: skip
        samples = tone(max(0.5, len(text) * SCRIPTED_SECONDS_PER_CHAR), freq=freq)
        return web.Response(body=wav_bytes(samples), content_type="audio/wav")

    path = "/generate" if api == "chatterbox" else "/v1/audio/speech"
    return AppThread([("POST", path, speak)])


def tone_share(samples: np.ndarray, rate: int, freq: float = 440.0) -> float:
    """The share of a signal's energy within 10 Hz of ``freq``: about 1 for a stand-in's tone,
    near 0 for speech."""
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    total = float(power.sum())
    return float(power[np.abs(freqs - freq) <= 10].sum()) / total if total else 0.0
