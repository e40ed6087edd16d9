"""Reading what a ComfyUI server answers: rejections, history entries, output files (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from videofactory.errors import ExecutionFailed, Interrupted, OutOfMemory, WorkflowRejected

__all__ = [
    "OutputRef",
    "Progress",
    "PromptResult",
    "is_out_of_memory",
    "node_error_lines",
    "parse_history_entry",
    "rejection",
]

#: Substrings of an exception type or message that mean "out of memory" on a GPU.
OOM_MARKERS = (
    "outofmemoryerror",
    "out of memory",
    "cuda error: out of memory",
    "allocation on device",
    "oom",
)


@dataclass(frozen=True)
class OutputRef:
    """One file an output node wrote, as /view wants it."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    #: The UI dict key it was listed under ("images", "audio", "gifs", "video", ...).
    key: str
    animated: bool = False

    @property
    def suffix(self) -> str:
        """The file extension, lower case, with the dot."""
        dot = self.filename.rfind(".")
        return self.filename[dot:].lower() if dot >= 0 else ""


@dataclass(frozen=True)
class PromptResult:
    """The verdict of one finished prompt, taken from /history."""

    prompt_id: str
    outputs: tuple[OutputRef, ...]
    #: Node ids served from the server's cache (no new file was written for cached outputs).
    cached_nodes: tuple[str, ...] = ()
    #: Millisecond timestamps of execution_start and of the final message.
    started_ms: int | None = None
    finished_ms: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def fully_cached(self) -> bool:
        """Every output node came from cache: the files are the ones an earlier run wrote."""
        return bool(self.outputs) and all(o.node_id in self.cached_nodes for o in self.outputs)

    @property
    def cached_outputs(self) -> tuple[OutputRef, ...]:
        """Outputs served from cache: no new file was written, the name is an earlier run's."""
        return tuple(o for o in self.outputs if o.node_id in self.cached_nodes)

    @property
    def seconds(self) -> float | None:
        """How long the server spent on it (execution_start to the last message)."""
        if self.started_ms is None or self.finished_ms is None:
            return None
        return max(0.0, (self.finished_ms - self.started_ms) / 1000.0)


@dataclass
class Progress:
    """What the websocket has said about one prompt: which node runs, its steps, what is done."""

    prompt_id: str
    started: bool = False
    #: The node running now (None before the first and after the last).
    node: str | None = None
    #: Steps of the running node (``progress`` events: samplers, upscalers).
    value: float = 0.0
    max: float = 0.0
    #: Nodes that started, in order; nodes served from cache.
    executed: list[str] = field(default_factory=list)
    cached: tuple[str, ...] = ()
    #: The terminal event, once seen.
    finished: str | None = None
    #: Millisecond timestamps of execution_start and of the terminal event.
    started_ms: int | None = None
    finished_ms: int | None = None
    #: Each output node's UI dict, from its ``executed`` event (replayed for cached nodes).
    outputs: dict[str, Any] = field(default_factory=dict)

    def update(self, name: str, data: Mapping[str, Any]) -> None:
        """Take one websocket event of this prompt into account."""
        if name == "execution_start":
            self.started = True
            self.started_ms = data.get("timestamp")
        elif name == "execution_cached":
            self.cached = tuple(str(n) for n in data.get("nodes") or [])
        elif name == "executing":
            node = data.get("node")
            self.node = None if node is None else str(node)
            self.value = self.max = 0.0
            if self.node is not None:
                self.executed.append(self.node)
        elif name == "progress":
            self.node = str(data.get("node", self.node))
            self.value = float(data.get("value") or 0)
            self.max = float(data.get("max") or 0)
        elif name == "executed" and isinstance(data.get("output"), dict):
            self.outputs[str(data.get("node"))] = data["output"]
        elif name in ("execution_success", "execution_error", "execution_interrupted"):
            self.finished = name
            self.finished_ms = data.get("timestamp")

    def success(self) -> PromptResult | None:
        """The verdict these events give on their own: a success with its outputs, when they
        show one from ``execution_start`` to ``execution_success``; else None (ask /history).

        Only the caller knows whether every event reached it (one unbroken websocket).
        """
        if self.finished != "execution_success" or self.started_ms is None or not self.outputs:
            return None
        return PromptResult(
            prompt_id=self.prompt_id,
            outputs=tuple(output_refs(self.outputs)),
            cached_nodes=self.cached,
            started_ms=self.started_ms,
            finished_ms=self.finished_ms,
            raw={"outputs": self.outputs, "from": "websocket"},
        )


