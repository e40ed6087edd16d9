"""Fault injection of one simulated server, carried out through the ``SimHooks`` seam.

Every fault looks on the wire exactly like the real failure would on a real ComfyUI:

* **out of memory** (the card's VRAM, or ``oom_above_gb``, below the node's modelled need):
  ``execution_error`` of that node, ``exception_type`` ``torch.OutOfMemoryError``, PyTorch's
  cudaMallocAsync message plus ComfyUI's OOM tips;
* **fail**: ``execution_error`` of the render node mid-way, ``RuntimeError`` "CUDA error: an
  illegal memory access was encountered" with PyTorch's usual advice;
* **hang**: the render node stops mid-way (no more progress, no history) until ``/interrupt``
  (then ``execution_interrupted``) or shutdown; the server keeps answering HTTP;
* **killed for memory** (``oom_kill_above_gb`` below the node's modelled need): the process
  is killed as the crash below, the way the kernel's OOM killer ends a ComfyUI ``--cpu``
  whose job exhausts RAM: no error, no history, the server is just gone;
* **crash**: the process is killed mid-prompt (SIGKILL, like the kernel's OOM killer): sockets
  reset, port closed, no history. An in-process server (tests) "dies" the same way from the
  outside: it stops listening, resets every connection and never answers again;
* **dropped websocket**: every websocket connection is cut mid-prompt without a close frame;
  the prompt goes on and finishes normally in history;
* **corrupt output**: after a Save* node writes its files they are overwritten with zero bytes
  (a torn write), so they no longer decode; history still lists them;
* **HTTP error**: a request to any ComfyUI route but the websocket is answered 500 with
  aiohttp's plain-text body ("500 Internal Server Error\n\nServer got itself in trouble") and
  the connection closed, as when a handler raises; in half of the draws the handler has run
  first (a ``POST /prompt`` queued, an upload saved, only the answer lost), in the other half
  it never ran. Drawn per request from a generator of its own, so HTTP traffic leaves the
  per-prompt draws as they were;
* **slow start**: the server listens (and prints its ready line) only after a delay;
* **leak**: every prompt leaves ``leak_mb_per_job`` MB behind in the process (resident, never
  freed), so its RSS grows job by job like a long-running ComfyUI's.

Per-prompt faults strike at the "fault point": the middle progress tick of the first render
node that runs, or, in a prompt without render nodes, just before its first output node. A
prompt served wholly from cache renders nothing and so cannot fail, hang or be corrupted; a
crash then strikes before its history entry is written.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from videofactory.errors import ConfigError
from videofactory.sim.executor import InterruptProcessing, OutOfMemoryError
from videofactory.sim.gpu import RENDER_NODES, node_vram_gb, oom_message
from videofactory.sim.options import SimFaults, SimHooks, SimOptions
from videofactory.sim.paths import Folders

__all__ = ["CUDA_ILLEGAL_ACCESS", "FaultInjector", "FaultTarget", "parse_fault_spec"]

log = logging.getLogger("videofactory.sim")

#: What PyTorch raises after a kernel fault (the usual real-world "random" GPU failure).
CUDA_ILLEGAL_ACCESS = (
    "CUDA error: an illegal memory access was encountered\n"
    "CUDA kernel errors might be asynchronously reported at some other API call, so the "
    "stacktrace below might be incorrect.\n"
    "For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
    "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
)

#: Core output nodes start with these (SaveImage, SaveVideo, PreviewImage, PreviewAny ...).
_OUTPUT_PREFIXES = ("Save", "Preview")


class FaultTarget(Protocol):
    """What the injector needs from its server; every method may be called from any thread."""

    options: SimOptions
    folders: Folders

    def drop_sockets(self) -> None:
        """Cut every websocket connection."""

    def crash(self) -> None:
        """Die abruptly (a process kills itself; an in-process server goes silent)."""

    def wait_interrupt(self) -> None:
        """Block until /interrupt is called or the server stops."""


@dataclass
class _Plan:
    """What happens to one prompt, drawn when the worker takes it."""

    fail: bool = False
    hang: bool = False
    crash: bool = False
    drop_ws: bool = False
    corrupt: bool = False
    renders: bool = False
    fired: bool = False
    needs: dict[str, float] = field(default_factory=dict)


class FaultInjector(SimHooks):
    """The hooks every server runs: modelled VRAM (OOM) and the faults of ``SimFaults``.

    Wraps the user's own hooks (``SimOptions.hooks``), which run first.
    """

    def __init__(self, target: FaultTarget, user: SimHooks | None = None) -> None:
        self.target = target
        self.user = user or SimHooks()
        self.jobs = 0
        #: Requests answered 500 by the HTTP error fault so far.
        self.http_errors = 0
        self._lock = threading.Lock()
        self._plans: dict[str, _Plan] = {}
        #: What the leak fault holds on to (never freed while the server lives).
        self._leaked: list[bytes] = []
        self.set_faults(target.options.faults)

    @property
    def faults(self) -> SimFaults:
        """The faults in force."""
        return self._faults

    def set_faults(self, faults: SimFaults) -> None:
        """Replace the faults; a new seed restarts the draws, counts restart at this prompt."""
        with self._lock:
            old = getattr(self, "_faults", None)
            if old is None or faults.seed != old.seed:
                self._rng = random.Random(f"{faults.seed}:{self.target.options.name}")
                self._http_rng = random.Random(f"{faults.seed}:{self.target.options.name}:http")
            if old is None or faults.crash_after != old.crash_after:
                self._crash_base = self.jobs
            if old is None or faults.hang_after != old.hang_after:
                self._hang_base = self.jobs
            self._faults = faults

    def state(self) -> dict[str, Any]:
        """The faults plus counters, as GET /sim/faults answers."""
        with self._lock:
            return {**self._faults.to_json(), "jobs": self.jobs, "http_errors": self.http_errors}

    def vram_limit_gb(self) -> float:
        """Above this modelled need a node runs out of memory."""
        limit = self.target.options.vram_gb
        if self._faults.oom_above_gb is not None:
            limit = min(limit, self._faults.oom_above_gb)
        return limit

    def http_error(self) -> str | None:
        """Whether this HTTP request fails: None, "before" (answer 500 instead of handling it)
        or "after" (handle it, then answer 500). Two draws per request whatever the rate, so
        the n-th request of a server meets the same fate for a given seed."""
        with self._lock:
            fails, after = self._http_rng.random(), self._http_rng.random()
            if fails >= self._faults.http_error_rate:
                return None
            self.http_errors += 1
            return "after" if after < 0.5 else "before"

    # -- the seam ------------------------------------------------------------------------------

    def on_prompt_start(self, prompt_id: str, prompt: dict[str, Any], vram_need_gb: float) -> None:
        """Draw this prompt's faults (always the same number of draws, so runs repeat)."""
        self.user.on_prompt_start(prompt_id, prompt, vram_need_gb)
        with self._lock:
            f = self._faults
            self.jobs += 1
            draws = [self._rng.random() for _ in range(4)]
            plan = _Plan(
                fail=draws[0] < f.fail_rate,
                hang=draws[1] < f.hang_rate
                or (f.hang_after is not None and self.jobs - self._hang_base == f.hang_after + 1),
                crash=f.crash_after is not None and self.jobs - self._crash_base > f.crash_after,
                drop_ws=draws[2] < f.drop_ws_rate,
                corrupt=draws[3] < f.corrupt_rate,
                renders=any(
                    isinstance(n, dict) and n.get("class_type") in RENDER_NODES
                    for n in prompt.values()
                ),
                needs={nid: node_vram_gb(n, prompt) for nid, n in prompt.items()},
            )
            self._plans[prompt_id] = plan
            if f.leak_mb_per_job > 0:
                # Written bytes, not calloc'd zeros: the pages must be resident to count.
                self._leaked.append(b"\x5a" * int(f.leak_mb_per_job * 1024 * 1024))
        if plan.crash or plan.fail or plan.hang or plan.drop_ws or plan.corrupt:
            log.info("fault plan for prompt %s: %s", prompt_id, plan)

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        """Run out of memory where the node needs more than the card has; fault point 2."""
        self.user.before_node(prompt_id, node_id, class_type)
        plan = self._plans.get(prompt_id)
        if plan is None:
            return
        need, limit = plan.needs.get(node_id, 0.0), self.vram_limit_gb()
        kill_above = self._faults.oom_kill_above_gb
        if kill_above is not None and need > kill_above:
            log.warning(
                "prompt %s needs %.1f GB, over %.1f GB: killed", prompt_id, need, kill_above
            )
            plan.fired = True
            self.target.crash()
            self.target.wait_interrupt()  # an in-process server: stay dead until it stops
            raise InterruptProcessing("server killed for memory")
        if need > limit:
            raise OutOfMemoryError(
                oom_message(
                    need, limit, self.target.options.vram_gb, self.target.options.cuda_device
                )
            )
        if not plan.renders and class_type.startswith(_OUTPUT_PREFIXES):
            self._strike(plan)

    def on_tick(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
        """Fault point 1: the middle tick of the first node that ticks."""
        self.user.on_tick(prompt_id, node_id, value, total)
        plan = self._plans.get(prompt_id)
        if plan is not None and 2 * value >= total:
            self._strike(plan)

    def after_node(self, prompt_id: str, node_id: str, class_type: str, ui: dict | None) -> None:
        """Corrupt what a Save* node wrote."""
        self.user.after_node(prompt_id, node_id, class_type, ui)
        plan = self._plans.get(prompt_id)
        if plan is not None and plan.corrupt and class_type.startswith("Save") and ui:
            for path in _files(self.target.folders, ui):
                _corrupt(path)

    def before_history(self, prompt_id: str, success: bool) -> None:
        """A crash that found no node to strike in strikes now, before history is written."""
        self.user.before_history(prompt_id, success)
        plan = self._plans.get(prompt_id)
        if plan is not None and plan.crash and not plan.fired:
            plan.fired = True
            self.target.crash()

    def on_prompt_end(self, prompt_id: str, status_str: str) -> None:
        """Forget the prompt's plan."""
        self._plans.pop(prompt_id, None)
        self.user.on_prompt_end(prompt_id, status_str)

    # -- striking ------------------------------------------------------------------------------

    def _strike(self, plan: _Plan) -> None:
        """Fire the prompt's faults once (render thread)."""
        if plan.fired:
            return
        plan.fired = True
        if plan.drop_ws:
            self.target.drop_sockets()
        if plan.crash:
            self.target.crash()
            self.target.wait_interrupt()  # an in-process server: stay dead until it stops
            raise InterruptProcessing("server crashed")
        if plan.hang:
            self.target.wait_interrupt()
            raise InterruptProcessing("Processing interrupted")
        if plan.fail:
            raise RuntimeError(CUDA_ILLEGAL_ACCESS)


def _files(folders: Folders, ui: dict[str, Any]) -> list[str]:
    """Paths of the files a UI dict names."""
    paths = []
    for refs in ui.values():
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, dict) and "filename" in ref:
                base = folders.by_type(ref.get("type", "output"))
                if base is not None:
                    paths.append(os.path.join(base, ref.get("subfolder", ""), ref["filename"]))
    return paths


def _corrupt(path: str) -> None:
    """Overwrite a file with a third of its length in zero bytes (a torn write)."""
    try:
        size = os.path.getsize(path)
        with open(path, "wb") as f:
            f.write(b"\0" * max(64, size // 3))
        log.info("fault: corrupted %s", path)
    except OSError as exc:  # the file went away: nothing to corrupt
        log.warning("fault: cannot corrupt %s: %s", path, exc)


def parse_fault_spec(text: str) -> dict[str, str]:
    """``crash_after=3,fail_rate=0.1`` into ``{"crash_after": "3", "fail_rate": "0.1"}``."""
    changes: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ConfigError(
                f"bad fault {part!r}: write NAME=VALUE, e.g. crash_after=3 or fail_rate=0.1"
            )
        changes[name.strip().replace("-", "_")] = value.strip()
    SimFaults().updated(changes)  # names and values checked here, once
    return changes
