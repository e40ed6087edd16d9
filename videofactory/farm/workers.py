"""Worker health: ask every ComfyUI server of a farm how it is, all at once; and what a worker
can hold, from the farm file and what its server reports."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.protocol import device_of, queue_ids
from videofactory.config import FarmConfig, WorkerConfig
from videofactory.errors import BackendError

__all__ = [
    "Memory",
    "Survey",
    "WorkerStatus",
    "probe_farm",
    "probe_worker",
    "survey_farm",
    "worker_memory",
]

#: A status check should answer fast: a healthy server replies in milliseconds.
PROBE_TIMEOUT_S = 3.0
#: A server reporting this much less VRAM than the farm file declares is worth a word.
SHORTFALL_NOTE_GB = 0.5


@dataclass(frozen=True)
class Memory:
    """What a worker can hold for ComfyUI: VRAM on a GPU, RAM on a CPU-only server."""

    #: The GB placement compares with a workflow's need.
    gb: float
    #: "VRAM", or "RAM" when the server runs on the CPU (ComfyUI ``--cpu``).
    kind: str = "VRAM"
    #: The server's device type (cuda, cpu, mps, xpu ...); "" when it was not asked.
    device: str = ""
    #: What was decided when the server's figure and the farm file's differ.
    note: str = ""


def worker_memory(
    worker: WorkerConfig, stats: Mapping[str, Any] | None, *, shared_gb: float = 0.0
) -> Memory:
    """What a worker can hold, from its farm-file ``vram_gb`` and its ``/system_stats``.

    On a GPU the smaller of the two counts (the server knows its card). A server whose
    device is ``cpu`` reports RAM, not VRAM: its models live in that RAM, so the RAM is what
    it can hold, unless the farm file says ``vram_gb`` for it explicitly. ``shared_gb`` is
    what a speech server on the same GPU holds.
    """
    declared = worker.vram_gb
    device = device_of(stats)
    dtype, reported = device.type, device.total_gb
    if stats is None or reported <= 0:
        return Memory(declared - shared_gb, device=dtype)
    if dtype == "cpu":
        if "vram_gb" in worker.model_fields_set:
            note = (
                f"{worker.id} runs on the CPU ({reported:.1f} GB of RAM); the farm file's "
                f"vram_gb {declared:g} is used"
            )
            return Memory(declared - shared_gb, "RAM", dtype, note)
        note = (
            f"{worker.id} runs on the CPU: its {reported:.1f} GB of RAM stand in for VRAM "
            "(set vram_gb for it in the farm file to say otherwise)"
        )
        return Memory(round(reported, 1) - shared_gb, "RAM", dtype, note)
    note = ""
    if reported < declared - SHORTFALL_NOTE_GB:
        note = (
            f"{worker.id}'s server reports {reported:.1f} GB of VRAM, less than the farm "
            f"file's {declared:g} GB: {reported:.1f} GB is used"
        )
    return Memory(round(min(declared, reported), 1) - shared_gb, "VRAM", dtype, note)


@dataclass(frozen=True)
class WorkerStatus:
    """What one worker reported (or why it could not)."""

    id: str
    card: str
    roles: list[str]
    url: str
    reachable: bool
    device: str = ""
    #: The device type (cuda, cpu ...): on "cpu" the memory figures are RAM, not VRAM.
    device_type: str = ""
    vram_total_gb: float | None = None
    vram_free_gb: float | None = None
    queue_running: int | None = None
    queue_pending: int | None = None
    comfyui_version: str = ""
    error: str = ""
    #: What placement will count on (``worker_memory``): GB, VRAM or RAM, and why.
    memory_gb: float | None = None
    memory_kind: str = "VRAM"
    memory_note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The status as a JSON-ready dict."""
        return asdict(self)


async def probe_worker(
    worker: WorkerConfig, *, timeout: float = PROBE_TIMEOUT_S, shared_gb: float = 0.0
) -> WorkerStatus:
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
        memory = worker_memory(worker, None, shared_gb=shared_gb)
        return WorkerStatus(**base, reachable=False, error=str(exc), memory_gb=memory.gb)
    device = device_of(stats)
    memory = worker_memory(worker, stats, shared_gb=shared_gb)
    running, pending = queue_ids(queue)
    return WorkerStatus(
        **base,
        reachable=True,
        device=device.name,
        device_type=device.type,
        vram_total_gb=round(device.total_gb, 1),
        vram_free_gb=round(device.free_gb, 1),
        queue_running=len(running),
        queue_pending=len(pending),
        comfyui_version=str((stats.get("system") or {}).get("comfyui_version", "")),
        memory_gb=memory.gb,
        memory_kind=memory.kind,
        memory_note=memory.note,
    )


async def probe_farm(farm: FarmConfig, *, timeout: float = PROBE_TIMEOUT_S) -> list[WorkerStatus]:
    """Probe every worker concurrently, in farm order."""
    return list(
        await asyncio.gather(
            *(
                probe_worker(w, timeout=timeout, shared_gb=w.vram_gb - farm.comfy_vram_gb(w.id))
                for w in farm.workers
            )
        )
    )


@dataclass
class Survey:
    """A farm as ``status`` and ``render --dry-run`` see it: each worker's health, its
    workflows' preflight, and what it could ever run."""

    statuses: list[WorkerStatus]
    #: Worker id -> its preflight (``comfy.farmcheck.WorkerPreflight``); empty when simulated.
    checks: dict[str, Any]
    abilities: list[Any]


async def survey_farm(farm: FarmConfig) -> Survey:
    """Ask every worker how it is and check its workflows; the built-in simulated farm (not
    started yet) is judged by its farm entries, whose simulator templates it can always run."""
    from videofactory.comfy.farmcheck import preflight_farm
    from videofactory.farm.feasibility import ability_of

    if farm.simulated:
        statuses = [
            WorkerStatus(
                w.id, w.card, [r.value for r in w.roles], "", False, "simulated",
                memory_gb=farm.comfy_vram_gb(w.id),
            )
            for w in farm.workers
        ]  # fmt: skip
        abilities = [ability_of(w, farm.comfy_vram_gb(w.id), "VRAM", None) for w in farm.workers]
        return Survey(statuses, {}, abilities)
    statuses, checks = await asyncio.gather(probe_farm(farm), preflight_farm(farm))
    abilities = [
        ability_of(w, s.memory_gb or 0.0, s.memory_kind, checks[w.id] if s.reachable else None)
        for w, s in zip(farm.workers, statuses, strict=True)
    ]
    return Survey(statuses, checks, abilities)
