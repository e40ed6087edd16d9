"""One managed server as the supervisor sees it: its process, its health, its queue.

The process is started in a session of its own (so our Ctrl-C is not its, and its whole
process group is stopped together), with its output piped into its rotated log.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import time
from enum import Enum
from typing import Any

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.protocol import queue_ids
from videofactory.errors import BackendError
from videofactory.launcher.logs import LogFile, pump
from videofactory.launcher.plan import ServerSpec, environment
from videofactory.launcher.procs import describe_exit, signal_group, start_time, tree_rss

__all__ = ["ManagedServer", "ServerState"]

#: /system_stats and /queue answer in milliseconds on a healthy server.
HTTP_TIMEOUT_S = 5.0
#: How often a starting server is asked whether it is ready.
READY_POLL_S = 0.25
#: Pipe buffer of a server's output (a long progress line must not stall it).
PIPE_LIMIT = 1024 * 1024


class ServerState(str, Enum):
    """Where a managed server is in its life."""

    #: Started, not answering /system_stats yet.
    starting = "starting"
    #: Answering; gets work.
    up = "up"
    #: Over its memory limit: should get no new job; restarted once its queue is empty.
    draining = "draining"
    #: Stopped (or died) and about to be started again.
    restarting = "restarting"
    #: Given up on (failed to start, or crashed too often in a row); not restarted.
    failed = "failed"
    #: Stopped on purpose (``farm down``).
    stopped = "stopped"


class ManagedServer:
    """The process of one managed worker and what the supervisor knows about it."""

    def __init__(self, spec: ServerSpec, log: LogFile) -> None:
        self.spec = spec
        self.log = log
        #: Health and queue questions: one try each, a short timeout (the watcher asks again).
        self.comfy = ComfyClient(spec.url, timeout=HTTP_TIMEOUT_S, retry_backoff=())
        self.state = ServerState.starting
        self.proc: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.create_time: float | None = None
        self.started_at: float | None = None
        self.up_since: float | None = None
        self.restarts = 0
        #: Restarts in a row without a stable uptime between them (crash loop detection).
        self.in_row = 0
        self.last_exit: int | None = None
        self.cause = ""
        self.error = ""
        self.rss: int | None = None
        self.draining_since: float | None = None
        self._pump: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[int] | None = None

    # -- process -------------------------------------------------------------------------------

    async def start(self) -> str:
        """Start the process; returns "" or why it could not be started at all."""
        spec = self.spec
        for folder in spec.dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        self.log.note(f"starting: {shlex.join(spec.argv)}")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=environment(spec),
                cwd=str(spec.comfyui) if spec.uses_comfyui and spec.comfyui else None,
                start_new_session=True,
                limit=PIPE_LIMIT,
            )
        except OSError as exc:
            self.error = f"{spec.id}: cannot run {spec.argv[0]}: {exc.strerror or exc}"
            self.log.note(self.error)
            return self.error
        self.pid = self.proc.pid
        self.create_time = start_time(self.pid)
        self.started_at = time.time()
        self.up_since = None
        self.state = ServerState.starting
        self.error = ""
        assert self.proc.stdout is not None
        self._pump = asyncio.ensure_future(pump(self.proc.stdout, self.log))
        self._waiter = asyncio.ensure_future(self.proc.wait())
        self.log.note(f"started pid {self.pid}")
        return ""

    @property
    def running(self) -> bool:
        """The process is alive."""
        return self.proc is not None and self.proc.returncode is None

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit code once the process has exited, or None if it still runs after ``timeout``."""
        if self.proc is None:
            return self.last_exit
        if self._waiter is not None and not self._waiter.done():
            await asyncio.wait({self._waiter}, timeout=timeout)
        return self.proc.returncode

    async def reap(self) -> int | None:
        """Note the exit of a process that has exited (its output drained); its code."""
        proc = self.proc
        if proc is None:
            return self.last_exit
        code = await proc.wait()
        self._waiter = None
        if self._pump is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._pump, 2.0)
            self._pump = None
        if self.proc is proc:
            self.last_exit = code
            self.log.note(f"pid {proc.pid} {describe_exit(code)}")
            self.proc = None
        return code

    async def stop(self, grace: float) -> int | None:
        """SIGTERM its process group, SIGKILL after ``grace`` s; returns the exit code."""
        proc = self.proc
        if proc is None:
            return self.last_exit
        if proc.returncode is None:
            signal_group(proc.pid, signal.SIGTERM)
            signal_group(proc.pid, signal.SIGCONT)  # a stopped (SIGSTOP) one must see it
            if await self.wait_exit(grace) is None:
                self.log.note(f"pid {proc.pid} still running after {grace:g} s: SIGKILL")
                signal_group(proc.pid, signal.SIGKILL)
        return await self.reap()

    def measure(self) -> int | None:
        """Its memory (RSS of the process tree), remembered in ``rss``."""
        self.rss = tree_rss(self.pid) if self.running and self.pid else None
        return self.rss

    # -- HTTP ----------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close its HTTP connections (the process is not touched)."""
        await self.comfy.aclose()

    async def answers(self) -> bool:
        """It answers /system_stats with ComfyUI's JSON."""
        try:
            await self.comfy.system_stats()
        except BackendError:
            return False
        return True

    async def queue(self) -> tuple[list[str], list[str]] | None:
        """Prompt ids (running, pending) from /queue, or None when it does not answer."""
        try:
            return queue_ids(await self.comfy.queue())
        except BackendError:
            return None

    async def wait_ready(self, timeout: float) -> str:
        """Wait until it answers; returns "" or one line saying why it did not."""
        deadline = time.monotonic() + timeout
        while True:
            if await self.answers():
                self.state = ServerState.up
                self.up_since = time.time()
                self.log.note(f"answers at {self.spec.url}")
                return ""
            code = await self.wait_exit(READY_POLL_S)
            if code is not None:
                await self.reap()
                return (
                    f"{self.spec.id}: the server {describe_exit(code)} during start-up"
                    f"{self._last_line()}; log: {self.spec.log}"
                )
            if time.monotonic() > deadline:
                await self.stop(0.0)
                return (
                    f"{self.spec.id}: no answer at {self.spec.url}/system_stats within "
                    f"{timeout:g} s (stopped it){self._last_line()}; log: {self.spec.log}"
                )

    def _last_line(self) -> str:
        """The server's last words from its log, as ' (last line: ...)'."""
        try:
            with open(self.spec.log, encoding="utf-8", errors="replace") as f:
                lines = [
                    line.strip()
                    for line in f.readlines()[-50:]
                    if line.strip() and not line.startswith("[videofactory farm")
                ]
        except OSError:
            return ""
        return f" (last line: {lines[-1][:200]})" if lines else ""

    def to_json(self) -> dict[str, Any]:
        """What the state file says about it."""
        return {
            "state": self.state.value,
            "pid": self.pid if self.running else None,
            "create_time": self.create_time if self.running else None,
            "started_at": self.started_at,
            "up_since": self.up_since,
            "url": self.spec.url,
            "port": self.spec.port,
            "cuda_device": self.spec.cuda_device,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "cause": self.cause,
            "error": self.error,
            "rss_bytes": self.rss,
            "rss_limit_bytes": self.spec.rss_limit_bytes,
            "argv": list(self.spec.argv),
            "log": str(self.spec.log),
        }
