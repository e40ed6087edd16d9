"""Settings of one simulated ComfyUI server, and its simulated GPU.

``SimOptions`` is what ``python -m videofactory.sim`` builds from its command line; an in-process
server (tests) builds one directly. ``SimHooks`` is the seam where fault injection plugs in: the
executor calls it around every prompt and node, and the default does nothing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.constants import SIM_TAG

__all__ = ["SimHooks", "SimOptions", "device_name", "estimate_vram_gb"]

GIB = 1024**3

#: What a CUDA context plus the ComfyUI process hold before any prompt runs.
IDLE_VRAM_GB = 0.35


@dataclass(frozen=True)
class SimOptions:
    """Everything that makes one simulated server different from another."""

    name: str = "gpu0"
    card: str = "RTX 5090"
    vram_gb: float = 32.0
    #: Seconds of extra sleep per unit of work (one megapixel frame, times steps for the
    #: generative nodes). 0 renders as fast as the CPU goes.
    speed: float = 0.0
    listen: str = "127.0.0.1"
    port: int = 8188
    cuda_device: int = 0
    base_directory: Path | None = None
    output_directory: Path | None = None
    input_directory: Path | None = None
    temp_directory: Path | None = None
    disable_metadata: bool = False
    max_upload_size_mb: float = 100.0
    #: Reported as ``system.argv`` by /system_stats; defaults to the real ``sys.argv``.
    argv: tuple[str, ...] | None = None
    #: Fault-injection seam (see SimHooks); not part of the value.
    hooks: SimHooks | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.vram_gb <= 0:
            raise ValueError(f"vram_gb must be positive, not {self.vram_gb}")
        if self.speed < 0:
            raise ValueError(f"speed must be >= 0, not {self.speed}")

    def folder(self, kind: str) -> Path:
        """Absolute output/input/temp folder, as ComfyUI resolves --*-directory flags."""
        explicit = {
            "output": self.output_directory,
            "input": self.input_directory,
            "temp": self.temp_directory,
        }[kind]
        if explicit is not None:
            return Path(explicit).absolute()
        base = Path(self.base_directory) if self.base_directory is not None else Path.cwd()
        return (base / kind).absolute()

    @property
    def real_argv(self) -> list[str]:
        """The argv /system_stats reports."""
        return list(self.argv) if self.argv is not None else list(sys.argv)

    @property
    def max_upload_bytes(self) -> int:
        """--max-upload-size in bytes, as /features reports it."""
        return round(self.max_upload_size_mb * 1024 * 1024)


class SimHooks:
    """No-op fault-injection seam: subclass and pass as ``SimOptions.hooks``.

    Methods run on the server's event loop, except ``before_node``/``after_node`` which run in
    the render thread just before/after the node's own work. Raising from ``before_node`` or
    ``after_node`` turns into that node's ``execution_error`` (raise
    ``videofactory.sim.executor.OutOfMemoryError`` for an OOM-shaped one).
    """

    def on_prompt_start(self, prompt_id: str, prompt: dict[str, Any], vram_need_gb: float) -> None:
        """Called when the worker takes a prompt off the queue."""

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        """Called before a node's work; may raise or sleep (hang)."""

    def after_node(self, prompt_id: str, node_id: str, class_type: str, ui: dict | None) -> None:
        """Called after a node's work; may corrupt the files named in ``ui``."""

    def on_prompt_end(self, prompt_id: str, status_str: str) -> None:
        """Called after the history entry is written."""


def device_name(card: str) -> str:
    """The ``devices[0].name`` of /system_stats, shaped like torch's, tagged as simulated."""
    card = card.strip()
    if card.upper().startswith(("RTX", "GTX")):
        full = f"NVIDIA GeForce {card}"
    elif card.upper().startswith("NVIDIA"):
        full = card
    else:
        full = f"NVIDIA {card}"
    return f"cuda:0 {full} : {SIM_TAG}"


def estimate_vram_gb(prompt: dict[str, Any]) -> float:
    """A rough VRAM need of a prompt: the largest image batch any node will hold, x3 for work.

    Only sizes written literally in the prompt are seen; the simulator uses this to make
    ``vram_free`` move while a prompt runs, and the fault seam can compare it with the card.
    """
    biggest = 0.0
    for node in prompt.values():
        if not isinstance(node, dict):
            continue
        inputs = node.get("inputs") or {}
        w, h = inputs.get("width"), inputs.get("height")
        frames = inputs.get("length", inputs.get("batch_size", 1))
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (w, h, frames)):
            biggest = max(biggest, float(w) * float(h) * 3 * max(1.0, float(frames)))
    # Model weights of a real image/video model would dominate; a few GB stands in for them.
    return 2.0 + 3 * biggest / GIB


def ram_bytes() -> tuple[int, int]:
    """(total, available) RAM of this machine, for /system_stats."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):  # not POSIX: report something plausible
        return 16 * GIB, 8 * GIB
