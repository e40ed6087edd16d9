"""How a long command stops: SIGTERM as Ctrl-C.

Left to its default, SIGTERM (``kill``, ``timeout``, systemd, ``docker stop``) ends a process
on the spot: no ``finally`` runs, so a run stays marked running with no report, and partial
files stay behind. Under ``sigterm_as_ctrl_c`` it goes to whatever handles Ctrl-C at that
moment: asyncio's handler, which cancels the main task so that every ``finally`` runs, or
Python's, which raises KeyboardInterrupt. A second SIGTERM, like a second Ctrl-C, is immediate.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["sigterm_as_ctrl_c"]


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Within this block, SIGTERM does what Ctrl-C does (main thread only; elsewhere nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's (tests drive runs from threads too)
        return

    def on_term(signum: int, frame: Any) -> None:
        handler = signal.getsignal(signal.SIGINT)
        if not callable(handler):  # Ctrl-C ignored (a background job): stop anyway
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
