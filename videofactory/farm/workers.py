"""Worker health: ask every ComfyUI server of a farm how it is, all at once."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from videofactory.comfy.client import ComfyClient
from videofactory.config import FarmConfig, WorkerConfig
from videofactory.errors import BackendError

__all__ = ["WorkerStatus", "probe_farm", "probe_worker"]

#: A status check should answer fast: a healthy server replies in milliseconds.
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class WorkerStatus:
    """What one worker reported (or why it could not)."""

    id: str
    card: str
    roles: list[str]
    url: str
    reachable: bool
    device: str = ""
    vram_total_gb: float | None = None
    vram_free_gb: float | None = None
    queue_running: int | None = None
    queue_pending: int | None = None
    comfyui_version: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The status as a JSON-ready dict."""
        return asdict(self)


async def probe_worker(worker: WorkerConfig, *, timeout: float = PROBE_TIMEOUT_S) -> WorkerStatus:
    """Ask one worker for /system_stats and /queue."""
    base = {
        "id": worker.id,
        "card": worker.card,
        "roles": [r.value for r in worker.roles],
        "url": worker.url,
    }
    try:
        async with ComfyClient(worker.url, timeout=timeout) as client:
            stats, queue = await asyncio.gather(client.system_stats(), client.queue())
    except BackendError as exc:
        return WorkerStatus(**base, reachable=False, error=str(exc))
    device = (stats.get("devices") or [{}])[0]
    gib = 1024**3
    return WorkerStatus(
        **base,
        reachable=True,
        device=str(device.get("name", "")),
        vram_total_gb=round(float(device.get("vram_total", 0)) / gib, 1),
        vram_free_gb=round(float(device.get("vram_free", 0)) / gib, 1),
        queue_running=len(queue.get("queue_running") or []),
        queue_pending=len(queue.get("queue_pending") or []),
        comfyui_version=str((stats.get("system") or {}).get("comfyui_version", "")),
    )


async def probe_farm(farm: FarmConfig, *, timeout: float = PROBE_TIMEOUT_S) -> list[WorkerStatus]:
    """Probe every worker concurrently, in farm order."""
    return list(await asyncio.gather(*(probe_worker(w, timeout=timeout) for w in farm.workers)))
