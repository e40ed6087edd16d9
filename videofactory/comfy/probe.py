"""Short synchronous questions to ComfyUI servers, for threads and plain functions.

``ComfyClient`` carries a run (async, a websocket, retries over seconds); a probe asks one
thing once, with a short timeout and no retry, because its caller polls again or only wants to
know whether a server is there: the live view's VRAM readings, ``farm up``'s "is this port
taken by ComfyUI?". Its answers and failures go through ``comfy.protocol``, so they read
exactly like the client's: BackendTimeout, BackendUnavailable or ProtocolError.
"""

from __future__ import annotations

from typing import Any

import httpx

from videofactory.comfy.protocol import (
    Reply,
    check_system_stats,
    json_of,
    timed_out,
    unreachable,
)
from videofactory.errors import BackendError

__all__ = ["PROBE_TIMEOUT_S", "ComfyProbe", "is_comfyui"]

#: /system_stats answers in milliseconds on a healthy server.
PROBE_TIMEOUT_S = 2.0


class ComfyProbe:
    """One connection pool for short questions to any number of servers (one thread's).

    Use as ``with ComfyProbe() as probe: probe.system_stats(url)``.
    """

    def __init__(self, *, timeout: float = PROBE_TIMEOUT_S) -> None:
        # trust_env=False: an HTTP_PROXY meant for the internet must not carry a question to
        # a server on this machine or this network (the proxy would answer for it).
        self._http = httpx.Client(timeout=timeout, trust_env=False)

    def __enter__(self) -> ComfyProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close its connections."""
        self._http.close()

    def _json(self, url: str, method: str, path: str, **kwargs: Any) -> Any:
        base = url.rstrip("/")
        try:
            resp = self._http.request(method, base + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise timed_out(base, method, path) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unreachable(base, exc) from exc
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return json_of(base, method, path, Reply(resp.status_code, headers, resp.content))

    def system_stats(self, url: str) -> dict[str, Any]:
        """GET /system_stats of the server at ``url``."""
        return check_system_stats(url.rstrip("/"), self._json(url, "GET", "/system_stats"))


def is_comfyui(url: str, *, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a ComfyUI server (or something that answers like one) is at ``url``."""
    with ComfyProbe(timeout=timeout) as probe:
        try:
            probe.system_stats(url)
        except BackendError:
            return False
        return True
