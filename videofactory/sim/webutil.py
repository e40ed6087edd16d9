"""Small HTTP pieces of the server: ComfyUI's origin guard and /view's image re-encoding."""

from __future__ import annotations

import io
import ipaddress
import urllib.parse
from typing import Any

from aiohttp import web
from PIL import Image

__all__ = ["origin_guard", "reencode"]


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
