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


# -- LLM servers -------------------------------------------------------------------------------

#: What an LLM stand-in says, in order: a JSON-able dict (the shot list: a completion's content
#: as JSON text, or Anthropic's tool input), a str (the content or text as is), or
#: ``(status, body)`` (the HTTP answer as is: an error body, or "hang": 5 s of nothing first).
Answer = dict[str, Any] | str | tuple[int, Any]


def openai_completion(content: str, finish: str = "stop", model: str = "llama3.1:8b") -> dict:
    """The body of a real ``chat.completion`` answer (OpenAI's; Ollama's, vLLM's and LM
    Studio's have the same fields)."""
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 640, "total_tokens": 1452},
        "system_fingerprint": "fp_ollama",
    }


def anthropic_message(
    blocks: list, stop: str = "tool_use", model: str = "claude-sonnet-4-20250514"
) -> dict:
    """The body of a real Messages API answer."""
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 1203, "output_tokens": 702},
    }


#: ``GET /v1/models`` of Ollama (its OpenAI-compatible API lists what was pulled).
OLLAMA_MODELS = {
    "object": "list",
    "data": [
        {"id": "llama3.1:8b", "object": "model", "created": 1718141294, "owned_by": "library"},
        {"id": "qwen2.5:7b", "object": "model", "created": 1718141000, "owned_by": "library"},
    ],
}


def _script(answers: list[Answer]) -> Callable[[], Answer]:
    """The next answer each call (the last one again when they run out)."""
    calls = {"n": 0}

    def next_answer() -> Answer:
        answer = answers[min(calls["n"], len(answers) - 1)]
        calls["n"] += 1
        return answer

    return next_answer


async def _raw(answer: tuple[int, Any]) -> web.Response:
    status, body = answer
    if body == "hang":
        await asyncio.sleep(5)
    if isinstance(body, str):
        return web.Response(text=body, status=status, content_type="text/html")
    return web.json_response(body, status=status)


def ollama_app(
    answers: list[Answer], models: dict | None = None, *, models_delay_s: float = 0.0
) -> AppThread:
    """Ollama's OpenAI-compatible API (``ollama serve`` on :11434, base URL ``…/v1``):
    ``GET /v1/models`` and ``POST /v1/chat/completions``. Like Ollama it answers 400 to a
    request without ``model`` or ``messages`` and 404 to a model it does not have (with its
    error body); the n-th chat request gets ``answers[n]``. ``models_delay_s``: a server too
    busy to list its models in time."""
    listed = models if models is not None else OLLAMA_MODELS
    names = {m["id"] for m in listed["data"]}
    names |= {n.removesuffix(":latest") for n in names}
    next_answer = _script(answers)

    async def list_models(request: web.Request) -> web.Response:
        await asyncio.sleep(models_delay_s)
        return web.json_response(listed)

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return web.json_response(
                {"error": {"message": "model is required", "type": "invalid_request_error",
                           "param": None, "code": None}},
                status=400,
            )  # fmt: skip
        if body["model"] not in names:
            message = f'model "{body["model"]}" not found, try pulling it first'
            return web.json_response(
                {"error": {"message": message, "type": "api_error", "param": None, "code": None}},
                status=404,
            )
        answer = next_answer()
        if isinstance(answer, tuple):
            return await _raw(answer)
        content = answer if isinstance(answer, str) else json.dumps(answer)
        return web.json_response(openai_completion(content, model=body["model"]))

    return AppThread([("GET", "/v1/models", list_models), ("POST", "/v1/chat/completions", chat)])


#: ``GET /v1/models`` of Anthropic's API (newest first).
ANTHROPIC_MODELS = {
    "data": [
        {"type": "model", "id": "claude-sonnet-4-20250514", "display_name": "Claude Sonnet 4",
         "created_at": "2025-05-22T00:00:00Z"},
        {"type": "model", "id": "claude-3-5-haiku-20241022", "display_name": "Claude Haiku 3.5",
         "created_at": "2024-10-22T00:00:00Z"},
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-20250514",
    "last_id": "claude-3-5-haiku-20241022",
}  # fmt: skip


def anthropic_app(answers: list[Answer], key: str = "sk-ant-test") -> AppThread:
    """Anthropic's Messages API: ``GET /v1/models`` and ``POST /v1/messages``, both refusing a
    request without the right ``x-api-key`` or without ``anthropic-version`` the way the real
    API does. A dict answer is the input of a ``tool_use`` block for the tool the request
    forces (``stop_reason: tool_use``), a str a text block (``end_turn``)."""
    next_answer = _script(answers)

    def refused(request: web.Request) -> web.Response | None:
        if request.headers.get("x-api-key") != key:
            return web.json_response(
                {"type": "error",
                 "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                status=401,
            )  # fmt: skip
        if not request.headers.get("anthropic-version"):
            return web.json_response(
                {"type": "error", "error": {"type": "invalid_request_error",
                 "message": "anthropic-version: header is required"}},
                status=400,
            )  # fmt: skip
        return None

    async def list_models(request: web.Request) -> web.Response:
        return refused(request) or web.json_response(ANTHROPIC_MODELS)

    async def messages(request: web.Request) -> web.Response:
        problem = refused(request)
        if problem is not None:
            return problem
        body = await request.json()
        missing = {"model", "max_tokens", "messages"} - set(body)
        if missing:
            return web.json_response(
                {"type": "error", "error": {"type": "invalid_request_error",
                 "message": f"{sorted(missing)[0]}: Field required"}},
                status=400,
            )  # fmt: skip
        answer = next_answer()
        if isinstance(answer, tuple):
            return await _raw(answer)
        if isinstance(answer, str):
            return web.json_response(
                anthropic_message([{"type": "text", "text": answer}], "end_turn", body["model"])
            )
        tool = body.get("tool_choice", {}).get("name", "tool")
        block = {"type": "tool_use", "id": f"toolu_{len(body['messages']):02d}", "name": tool,
                 "input": answer}  # fmt: skip
        return web.json_response(anthropic_message([block], "tool_use", body["model"]))

    return AppThread([("GET", "/v1/models", list_models), ("POST", "/v1/messages", messages)])


def chat_bodies(server: AppThread) -> list[dict]:
    """The JSON bodies of the chat requests a stand-in got (its POSTs), in order."""
    return [json.loads(r["body"]) for r in server.requests if r["method"] == "POST"]


# -- scripted speech servers ------------------------------------------------------------------

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
