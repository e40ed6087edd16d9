"""Helpers of the sim tests: fixture loading, a sync client and a websocket recorder."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from videofactory.sim import ServerThread, SimOptions

FIXTURES = Path(__file__).parents[1] / "fixtures" / "comfyui"
TEMPLATES = Path(__file__).parents[2] / "videofactory" / "workflows" / "sim"


def load_fixture(name: str) -> Any:
    """A JSON fixture captured from a real ComfyUI 0.3.64."""
    return json.loads((FIXTURES / name).read_text())


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """A websocket capture, one message per line."""
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]


def workflow(name: str) -> dict[str, Any]:
    """A fixture workflow (API format)."""
    return load_fixture(f"workflows/{name}")


def png_bytes(
    size: tuple[int, int] = (8, 8), colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    """A small real PNG."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


class WsRecorder:
    """A websocket client that records every message in a background thread."""

    def __init__(self, url: str, client_id: str | None) -> None:
        ws_url = url.replace("http://", "ws://") + "/ws"
        if client_id is not None:
            ws_url += f"?clientId={client_id}"
        self.client_id = client_id
        self.messages: list[dict[str, Any]] = []
        #: How the connection ended (None while open or after a clean close by us).
        self.closed: ConnectionClosed | None = None
        self._ws = connect(ws_url, max_size=None)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.wait_for(lambda m: m.get("type") == "status")

    def _read(self) -> None:
        try:
            for raw in self._ws:
                if isinstance(raw, bytes):
                    event = int.from_bytes(raw[:4], "big")
                    msg: dict[str, Any] = {
                        "__binary__": True,
                        "event_type": event,
                        "length": len(raw),
                    }
                    if event == 3:
                        n = int.from_bytes(raw[4:8], "big")
                        msg.update(node_id=raw[8 : 8 + n].decode(), text=raw[8 + n :].decode())
                else:
                    msg = json.loads(raw)
                with self._lock:
                    self.messages.append(msg)
        except ConnectionClosed as exc:
            self.closed = exc

    def send(self, obj: Any) -> None:
        """Send a JSON text frame."""
        self._ws.send(json.dumps(obj))

    def snapshot(self) -> list[dict[str, Any]]:
        """Messages so far."""
        with self._lock:
            return list(self.messages)

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        """First recorded message matching ``pred`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.snapshot():
                if pred(msg):
                    return msg
            time.sleep(0.01)
        raise AssertionError(f"no matching websocket message; got {self.snapshot()}")

    def wait_done(self, prompt_id: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait for ``executing`` with node None for ``prompt_id``; returns all messages."""
        self.wait_for(
            lambda m: (
                m.get("type") == "executing"
                and m["data"].get("node") is None
                and m["data"].get("prompt_id") == prompt_id
            ),
            timeout,
        )
        return self.snapshot()

    def ended(self, timeout: float = 20.0) -> bool:
        """Wait until the server side ended the connection; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Close and join."""
        self._ws.close()
        self._thread.join(5)


class SimClient:
    """Sync HTTP helper bound to one simulated server."""

    def __init__(self, sim: ServerThread) -> None:
        self.sim = sim
        self.url = sim.url
        self.http = httpx.Client(base_url=sim.url, timeout=30)
        self._sockets: list[WsRecorder] = []

    @property
    def root(self) -> Path:
        """The server's base directory."""
        assert self.sim.options.base_directory is not None
        return Path(self.sim.options.base_directory)

    def ws(self, client_id: str | None = None) -> WsRecorder:
        """Open a recorded websocket (closed at teardown)."""
        rec = WsRecorder(self.url, client_id)
        self._sockets.append(rec)
        return rec

    def submit(self, prompt: dict[str, Any], **body: Any) -> httpx.Response:
        """POST /prompt."""
        return self.http.post("/prompt", json={"prompt": prompt, **body})

    def history(self, prompt_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the prompt is in history; return its entry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.http.get(f"/history/{prompt_id}").json()
            if entry:
                return entry[prompt_id]
            time.sleep(0.02)
        raise AssertionError(f"{prompt_id} never reached history")

    def run(self, prompt: dict[str, Any], **body: Any) -> dict[str, Any]:
        """Submit, expect 200, wait for the history entry."""
        r = self.submit(prompt, **body)
        assert r.status_code == 200, r.text
        return self.history(r.json()["prompt_id"])

    def upload(self, name: str, data: bytes, **fields: str) -> httpx.Response:
        """POST /upload/image."""
        return self.http.post(
            "/upload/image", files={"image": (name, data, "application/octet-stream")}, data=fields
        )

    def file(self, ref: dict[str, str]) -> Path:
        """Local path of a history file reference."""
        return self.root / ref["type"] / ref["subfolder"] / ref["filename"]

    def close(self) -> None:
        """Close sockets and the HTTP client."""
        for rec in self._sockets:
            rec.close()
        self.http.close()


def start_sim(tmp_path: Path, **options: Any) -> tuple[ServerThread, SimClient]:
    """A server on a free port with its folders under ``tmp_path``."""
    sim = ServerThread(SimOptions(base_directory=tmp_path, port=0, **options))
    sim.start()
    return sim, SimClient(sim)


def new_id() -> str:
    """A websocket client id like the web UI's."""
    return uuid.uuid4().hex


def tiny(i: int) -> dict:
    """A prompt without render nodes, different for every ``i`` (never cached)."""
    wf = workflow("image_empty_to_save.json")
    wf["1"]["inputs"]["color"] = i
    wf["2"]["inputs"]["filename_prefix"] = f"tiny{i}"
    return wf
