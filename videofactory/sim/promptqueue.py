"""The prompt queue and history of one server (ComfyUI's PromptQueue), on the event loop.

Queue items are ComfyUI's 6-tuples ``(number, prompt_id, prompt, extra_data,
outputs_to_execute, sensitive)``; the pending ones live in a heap (``/queue`` shows the heap as
it is, not sorted), the running one in a dict keyed by a task counter. Every change calls
``on_change`` so the server can broadcast a ``status`` message.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from typing import Any

__all__ = ["MAXIMUM_HISTORY_SIZE", "PromptQueue"]

#: ComfyUI drops the oldest history entry beyond this.
MAXIMUM_HISTORY_SIZE = 10000

Item = tuple[Any, ...]


class PromptQueue:
    """Pending heap, running items, history, and the flags set by /free."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self.queue: list[Item] = []
        self.running: dict[int, Item] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.flags: dict[str, Any] = {}
        self._task_counter = 0
        self._wakeup = asyncio.Event()

    def put(self, item: Item) -> None:
        """Queue an item."""
        heapq.heappush(self.queue, item)
        self._on_change()
        self._wakeup.set()

    async def get(self) -> tuple[Item, int] | None:
        """Wait for the next item; None when only flags changed (the worker checks them)."""
        while not self.queue:
            if self.flags:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        item = heapq.heappop(self.queue)
        task_id = self._task_counter
        self.running[task_id] = item
        self._task_counter += 1
        self._on_change()
        return item, task_id

    def task_done(
        self, task_id: int, outputs: dict[str, Any], meta: dict[str, Any], status: dict[str, Any]
    ) -> None:
        """Move a finished item into history (the 5-element prompt array, no secrets)."""
        item = self.running.pop(task_id)
        if len(self.history) > MAXIMUM_HISTORY_SIZE:
            self.history.pop(next(iter(self.history)))
        # Re-using a prompt id replaces its entry in place, like ComfyUI's dict assignment.
        self.history[item[1]] = {
            "prompt": list(item[:5]),
            "outputs": outputs,
            "status": status,
            "meta": meta,
        }
        self._on_change()

    def tasks_remaining(self) -> int:
        """Running plus pending."""
        return len(self.queue) + len(self.running)

    def current(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """(running, pending) as 5-element lists, as /queue shows them."""
        return ([list(x[:5]) for x in self.running.values()], [list(x[:5]) for x in self.queue])

    def is_known(self, prompt_id: str) -> bool:
        """Whether the id is running or pending."""
        return any(x[1] == prompt_id for x in (*self.running.values(), *self.queue))

    def running_ids(self) -> list[str]:
        """Ids of running prompts (at most one)."""
        return [x[1] for x in self.running.values()]

    def delete(self, prompt_id: str) -> bool:
        """Remove one pending item; broadcasts only when something was removed."""
        for i, item in enumerate(self.queue):
            if item[1] == prompt_id:
                self.queue.pop(i)
                heapq.heapify(self.queue)
                self._on_change()
                return True
        return False

    def wipe(self) -> None:
        """Remove every pending item (always broadcasts)."""
        self.queue = []
        self._on_change()

    def get_history(
        self, prompt_id: str | None = None, max_items: int | None = None, offset: int = -1
    ) -> dict[str, Any]:
        """ComfyUI's get_history, including "last N" when max_items comes without offset."""
        if prompt_id is not None:
            return {prompt_id: self.history[prompt_id]} if prompt_id in self.history else {}
        out: dict[str, Any] = {}
        if offset < 0 and max_items is not None:
            offset = len(self.history) - max_items
        for i, key in enumerate(self.history):
            if i >= offset:
                out[key] = self.history[key]
                if max_items is not None and len(out) >= max_items:
                    break
        return out

    def wipe_history(self) -> None:
        """Forget every history entry."""
        self.history.clear()

    def delete_history(self, prompt_id: str) -> None:
        """Forget one history entry."""
        self.history.pop(prompt_id, None)

    def set_flag(self, name: str, value: Any) -> None:
        """Set a /free flag and wake the worker."""
        self.flags[name] = value
        self._wakeup.set()

    def take_flags(self) -> dict[str, Any]:
        """Return and clear the flags."""
        flags, self.flags = self.flags, {}
        return flags
