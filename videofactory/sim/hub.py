"""Websocket side of the server: who is connected, and one ordered outbox to all of them.

Follows ComfyUI's ``server.py``: sockets are registered by ``clientId`` (a new connection with
the same id replaces the old registration, and the old one's close then unregisters the id,
orphaning the new socket: the reconnect quirk clients must live with); every message goes
through one queue drained by one task, so messages keep the order they were produced in;
``sid=None`` broadcasts; messages to an id that is not connected are dropped.

``drop_all()`` (fault injection) cuts every connection at the TCP level, without a close
frame, the way a network failure or a crashed proxy does; ``drop_in_order()`` does it after the
messages already produced went out, so a cut "mid-prompt" is exactly there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["SocketHub"]

log = logging.getLogger("videofactory.sim")

#: Outbox marker: cut every connection here.
_DROP = "__drop_all__"


class SocketHub:
    """Registered websockets plus the message pump; also holds ComfyUI's "current client"."""

    def __init__(
        self, queue_info: Callable[[], dict[str, Any]], features: Callable[[], dict[str, Any]]
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.metadata: dict[str, dict[str, Any]] = {}
        #: client_id of the prompt that runs (or ran last), as in ComfyUI's PromptServer.
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self._queue_info = queue_info
        self._features = features
        self._outbox: asyncio.Queue[tuple[str | int, Any, str | None]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        #: Every open websocket's transport, registered or orphaned (for drop_all).
        self._transports: dict[web.WebSocketResponse, asyncio.Transport] = {}

    def start(self) -> None:
        """Start the pump task."""
        self._pump = self.loop.create_task(self._run_pump())

    async def close(self) -> None:
        """Stop the pump and close every socket."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for ws in list(self.sockets.values()):
            with contextlib.suppress(Exception):
                await ws.close()
        self.sockets.clear()

    def drop_all(self) -> int:
        """Abort every websocket connection (no close frame); returns how many were cut."""
        transports = list(self._transports.values())
        self._transports.clear()
        for transport in transports:
            transport.abort()
        return len(transports)

    def drop_in_order(self) -> None:
        """Queue a drop_all behind the messages produced so far (event loop only)."""
        self._outbox.put_nowait((_DROP, None, None))

    def stop_pump(self) -> None:
        """Stop delivering messages at once (a crashed server sends nothing more)."""
        if self._pump is not None:
            self._pump.cancel()

    def send(self, event: str | int, data: Any, sid: str | None) -> None:
        """Queue a message (event loop only; node threads use call_soon_threadsafe)."""
        self._outbox.put_nowait((event, data, sid))

    def queue_updated(self) -> None:
        """Broadcast the queue size (``status`` without ``sid``)."""
        self.send("status", {"status": self._queue_info()}, None)

    async def _run_pump(self) -> None:
        while True:
            event, data, sid = await self._outbox.get()
            if event is _DROP:
                self.drop_all()
                continue
            await self._deliver(event, data, sid)

    async def _deliver(self, event: str | int, data: Any, sid: str | None) -> None:
        if isinstance(event, int):  # binary: 4-byte big-endian event number + payload
            payload: bytes | str = struct.pack(">I", event) + data
        else:
            payload = json.dumps({"type": event, "data": data})
        targets = (
            list(self.sockets.values())
            if sid is None
            else ([self.sockets[sid]] if sid in self.sockets else [])
        )
        for ws in targets:
            try:
                if isinstance(payload, bytes):
                    await ws.send_bytes(payload)
                else:
                    await ws.send_str(payload)
            except Exception as exc:  # a socket that went away loses the message, as in ComfyUI
                log.debug("websocket send failed: %s", exc)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws?clientId=..."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if request.transport is not None:
            self._transports[ws] = request.transport
        sid = request.rel_url.query.get("clientId", "")
        if sid:
            self.sockets.pop(sid, None)
        else:
            sid = uuid.uuid4().hex
        self.sockets[sid] = ws
        self.metadata[sid] = {"feature_flags": {}}
        try:
            # Sent directly (not via the pump), like ComfyUI's awaited self.send.
            await ws.send_str(
                json.dumps({"type": "status", "data": {"status": self._queue_info(), "sid": sid}})
            )
            if self.client_id == sid and self.last_node_id is not None:
                await ws.send_str(
                    json.dumps({"type": "executing", "data": {"node": self.last_node_id}})
                )
            first = True
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                    if first and isinstance(data, dict) and data.get("type") == "feature_flags":
                        self.metadata.setdefault(sid, {})["feature_flags"] = data.get("data", {})
                        await ws.send_str(
                            json.dumps({"type": "feature_flags", "data": self._features()})
                        )
                    first = False
                except json.JSONDecodeError:
                    log.warning("invalid JSON from websocket client %s", sid)
        finally:
            # Unregisters by id even if a newer socket took the id: ComfyUI's reconnect quirk.
            self.sockets.pop(sid, None)
            self.metadata.pop(sid, None)
            self._transports.pop(ws, None)
        return ws
