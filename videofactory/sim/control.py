"""Simulator-only routes (not ComfyUI): the request log and runtime fault settings.

* ``GET /sim/requests``: every request seen (``GET /sim/requests`` itself excepted) and every
  prompt execution, oldest first, at most 10 000::

      {"event": "request", "method": "POST", "path": "/prompt", "status": 200,
       "prompt_id": "...", "time": 1.7e9}
      {"event": "execution_start", "method": null, "path": null, "status": null,
       "prompt_id": "...", "time": ...}
      {"event": "execution_end", ..., "status": "success" | "error" | "interrupted",
       "gpu_s": 8.57}

  ``gpu_s`` of an ``execution_end``: the modelled GPU seconds the prompt spent on this card
  (``sim.gpu``'s model at its ``gpu_speed``), whatever ``time_scale`` made of them in real
  time: what a bench counts as the GPU time a run submitted.

  ``prompt_id`` of a POST /prompt is the id it was queued under (or the one the body asked
  for, when it was refused); a test proves no task rendered twice by counting
  ``execution_start`` per prompt id across a farm.
* ``GET /sim/faults``: the fault settings in force (``SimFaults`` fields) plus ``jobs``, the
  prompts taken so far, and ``http_errors``, the requests the HTTP error fault answered 500.
* ``POST /sim/faults``: a JSON object of ``SimFaults`` fields to change (``{"reset": true}``
  first restores the defaults); answers like GET, or 400 ``{"error": "..."}`` naming the bad
  field. ``slow_start_s`` only matters at start.
"""

from __future__ import annotations

import collections
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from videofactory.errors import ConfigError
from videofactory.sim.faults import FaultInjector
from videofactory.sim.options import SimFaults

__all__ = ["FaultRoutes", "RequestLog"]

#: Paths never logged (reading the log must not change it).
_UNLOGGED = ("/sim/requests", "/api/sim/requests")


class RequestLog:
    """The simulator's request and execution log."""

    def __init__(self, maxlen: int = 10000) -> None:
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=maxlen)

    def execution(
        self, event: str, prompt_id: str, status: str | None = None, gpu_s: float | None = None
    ) -> None:
        """Record ``execution_start`` or ``execution_end`` of a prompt (with ``gpu_s``)."""
        entry = {
            "event": event,
            "method": None,
            "path": None,
            "status": status,
            "prompt_id": prompt_id,
            "time": time.time(),
        }
        if gpu_s is not None:
            entry["gpu_s"] = gpu_s
        self.entries.append(entry)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Log one request with its answer's status (and the prompt id of POST /prompt)."""
        entry: dict[str, Any] = {
            "event": "request",
            "method": request.method,
            "path": request.path,
            "status": None,
            "prompt_id": request.match_info.get("prompt_id"),
            "time": time.time(),
        }
        if request.path not in _UNLOGGED:
            self.entries.append(entry)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            entry["status"] = exc.status
            raise
        except Exception:
            entry["status"] = 500
            raise
        entry["status"] = response.status
        if request.method == "POST" and request.path.endswith("/prompt"):
            with contextlib.suppress(Exception):
                if response.status == 200:
                    entry["prompt_id"] = json.loads(response.body)["prompt_id"]  # type: ignore[attr-defined]
                else:  # refused: the id the client asked for, if any
                    asked = (await request.json()).get("prompt_id")
                    entry["prompt_id"] = str(asked) if asked is not None else None
        return response

    async def handle(self, request: web.Request) -> web.Response:
        """GET /sim/requests."""
        return web.json_response(list(self.entries))


class FaultRoutes:
    """GET/POST /sim/faults on one server's injector."""

    def __init__(self, injector: FaultInjector) -> None:
        self.injector = injector

    async def get(self, request: web.Request) -> web.Response:
        """The faults in force."""
        return web.json_response(self.injector.state())

    async def post(self, request: web.Request) -> web.Response:
        """Change faults at runtime."""
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        base = SimFaults() if body.pop("reset", False) else self.injector.faults
        try:
            self.injector.set_faults(base.updated(body))
        except ConfigError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.injector.state())
