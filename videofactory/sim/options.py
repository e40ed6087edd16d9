"""Settings of one simulated ComfyUI server, and its simulated GPU.

``SimOptions`` is what ``python -m videofactory.sim`` builds from its command line; an in-process
server (tests) builds one directly. ``SimFaults`` says which failures a server injects (see
``videofactory.sim.faults``, which carries them out through the ``SimHooks`` seam: the executor
calls the hooks around every prompt, node and progress tick; the default hooks do nothing).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.constants import SIM_TAG
from videofactory.errors import ConfigError
from videofactory.limits import MAX_PORT, MIN_PORT

__all__ = [
    "SimFaults",
    "SimHooks",
    "SimOptions",
    "check_ports",
    "device_name",
    "estimate_vram_gb",
]

GIB = 1024**3

#: What a CUDA context plus the ComfyUI process hold before any prompt runs.
IDLE_VRAM_GB = 0.35


def check_ports(first: int, count: int = 1) -> None:
    """``count`` servers on ports ``first``, ``first + 1``, ... (0: each on any free port)."""
    if first == 0:
        return
    if not MIN_PORT <= first <= MAX_PORT:
        raise ConfigError(
            f"--port {first} is not a TCP port; use {MIN_PORT} to {MAX_PORT} (ComfyUI's is "
            "8188), or 0 for any free port"
        )
    last = first + count - 1
    if last > MAX_PORT:
        raise ConfigError(
            f"--port {first} for {count} servers needs ports up to {last}, past {MAX_PORT}; "
            f"start at {MAX_PORT - count + 1} or lower"
        )


@dataclass(frozen=True)
class SimFaults:
    """Failures one simulated server injects, each looking like the real thing on the wire.

    Rates are probabilities per prompt (``http_error_rate``: per HTTP request), drawn from
    generators seeded with ``seed`` and the server's name, so a run repeats exactly.
    ``hang_after``/``crash_after`` count the prompts the server has taken since the fault was
    set (at start for flags).
    """

    #: Chance a prompt fails in its render node with a CUDA ``RuntimeError``.
    fail_rate: float = 0.0
    #: Out of memory when the prompt's modelled VRAM need is above this (the card's own VRAM
    #: is always a limit; this lowers it, as if something else held memory).
    oom_above_gb: float | None = None
    #: The process is killed (SIGKILL, as the kernel's OOM killer does to a ComfyUI ``--cpu``
    #: whose job exhausts RAM) when a prompt needs more memory than this.
    oom_kill_above_gb: float | None = None
    #: Chance a render node stops mid-way and never finishes (until /interrupt or shutdown).
    hang_rate: float = 0.0
    #: The prompt after this many hangs the same way.
    hang_after: int | None = None
    #: The process dies abruptly in the middle of the prompt after this many.
    crash_after: int | None = None
    #: Chance every websocket is cut mid-prompt (the prompt itself goes on).
    drop_ws_rate: float = 0.0
    #: Chance the files a Save* node writes are overwritten with bytes that do not decode.
    corrupt_rate: float = 0.0
    #: Chance an HTTP request (any ComfyUI route but the websocket) is answered with aiohttp's
    #: plain-text 500; half of them after the request took effect (a prompt queued, a file
    #: uploaded), as when a server fails on its way out.
    http_error_rate: float = 0.0
    #: Seconds to wait before listening (and before the ready line).
    slow_start_s: float = 0.0
    #: Megabytes of memory each prompt leaves behind for good (ComfyUI's RSS grows over long
    #: video runs until it is restarted; the farm launcher's memory recycling is tested so).
    leak_mb_per_job: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("fail_rate", "hang_rate", "drop_ws_rate", "corrupt_rate", "http_error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault {name} must be between 0 and 1, not {value}")
        for name in ("hang_after", "crash_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"fault {name} must be 0 or more, not {value}")
        for name in ("oom_above_gb", "oom_kill_above_gb"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"fault {name} must be positive, not {value}")
        if self.slow_start_s < 0:
            raise ConfigError(f"fault slow_start_s must be 0 or more, not {self.slow_start_s}")
        if not 0 <= self.leak_mb_per_job <= 65536:
            raise ConfigError(
                f"fault leak_mb_per_job must be between 0 and 65536, not {self.leak_mb_per_job}"
            )

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON object (what GET /sim/faults answers)."""
        return dataclasses.asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> SimFaults:
        """A copy with ``changes`` applied; values may be strings (flags) or JSON values.

        Raises ConfigError naming an unknown field or a value of the wrong kind.
        """
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        values: dict[str, Any] = {}
        for name, raw in changes.items():
            if name not in kinds:
                raise ConfigError(
                    f"unknown fault {name!r}; known faults: {', '.join(sorted(kinds))}"
                )
            values[name] = _coerce(name, str(kinds[name]), raw)
        return dataclasses.replace(self, **values)


