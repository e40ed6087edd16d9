"""Execution order and progress bookkeeping of one prompt (ComfyUI's comfy_execution parts).

``ExecutionList`` is ComfyUI's topological sort: nodes are added depth-first from the output
nodes (skipping cached ones), and among the ready nodes an output node goes first, then a node
that unblocks an output directly, then one that does so through one more node, else the first
ready node in insertion order. This is why a workflow runs in the same order as on ComfyUI.

``ProgressRegistry`` is the per-prompt node state that every ``progress_state`` message shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ExecutionList", "ProgressRegistry", "is_link"]


def is_link(value: Any) -> bool:
    """``["node id", output index]``: only a string id and a number make a link."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | float)
        and not isinstance(value[1], bool)
    )


class ExecutionList:
    """Nodes still to run for a prompt, and which one runs next."""

    def __init__(
        self,
        prompt: dict[str, Any],
        is_cached: Callable[[str], bool],
        is_output: Callable[[str], bool],
    ) -> None:
        self.prompt = prompt
        self.is_cached = is_cached
        self.is_output = is_output
        self.pending: dict[str, bool] = {}
        self.block_count: dict[str, int] = {}
        self.blocking: dict[str, dict[str, bool]] = {}

    def add_node(self, node_id: str) -> None:
        """Add a node and, depth first, every uncached node it needs."""
        stack = [node_id]
        links: list[tuple[str, str]] = []
        while stack:
            uid = stack.pop()
            if uid in self.pending:
                continue
            self.pending[uid] = True
            self.block_count[uid] = 0
            self.blocking[uid] = {}
            for value in self.prompt[uid]["inputs"].values():
                if is_link(value):
                    src = value[0]
                    if not self.is_cached(src):
                        stack.append(src)
                    links.append((src, uid))
        for src, dst in links:
            if not self.is_cached(src):
                self.add_node(src)
                if dst not in self.blocking[src]:
                    self.blocking[src][dst] = True
                    self.block_count[dst] += 1

    def is_empty(self) -> bool:
        """True when every node ran."""
        return not self.pending

    def pick(self) -> str | None:
        """The next node to run (None: nothing is ready, i.e. a cycle)."""
        ready = [n for n in self.pending if self.block_count[n] == 0]
        if not ready:
            return None
        for node_id in ready:
            if self.is_output(node_id):
                return node_id
        for node_id in ready:  # the "VAEDecode -> preview" case
            if any(self.is_output(b) for b in self.blocking[node_id]):
                return node_id
        for node_id in ready:  # the "VAELoader -> VAEDecode -> preview" case
            for b in self.blocking[node_id]:
                if any(self.is_output(b2) for b2 in self.blocking[b]):
                    return node_id
        return ready[0]

    def complete(self, node_id: str) -> None:
        """Mark a node done and unblock what waited for it."""
        del self.pending[node_id]
        for blocked in self.blocking.pop(node_id):
            self.block_count[blocked] -= 1


class ProgressRegistry:
    """State of each node of one prompt, in the order nodes were first touched."""

    def __init__(self, prompt_id: str) -> None:
        self.prompt_id = prompt_id
        self.nodes: dict[str, dict[str, Any]] = {}

    def _entry(self, node_id: str) -> dict[str, Any]:
        # A node never started (served from cache) keeps the int defaults: ComfyUI reports
        # such nodes as value 1 / max 1 (ints), started ones as floats.
        return self.nodes.setdefault(node_id, {"state": "pending", "value": 0, "max": 1})

    def start(self, node_id: str) -> None:
        """A node begins."""
        self._entry(node_id).update(state="running", value=0.0, max=1.0)

    def update(self, node_id: str, value: float, max_value: float) -> None:
        """A progress tick."""
        self._entry(node_id).update(state="running", value=value, max=max_value)

    def finish(self, node_id: str) -> None:
        """A node ended (or was served from cache)."""
        entry = self._entry(node_id)
        entry.update(state="finished", value=entry["max"])

    def snapshot(self) -> dict[str, Any]:
        """The ``nodes`` of a progress_state message: every node that is not pending."""
        return {
            nid: {
                "value": e["value"],
                "max": e["max"],
                "state": e["state"],
                "node_id": nid,
                "prompt_id": self.prompt_id,
                "display_node_id": nid,
                "parent_node_id": None,
                "real_node_id": nid,
            }
            for nid, e in self.nodes.items()
            if e["state"] != "pending"
        }
