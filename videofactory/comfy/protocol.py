"""What ComfyUI's HTTP answers look like, and what each wrong one means (pure).

The one place that knows the shapes of ``/system_stats`` and ``/queue``, that a 403 is
ComfyUI's origin check (or a proxy) rather than a missing page, and how a transport failure is
told to a person. The async ``ComfyClient`` (a run's traffic) and the sync ``ComfyProbe``
(short questions from threads and plain code) both send their answers through here, so that a
server that is down, hung or not ComfyUI reads the same whichever of them asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from videofactory.errors import BackendTimeout, BackendUnavailable, ProtocolError

__all__ = [
    "Device",
    "device_of",
    "GIB",
    "Reply",
    "check_queue",
    "check_system_stats",
    "item_id",
    "json_of",
    "queue_ids",
    "server_error",
    "timed_out",
    "unreachable",
    "vram_gb",
]

#: ComfyUI reports memory in bytes; we show GB of 2**30 bytes, like its own UI.
GIB = 1024**3


@dataclass(frozen=True)
class Reply:
    """A whole HTTP answer: status, headers (names in lower case) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not, or nests too deep to parse)."""
        try:
            return json.loads(self.content)
        except RecursionError:
            raise ValueError("JSON nested too deeply to parse") from None


# -- transport failures ---------------------------------------------------------------------------


def timed_out(url: str, method: str, path: str) -> BackendTimeout:
    """Nobody answered in time: the server is hung or far too busy."""
    return BackendTimeout(f"{url} did not answer {method} {path} in time", url=url)


def unreachable(url: str, exc: BaseException) -> BackendUnavailable:
    """Nobody listens, or the connection broke: the server is down or the URL is wrong."""
    return BackendUnavailable(
        f"cannot reach ComfyUI at {url} ({type(exc).__name__}: {exc}); "
        "is the server running and is the URL right?",
        url=url,
    )


# -- answers --------------------------------------------------------------------------------------


def server_error(url: str, method: str, path: str, reply: Reply) -> ProtocolError:
    """What a 5xx answer raises (once its retries, if any, are spent)."""
    return ProtocolError(
        f"{url} answered {reply.status_code} to {method} {path}: {reply.text[:200]!r}", url=url
    )


def json_of(url: str, method: str, path: str, reply: Reply) -> Any:
    """The JSON of a 200 answer; a ProtocolError that says what went wrong for any other."""
    if reply.status_code >= 500:
        raise server_error(url, method, path, reply)
    if reply.status_code == 403:
        raise ProtocolError(
            f"{url} refused {method} {path} (403): a proxy in front of ComfyUI, or "
            "ComfyUI's origin check; connect to ComfyUI directly",
            url=url,
        )
    if reply.status_code != 200:
        raise ProtocolError(
            f"{url} answered {reply.status_code} to {method} {path}; is this a ComfyUI server?",
            url=url,
        )
    try:
        return reply.json()
    except ValueError as exc:
        raise ProtocolError(
            f"{url} is not a ComfyUI server: {method} {path} answered "
            f"{reply.headers.get('content-type', 'no content type')} {reply.text[:80]!r}",
            url=url,
        ) from exc


def check_system_stats(url: str, data: Any) -> dict[str, Any]:
    """``/system_stats`` as ComfyUI answers it (``system`` and a list of ``devices``)."""
    if not isinstance(data, dict) or "devices" not in data:
        raise ProtocolError(f"{url}/system_stats is not ComfyUI's answer", url=url)
    return data


def check_queue(url: str, data: Any) -> dict[str, Any]:
    """``/queue`` as ComfyUI answers it (``queue_running`` and ``queue_pending`` lists)."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{url}/queue is not a mapping", url=url)
    return data


def item_id(item: Any) -> Any:
    """The prompt id of a queue item (a 5-element array: number, prompt id, prompt, extra
    data, outputs to execute); None for anything else."""
    return item[1] if isinstance(item, list) and len(item) > 1 else None


def queue_ids(queue: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The prompt ids of a ``/queue`` answer: (running, pending)."""

    def ids(key: str) -> list[str]:
        return [str(i) for i in map(item_id, queue.get(key) or []) if i is not None]

    return ids("queue_running"), ids("queue_pending")


@dataclass(frozen=True)
class Device:
    """The first device of a ``/system_stats`` answer: its name, type (cuda, cpu, mps ...) and
    memory in GB (on a ``cpu`` device ComfyUI reports RAM there). Zeros where it says none."""

    name: str = ""
    type: str = ""
    total_gb: float = 0.0
    free_gb: float = 0.0


def device_of(stats: Mapping[str, Any] | None) -> Device:
    """What a ``/system_stats`` answer says of its first device (never raises)."""
    devices = (stats or {}).get("devices")
    device = devices[0] if isinstance(devices, list) and devices else {}
    if not isinstance(device, Mapping):
        return Device()

    def gb(key: str) -> float:
        try:
            return float(device.get(key) or 0) / GIB
        except (TypeError, ValueError):
            return 0.0

    name, kind = device.get("name"), device.get("type")
    return Device(str(name or ""), str(kind or ""), gb("vram_total"), gb("vram_free"))


def vram_gb(stats: Mapping[str, Any]) -> tuple[float, float]:
    """(used, total) GB of the first device of a ``/system_stats`` answer.

    Raises:
        ProtocolError: no device, or one without ``vram_total``/``vram_free`` in bytes.
    """
    try:
        device = (stats.get("devices") or [])[0]
        total = float(device["vram_total"]) / GIB
        return total - float(device["vram_free"]) / GIB, total
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"/system_stats names no device memory ({exc!r})") from exc