def _coerce(name: str, kind: str, raw: Any) -> Any:
    """One fault value from a flag string or a JSON value, by the field's annotation."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("none", "null", "")):
        if "None" in kind:
            return None
        raise ConfigError(f"fault {name} needs a value")
    if isinstance(raw, bool):
        raise ConfigError(f"fault {name} must be a number, not {raw!r}")
    try:
        if kind.startswith("int"):
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            return int(raw)
        return float(raw)
    except (TypeError, ValueError):
        whole = "a whole number" if kind.startswith("int") else "a number"
        raise ConfigError(f"fault {name} must be {whole}, not {raw!r}") from None


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
    #: ComfyUI's ``--cpu``: no GPU; /system_stats reports a ``cpu`` device whose memory
    #: figures are RAM (``vram_gb`` is then the simulated RAM).
    cpu: bool = False
    base_directory: Path | None = None
    output_directory: Path | None = None
    input_directory: Path | None = None
    temp_directory: Path | None = None
    disable_metadata: bool = False
    max_upload_size_mb: float = 100.0
    #: Relative speed of the simulated card for the render nodes' modelled GPU time
    #: (RTX 5090 1.0, RTX 4080 Super 0.7, RTX 3090 0.55).
    gpu_speed: float = 1.0
    #: Real seconds slept per modelled GPU second of the render nodes; 0 = as fast as the CPU.
    time_scale: float = 0.0
    faults: SimFaults = field(default_factory=SimFaults)
    #: Reported as ``system.argv`` by /system_stats; defaults to the real ``sys.argv``.
    argv: tuple[str, ...] | None = None
    #: Fault-injection seam (see SimHooks); not part of the value.
    hooks: SimHooks | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_ports(self.port)
        if self.vram_gb <= 0:
            raise ValueError(f"vram_gb must be positive, not {self.vram_gb}")
        if self.speed < 0:
            raise ValueError(f"speed must be >= 0, not {self.speed}")
        if self.gpu_speed <= 0:
            raise ValueError(f"gpu_speed must be positive, not {self.gpu_speed}")
        if self.time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, not {self.time_scale}")

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

    Methods run on the server's event loop, except ``before_node``/``after_node``/``on_tick``
    which run in the render thread. Raising from those turns into that node's
    ``execution_error`` (raise ``videofactory.sim.executor.OutOfMemoryError`` for an OOM-shaped
    one, ``InterruptProcessing`` for ``execution_interrupted``).
    """

    def on_prompt_start(self, prompt_id: str, prompt: dict[str, Any], vram_need_gb: float) -> None:
        """Called when the worker takes a prompt off the queue."""

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        """Called before a node's work; may raise or sleep (hang)."""

    def after_node(self, prompt_id: str, node_id: str, class_type: str, ui: dict | None) -> None:
        """Called after a node's work; may corrupt the files named in ``ui``."""

    def on_tick(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
        """Called at a node's progress tick, before the interrupt check; may raise or block."""

    def before_history(self, prompt_id: str, success: bool) -> None:
        """Called after the prompt ran, before its history entry is written."""

    def on_prompt_end(self, prompt_id: str, status_str: str) -> None:
        """Called after the history entry is written."""


def device_name(card: str, *, cpu: bool = False) -> str:
    """The ``devices[0].name`` of /system_stats, shaped like torch's, tagged as simulated."""
    if cpu:
        return f"cpu : {SIM_TAG}"
    card = card.strip()
    if card.upper().startswith(("RTX", "GTX")):
        full = f"NVIDIA GeForce {card}"
    elif card.upper().startswith("NVIDIA"):
        full = card
    else:
        full = f"NVIDIA {card}"
    return f"cuda:0 {full} : {SIM_TAG}"


def node_size_vram_gb(node: dict[str, Any]) -> float:
    """A rough VRAM need of one node: the image batch it will hold, x3 for work, plus 2 GB.

    Only sizes written literally in the prompt are seen.
    """
    inputs = node.get("inputs") or {}
    w, h = inputs.get("width"), inputs.get("height")
    frames = inputs.get("length", inputs.get("batch_size", 1))
    batch = 0.0
    sizes = [v for v in (w, h, frames) if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(sizes) == 3:
        batch = float(sizes[0]) * float(sizes[1]) * 3 * max(1.0, float(sizes[2]))
    # Model weights of a real image/video model would dominate; a few GB stands in for them.
    return 2.0 + 3 * batch / GIB


def estimate_vram_gb(prompt: dict[str, Any]) -> float:
    """A rough VRAM need of a prompt from sizes alone: its largest node's ``node_size_vram_gb``.

    ``videofactory.sim.gpu.prompt_vram_gb`` adds the render nodes' model sizes on top.
    """
    return max((node_size_vram_gb(n) for n in prompt.values() if isinstance(n, dict)), default=2.0)


def ram_bytes() -> tuple[int, int]:
    """(total, available) RAM of this machine, for /system_stats."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):  # not POSIX: report something plausible
        return 16 * GIB, 8 * GIB
