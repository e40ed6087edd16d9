"""Small HTTP pieces of the server: ComfyUI's origin guard, /view's image re-encoding, and
the HTTP error fault (aiohttp's own 500)."""

from __future__ import annotations

import io
import ipaddress
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

from aiohttp import web
from PIL import Image

__all__ = ["SERVER_ERROR_TEXT", "http_errors", "origin_guard", "reencode", "server_error"]

log = logging.getLogger("videofactory.sim")

#: The body aiohttp (and so ComfyUI) answers when a handler raises.
SERVER_ERROR_TEXT = "500 Internal Server Error\n\nServer got itself in trouble"
#: Paths the HTTP error fault spares (``/api`` prefix taken off): the websocket, whose
#: failures are drop_ws_rate's, and the index page. The simulator's /sim/ routes are spared too.
_SPARED = ("/ws", "/")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@web.middleware
async def origin_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """ComfyUI's guard: a loopback Host with a different Origin host gets 403, empty body."""
    if "Host" in request.headers and "Origin" in request.headers:
        host = request.headers["Host"].lower()
        origin = urllib.parse.urlparse(request.headers["Origin"])
        origin_domain = origin.netloc.lower()
        host_parsed = urllib.parse.urlsplit("//" + host)
        loopback = _is_loopback(host_parsed.hostname)
        if origin.port is None:
            host = host_parsed.hostname or ""
        if host_parsed.port is None:
            origin_domain = origin.hostname or ""
        if loopback and host and origin_domain and host != origin_domain:
            return web.Response(status=403)
    if request.method == "OPTIONS":
        return web.Response()
    return await handler(request)


def reencode(path: str, query: dict[str, str]) -> tuple[bytes, str]:
    """/view's ``preview=webp;90`` and ``channel=rgb|a`` (images only, like ComfyUI)."""
    buf = io.BytesIO()
    with Image.open(path) as img:
        if "preview" in query:
            parts = query["preview"].split(";")
            fmt = (
                parts[0]
                if parts[0] in ("webp", "jpeg") and "a" not in query.get("channel", "")
                else "webp"
            )
            quality = int(parts[-1]) if parts[-1].isdigit() else 90
            out = img.convert("RGB") if fmt == "jpeg" or query.get("channel") == "rgb" else img
            out.save(buf, format=fmt, quality=quality)
            return buf.getvalue(), f"image/{fmt}"
        if query.get("channel") == "rgb":
            img.convert("RGB").save(buf, format="PNG")
        else:
            alpha = img.convert("RGBA").getchannel("A")
            Image.merge("RGBA", (alpha, alpha, alpha, alpha)).save(buf, format="PNG")
        return buf.getvalue(), "image/png"


def server_error() -> web.Response:
    """aiohttp's answer to a handler that raised (``web_protocol.handle_error``): a text/plain
    500, and the connection closed after it."""
    response = web.Response(status=500, text=SERVER_ERROR_TEXT, content_type="text/plain")
    response.force_close()
    return response


def http_errors(draw: Callable[[], str | None]) -> Any:
    """A middleware answering 500 to the requests ``draw`` picks: "before" instead of the
    handler, "after" once the handler has done its work (its answer thrown away)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path.removeprefix("/api") or "/"
        if (
            request.match_info.http_exception is not None  # no such route: 404/405 as ever
            or path in _SPARED
            or path.startswith("/sim/")
        ):
            return await handler(request)
        fate = draw()
        if fate is None:
            return await handler(request)
        if fate == "after":
            await handler(request)
        log.info("fault: 500 to %s %s (%s handling it)", request.method, request.path, fate)
        return server_error()

    return middleware
