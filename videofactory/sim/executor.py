"""Runs one prompt the way ComfyUI's PromptExecutor does, with the same websocket events.

Order of execution, caching, progress snapshots and error/interrupt reports follow ComfyUI
0.3.64 (``execution.py``, ``comfy_execution/graph.py``, ``comfy_execution/progress.py``):

* the classic cache keeps the outputs of the previous prompt's nodes, keyed by a signature of
  the node and everything upstream; identical nodes are served from it (``execution_cached``,
  no ``executing``, output nodes replay ``executed`` with their old files);
* ready nodes are picked output-first, then nodes one or two links before an output;
* node work runs in a thread (``asyncio.to_thread``) so the server keeps answering; progress
  ticks come back to the event loop with ``call_soon_threadsafe`` and keep their order;
* ``/interrupt`` is honoured before each node starts and at every progress tick.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from videofactory.sim.catalog import Catalog
from videofactory.sim.graph import ExecutionList, ProgressRegistry, is_link
from videofactory.sim.nodes import NodeImpl, NodeOutput
from videofactory.sim.options import SimHooks, SimOptions
from videofactory.sim.paths import Folders
from videofactory.sim.validation import full_type_name

__all__ = ["InterruptProcessing", "OutOfMemoryError", "PromptExecutor", "PromptResult"]

#: Binary websocket event number of progress text (ComfyUI's BinaryEventTypes.TEXT).
BINARY_TEXT = 3
#: Longest uninterrupted sleep of modelled GPU time (how soon an interrupt is noticed).
GPU_SLEEP_SLICE_S = 0.05

OOM_TIPS = (
    "This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked "
    "before you might have accidentally set the batch_size to a large number."
)


class InterruptProcessing(Exception):
    """The running prompt was interrupted (ComfyUI's InterruptProcessingException)."""


class OutOfMemoryError(RuntimeError):
    """An out-of-memory failure, reported as ``torch.OutOfMemoryError`` like on a real GPU."""


# Clients recognise OOM by this exception type; a real server reports torch's class.
OutOfMemoryError.__module__ = "torch"


class Hub(Protocol):
    """What the executor needs from the server: message delivery and "current client" state."""

    loop: asyncio.AbstractEventLoop
    client_id: str | None
    last_node_id: str | None

    def send(self, event: str | int, data: Any, sid: str | None) -> None:
        """Queue a message for one socket (``sid``) or all (None); event loop only."""


@dataclass
class PromptResult:
    """What the worker writes into history."""

    success: bool
    outputs: dict[str, Any]
    meta: dict[str, Any]
    messages: list[tuple[str, dict[str, Any]]]


@dataclass
class _Run:
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    sigs: dict[str, str]
    progress: ProgressRegistry
    values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ui_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class _Context:
    """NodeContext for one node call; its methods are called from the render thread."""

    def __init__(self, executor: PromptExecutor, run: _Run, node_id: str) -> None:
        self._executor = executor
        self._run = run
        self.folders: Folders = executor.folders
        self.node_id = node_id
        self.prompt_id = run.prompt_id
        self.prompt = run.prompt
        self.extra_pnginfo = run.extra_data.get("extra_pnginfo")
        self.disable_metadata = executor.options.disable_metadata

    def progress(self, value: int, total: int) -> None:
        """A sampler-like step: interrupt check first, then progress_state + progress."""
        self._executor.hooks.on_tick(self.prompt_id, self.node_id, value, total)
        self._executor.check_interrupt()
        self._executor.hub.loop.call_soon_threadsafe(
            self._executor.on_progress, self._run, self.node_id, value, total
        )

    def send_text(self, text: str) -> None:
        """Binary TEXT frame (event 3), always broadcast."""
        node = self.node_id.encode()
        payload = struct.pack(">I", len(node)) + node + text.encode()
        self._executor.hub.loop.call_soon_threadsafe(
            self._executor.hub.send, BINARY_TEXT, payload, None
        )

    def work(self, units: float) -> None:
        """Sleep ``speed * units`` seconds (returns early when the server stops)."""
        delay = self._executor.options.speed * units
        if delay > 0 and self._executor.stopping.wait(delay):
            raise InterruptProcessing("server stopping")

    def gpu(self, seconds: float) -> None:
        """Spend ``seconds`` of modelled GPU time of a speed-1.0 card on this server's card.

        Sleeps ``seconds / gpu_speed * time_scale`` in short slices; an interrupt ends the
        sleep early so that the next progress tick (where ComfyUI checks) honours it at once.
        """
        options = self._executor.options
        self._executor.gpu_spent += seconds / options.gpu_speed
        delay = seconds / options.gpu_speed * options.time_scale
        deadline = time.monotonic() + delay
        stopping, interrupt = self._executor.stopping, self._executor.interrupt
        while (left := deadline - time.monotonic()) > 0 and not interrupt.is_set():
            if stopping.wait(min(left, GPU_SLEEP_SLICE_S)):
                raise InterruptProcessing("server stopping")


def _pixels(values: Any) -> int:
    return sum(
        v.shape[0] * v.shape[1] * v.shape[2]
        for v in values
        if isinstance(v, np.ndarray) and v.ndim == 4
    )


def _format_value(x: Any) -> Any:
    if x is None or isinstance(x, int | float | bool | str):
        return x
    return str(x)


class PromptExecutor:
    """Executes prompts one at a time and keeps the classic output cache between them."""

    def __init__(
        self, hub: Hub, catalog: Catalog, options: SimOptions, hooks: SimHooks | None = None
    ) -> None:
        self.hub = hub
        self.catalog = catalog
        self.folders = catalog.folders
        self.options = options
        self.hooks = hooks or options.hooks or SimHooks()
        self.interrupt = threading.Event()
        self.stopping = threading.Event()
        self._cache_outputs: dict[str, tuple[Any, ...]] = {}
        self._cache_ui: dict[str, dict[str, Any]] = {}
        #: Modelled GPU seconds on this card the prompt being run has spent so far.
        self.gpu_spent = 0.0

    def check_interrupt(self) -> None:
        """Raise InterruptProcessing if /interrupt was called (or the server stops)."""
        if self.interrupt.is_set() or self.stopping.is_set():
            raise InterruptProcessing("Processing interrupted")

    def reset(self) -> None:
        """Drop the output cache (``/free`` with ``free_memory``)."""
        self._cache_outputs.clear()
        self._cache_ui.clear()

    # -- messages ----------------------------------------------------------------------------

    def _add_message(self, run: _Run, event: str, data: dict[str, Any], broadcast: bool) -> None:
        data = {**data, "timestamp": int(time.time() * 1000)}
        run.messages.append((event, data))
        if self.hub.client_id is not None or broadcast:
            self.hub.send(event, data, self.hub.client_id)

    def _send_progress_state(self, run: _Run) -> None:
        self.hub.send(
            "progress_state",
            {"prompt_id": run.prompt_id, "nodes": run.progress.snapshot()},
            self.hub.client_id,
        )

    def on_progress(self, run: _Run, node_id: str, value: int, total: int) -> None:
        """A tick from a node thread, delivered on the event loop."""
        run.progress.update(node_id, value, total)
        self._send_progress_state(run)
        self.hub.send(
            "progress",
            {"value": value, "max": total, "prompt_id": run.prompt_id, "node": node_id},
            self.hub.client_id,
        )

    # -- cache keys --------------------------------------------------------------------------

    def _signatures(self, prompt: dict[str, Any]) -> dict[str, str]:
        memo: dict[str, str] = {}

        def sig(node_id: Any, stack: tuple[Any, ...]) -> str:
            if isinstance(node_id, str) and node_id in memo:
                return memo[node_id]
            node = prompt.get(node_id) if isinstance(node_id, str) else None
            if (
                not isinstance(node, dict)
                or node_id in stack
                or node.get("class_type") not in self.catalog
            ):
                return uuid.uuid4().hex  # unknown or cyclic: never matches anything
            impl: NodeImpl = self.catalog.impl(node["class_type"])
            inputs = node.get("inputs", {})
            head: list[Any] = [node["class_type"]]
            if impl.fingerprint is not None:
                literal = {k: v for k, v in inputs.items() if not is_link(v)}
                try:
                    head.append(impl.fingerprint(self.folders, **literal))
                except Exception:  # e.g. the file vanished: run the node again
                    head.append(uuid.uuid4().hex)
            if impl.unique_id_in_key:
                head.append(node_id)
            body = []
            for name in sorted(inputs):
                value = inputs[name]
                if is_link(value):
                    body.append([name, "LINK", sig(value[0], (*stack, node_id)), value[1]])
                else:
                    body.append([name, value])
            text = json.dumps([head, body], sort_keys=True, default=str)
            memo[node_id] = hashlib.sha1(text.encode()).hexdigest()
            return memo[node_id]

        return {nid: sig(nid, ()) for nid in prompt}

    # -- running -----------------------------------------------------------------------------

    async def execute(
        self,
        prompt: dict[str, Any],
        prompt_id: str,
        extra_data: dict[str, Any],
        execute_outputs: list[str],
    ) -> PromptResult:
        """Run the outputs of one prompt; sends every websocket event on the way."""
        self.interrupt.clear()  # a stale interrupt must not hit the next prompt
        self.gpu_spent = 0.0
        self.hub.client_id = extra_data.get("client_id")
        run = _Run(prompt_id, prompt, extra_data, {}, ProgressRegistry(prompt_id))
        self._add_message(run, "execution_start", {"prompt_id": prompt_id}, broadcast=False)
        run.sigs = self._signatures(prompt)
        keep = set(run.sigs.values())
        for cache in (self._cache_outputs, self._cache_ui):
            for key in [k for k in cache if k not in keep]:
                del cache[key]
        cached = [nid for nid in prompt if run.sigs[nid] in self._cache_outputs]
        self._add_message(
            run, "execution_cached", {"nodes": cached, "prompt_id": prompt_id}, broadcast=False
        )
        elist = ExecutionList(
            prompt,
            self._is_cached(run),
            lambda nid: self.catalog.is_output(prompt[nid]["class_type"]),
        )
        for node_id in execute_outputs:
            elist.add_node(node_id)
        success = True
        while not elist.is_empty():
            node_id = elist.pick()
            if node_id is None:
                error = {
                    "node_id": next(iter(elist.pending)),
                    "exception_message": "Dependency cycle detected",
                    "exception_type": "graph.DependencyCycleError",
                    "traceback": [],
                    "current_inputs": [],
                }
                self._report_failure(run, error, RuntimeError("Dependency cycle detected"))
                success = False
                break
            ok, error, ex = await self._execute_node(run, node_id)
            if not ok:
                assert error is not None and ex is not None
                self._report_failure(run, error, ex)
                success = False
                break
            elist.complete(node_id)
        else:
            self._add_message(run, "execution_success", {"prompt_id": prompt_id}, broadcast=False)
        self.hub.last_node_id = None
        return PromptResult(
            success=success,
            outputs={nid: entry["output"] for nid, entry in run.ui_outputs.items()},
            meta={nid: entry["meta"] for nid, entry in run.ui_outputs.items()},
            messages=run.messages,
        )

    def _is_cached(self, run: _Run) -> Callable[[str], bool]:
        return lambda nid: run.sigs.get(nid) in self._cache_outputs

    def _report_failure(self, run: _Run, error: dict[str, Any], ex: BaseException) -> None:
        node_id = error["node_id"]
        base = {
            "prompt_id": run.prompt_id,
            "node_id": node_id,
            "node_type": run.prompt[node_id]["class_type"],
            "executed": list(run.executed),
        }
        if isinstance(ex, InterruptProcessing):
            self._add_message(run, "execution_interrupted", base, broadcast=True)
            return
        self._add_message(
            run,
            "execution_error",
            {
                **base,
                "exception_message": error["exception_message"],
                "exception_type": error["exception_type"],
                "traceback": error["traceback"],
                "current_inputs": error["current_inputs"],
                "current_outputs": list(run.prompt),
            },
            broadcast=False,
        )

    def _meta(self, node_id: str) -> dict[str, Any]:
        return {
            "node_id": node_id,
            "display_node": node_id,
            "parent_node": None,
            "real_node_id": node_id,
        }

    def _gather_inputs(self, run: _Run, node_id: str) -> dict[str, Any]:
        node = run.prompt[node_id]
        info = self.catalog.raw(node["class_type"])
        declared = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        values: dict[str, Any] = {}
        for name, value in node["inputs"].items():
            if name not in declared:
                continue
            if is_link(value):
                src, index = value
                produced = run.values.get(src)
                if produced is None:
                    produced = self._cache_outputs.get(run.sigs.get(src, ""))
                values[name] = produced[index] if produced is not None else None
            else:
                values[name] = value
        return values

    def _current_inputs(
        self, run: _Run, node_id: str, values: dict[str, Any]
    ) -> dict[str, list[Any]]:
        """An execution_error's ``current_inputs``, as ComfyUI formats them. Only made when a
        node fails: ``str()`` of an image tensor costs more than a simulated render."""
        node = run.prompt[node_id]
        info = self.catalog.raw(node["class_type"])
        formatted = {k: [_format_value(v)] for k, v in values.items()}
        hidden = info["input"].get("hidden", {})
        if not self.catalog.is_v3(node["class_type"]):  # classic nodes list hidden inputs too
            for name, kind in hidden.items():
                if kind == "PROMPT":
                    formatted[name] = [_format_value(run.prompt)]
                elif kind == "EXTRA_PNGINFO":
                    formatted[name] = [_format_value(run.extra_data.get("extra_pnginfo"))]
                elif kind == "UNIQUE_ID":
                    formatted[name] = [node_id]
        return formatted

    def _call(
        self, ctx: _Context, impl: NodeImpl, class_type: str, values: dict[str, Any]
    ) -> NodeOutput:
        """The part that runs in the render thread."""
        self.hooks.before_node(ctx.prompt_id, ctx.node_id, class_type)
        out = impl.fn(ctx, **values)
        if not impl.self_timed:
            # Simulated GPU time for plain nodes: proportional to the pixels they touch.
            ctx.work(max(_pixels(values.values()), _pixels(out.values)) / 1e6)
        self.hooks.after_node(ctx.prompt_id, ctx.node_id, class_type, out.ui)
        return out

    async def _execute_node(
        self, run: _Run, node_id: str
    ) -> tuple[bool, dict[str, Any] | None, BaseException | None]:
        class_type = run.prompt[node_id]["class_type"]
        sig = run.sigs[node_id]
        client = self.hub.client_id
        if sig in self._cache_outputs:
            cached_ui = self._cache_ui.get(sig) or {}
            if client is not None:
                self.hub.send(
                    "executed",
                    {
                        "node": node_id,
                        "display_node": node_id,
                        "output": cached_ui.get("output"),
                        "prompt_id": run.prompt_id,
                    },
                    client,
                )
            if cached_ui.get("output") is not None:
                run.ui_outputs[node_id] = {
                    "meta": self._meta(node_id),
                    "output": cached_ui["output"],
                }
            run.progress.finish(node_id)
            self._send_progress_state(run)
            run.values[node_id] = self._cache_outputs[sig]
            return True, None, None

        values: dict[str, Any] | None = None
        try:
            run.progress.start(node_id)
            self._send_progress_state(run)
            values = self._gather_inputs(run, node_id)
            if client is not None:
                self.hub.last_node_id = node_id
                self.hub.send(
                    "executing",
                    {"node": node_id, "display_node": node_id, "prompt_id": run.prompt_id},
                    client,
                )
            self.check_interrupt()
            impl = self.catalog.impl(class_type)
            out = await asyncio.to_thread(
                self._call, _Context(self, run, node_id), impl, class_type, values
            )
            if out.ui:
                entry = {"meta": self._meta(node_id), "output": out.ui}
                run.ui_outputs[node_id] = entry
                self._cache_ui[sig] = entry
                if client is not None:
                    self.hub.send(
                        "executed",
                        {
                            "node": node_id,
                            "display_node": node_id,
                            "output": out.ui,
                            "prompt_id": run.prompt_id,
                        },
                        client,
                    )
            self._cache_outputs[sig] = tuple(out.values)
            run.values[node_id] = tuple(out.values)
        except InterruptProcessing as ex:
            return False, {"node_id": node_id}, ex
        except Exception as ex:
            tips = OOM_TIPS if isinstance(ex, OutOfMemoryError) else ""
            return (
                False,
                {
                    "node_id": node_id,
                    "exception_message": f"{ex}\n{tips}",
                    "exception_type": full_type_name(type(ex)),
                    "traceback": traceback.format_tb(ex.__traceback__),
                    "current_inputs": (
                        self._current_inputs(run, node_id, values) if values is not None else {}
                    ),
                },
                ex,
            )
        run.progress.finish(node_id)
        self._send_progress_state(run)
        run.executed.append(node_id)
        return True, None, None
