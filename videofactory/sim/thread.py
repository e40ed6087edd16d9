"""Run a simulated server on its own event loop in a background thread.

For tests and for embedding a simulator in a synchronous program::

    with ServerThread(SimOptions(base_directory=tmp_path, port=0)) as sim:
        ComfyProbe().system_stats(sim.url)  # or ComfyClient(sim.url) on an event loop
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from videofactory.sim.options import SimOptions
from videofactory.sim.server import SimServer

__all__ = ["ServerThread"]


class ServerThread:
    """A SimServer in a daemon thread; a context manager that yields itself (``.url``)."""

    def __init__(self, options: SimOptions | None = None, *, start_timeout: float = 30.0) -> None:
        self.options = options or SimOptions(port=0)
        self.start_timeout = start_timeout
        self.url = ""
        self.server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> str:
        """Start the thread and wait until the server listens; returns the URL."""
        self._thread = threading.Thread(
            target=self._run, name=f"sim-{self.options.name}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            raise TimeoutError(f"simulated server {self.options.name} did not start in time")
        if self._error is not None:
            raise self._error
        return self.url

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() when it happens before ready
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.server = SimServer(self.options)
        self.url = await self.server.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.stop()

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the server's loop (e.g. to poke its state in a test)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # loop already closed
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