def node_error_lines(
    node_errors: Mapping[str, Any], workflow: Mapping[str, Any] | None
) -> list[str]:
    """One line per problem: node id, title, input, reason."""
    lines = []
    for node_id, info in (node_errors or {}).items():
        class_type = info.get("class_type", "?") if isinstance(info, dict) else "?"
        title = _title(workflow, node_id) or class_type
        for err in (info.get("errors") or []) if isinstance(info, dict) else []:
            extra = err.get("extra_info") or {}
            input_name = extra.get("input_name")
            label = class_type if title == class_type else f"{title}, {class_type}"
            where = f"node {node_id} ({label})"
            if input_name:
                where += f" input {input_name!r}"
            reason = err.get("message", "invalid")
            details = err.get("details")
            if details:
                reason = f"{reason}: {details}"
            if extra.get("exception_type"):
                reason += f" [{extra['exception_type']}]"
            lines.append(f"{where}: {reason}")
    return lines


def rejection(body: Any, workflow: Mapping[str, Any] | None, url: str) -> WorkflowRejected:
    """The WorkflowRejected for a 400 answer (or a 200 that carries node_errors)."""
    body = body if isinstance(body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    lines = node_error_lines(body.get("node_errors") or {}, workflow)
    etype = str(error.get("type", ""))
    message = str(error.get("message", "workflow rejected"))
    details = str(error.get("details", ""))
    if not lines and details:
        # invalid_prompt names the node only as "Node ID '#1'" in details.
        match = re.fullmatch(r"Node ID '#(.+)'", details.strip())
        if match:
            node_id = match.group(1)
            node = (workflow or {}).get(node_id)
            cls = node.get("class_type", "no class_type") if isinstance(node, dict) else "?"
            title = _title(workflow, node_id) or cls
            label = cls if title == cls else f"{title}, {cls}"
            lines = [f"node {node_id} ({label}): {message}"]
        else:
            lines = [details]
    return WorkflowRejected(
        f"{url} rejected the workflow: {message}", url=url, problems=lines, error_type=etype
    )


def is_out_of_memory(exception_type: str | None, message: str | None) -> bool:
    """Whether an execution error is an out-of-memory error."""
    text = f"{exception_type or ''} {message or ''}".lower()
    return any(marker in text for marker in OOM_MARKERS)


def parse_history_entry(prompt_id: str, entry: Mapping[str, Any], url: str) -> PromptResult:
    """Turn a /history entry into a result, or raise what went wrong."""
    status = entry.get("status") or {}
    messages = [m for m in status.get("messages") or [] if isinstance(m, list) and len(m) == 2]
    names = [m[0] for m in messages]
    cached: tuple[str, ...] = ()
    started = finished = None
    for name, data in messages:
        if name == "execution_cached":
            cached = tuple(str(n) for n in data.get("nodes") or [])
        if name == "execution_start":
            started = data.get("timestamp")
        finished = data.get("timestamp", finished)
    last = names[-1] if names else ""
    if last == "execution_interrupted":
        data = messages[-1][1]
        raise Interrupted(
            f"{url}: prompt {prompt_id} was interrupted at node {data.get('node_id')} "
            f"({data.get('node_type')})",
            url=url,
        )
    if last == "execution_error" or status.get("status_str") == "error":
        data = messages[-1][1] if last == "execution_error" else {}
        etype = data.get("exception_type")
        emsg = str(data.get("exception_message", "")).strip()
        cls = OutOfMemory if is_out_of_memory(etype, emsg) else ExecutionFailed
        # Exception messages can run over many lines (torch's do); the error stays one line.
        short = " ".join(emsg.split())
        short = short if len(short) <= 300 else short[:297] + "..."
        raise cls(
            f"{url}: node {data.get('node_id')} ({data.get('node_type')}) failed: "
            f"{etype or 'error'}: {short or 'no message'}",
            url=url,
            node_id=data.get("node_id"),
            node_type=data.get("node_type"),
            exception_type=etype,
            exception_message=emsg,
        )
    return PromptResult(
        prompt_id=prompt_id,
        outputs=tuple(output_refs(entry.get("outputs") or {})),
        cached_nodes=cached,
        started_ms=started,
        finished_ms=finished,
        raw=entry,
    )


def output_refs(outputs: Mapping[str, Any]) -> list[OutputRef]:
    """Every file reference in a history ``outputs`` map, whatever key lists it."""
    refs = []
    for node_id, ui in outputs.items():
        if not isinstance(ui, dict):
            continue
        animated = bool((ui.get("animated") or [False])[0])
        for key, items in ui.items():
            if key == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("filename"), str):
                    refs.append(
                        OutputRef(
                            node_id=str(node_id),
                            filename=item["filename"],
                            subfolder=str(item.get("subfolder") or ""),
                            type=str(item.get("type") or "output"),
                            key=key,
                            animated=animated,
                        )
                    )
    return refs


def _title(workflow: Mapping[str, Any] | None, node_id: str) -> str | None:
    node = (workflow or {}).get(node_id)
    if isinstance(node, dict):
        meta = node.get("_meta")
        if isinstance(meta, dict) and meta.get("title"):
            return str(meta["title"])
    return None
