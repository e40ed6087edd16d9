"""The supervisor: starts every managed server and looks after it until it is told to stop.

Per server, every ``health_interval_s``:

* the process **exited** (crash, OOM kill): restarted after a back-off (1, 2, 5, 10, 30 s by
  default, one step per restart in a row); after ``max_restarts`` in a row, none of them up
  for ``stable_after_s``, it is given up;
* it **answered nothing** for ``unresponsive_after_s`` (hung, stopped): stopped (SIGTERM, then
  SIGKILL) and restarted the same way;
* its **memory** (RSS of its process tree) passed ``rss_limit_gb``: it is **drained** — marked
  so in the state file, where a dispatcher asks ``draining(farm)`` and sends it no new job —
  and restarted once its ComfyUI queue (``/queue``) has been empty for ``drain_settle_s``,
  that is between jobs, then put back. ComfyUI runs one prompt at a time and forgets its queue
  when it restarts, so a server whose queue does not empty within ``drain_timeout_s`` is
  restarted at the next job boundary instead: the job that just started there is lost, and
  the dispatcher's failover runs it elsewhere.

While a server is down the dispatcher's own failover takes it out of rotation and probes it
back. Every drain, restart, return and give-up is a line in ``restarts.jsonl`` with its cause
(``restarts_since(farm, t)`` reads them for the run report) and a note in the server's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videofactory.config import FarmConfig
from videofactory.errors import ConfigError
from videofactory.launcher.logs import LogFile
from videofactory.launcher.plan import (
    EXTRA_MODEL_PATHS,
    build_specs,
    extra_model_paths_yaml,
    model_subfolders,
)
from videofactory.launcher.procs import describe_exit, start_time
from videofactory.launcher.server import ManagedServer, ServerState
from videofactory.launcher.state import SupervisorLock, append_record, farm_paths, write_state

__all__ = ["OnEvent", "Supervisor"]

#: How often a draining server's queue is looked at.
DRAIN_POLL_S = 0.25
GIB = 1024**3

#: Called with (event, data) as things happen: ready, drain, restart, up, gave_up, stopped.
OnEvent = Callable[[str, dict[str, Any]], None]


def _gb(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.2f} GB"


class Supervisor:
    """Start, watch, restart and stop the managed servers of one farm (see module docstring)."""

    def __init__(
        self,
        farm: FarmConfig,
        *,
        farm_file: Path | None = None,
        on_failure: str = "keep",
        on_event: OnEvent | None = None,
        foreground: bool = True,
    ) -> None:
        if on_failure not in ("keep", "stop"):
            raise ConfigError(f"--on-failure must be keep or stop, not {on_failure!r}")
        self.farm = farm
        self.ln = farm.launcher
        self.paths = farm_paths(farm)
        self.specs = build_specs(farm, self.paths.folder)
        self.farm_file = farm_file
        self.on_failure = on_failure
        self.on_event = on_event
        self.foreground = foreground
        self.phase = "starting"
        self.failures: list[str] = []
        self.servers: dict[str, ManagedServer] = {}
        self.started_at: float | None = None
        self.stopping = asyncio.Event()
        self._lock = SupervisorLock(self.paths)
        self._log: LogFile | None = None

    # -- the whole life ------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = True) -> int:
        """Start every server, look after them until SIGTERM/SIGINT (or ``stop()``), stop them.

        Returns 0, or 1 when no server could be started (or one failed with on_failure=stop).

        Raises:
            ConfigError: another supervisor already runs this farm.
        """
        if not self._lock.acquire():
            raise ConfigError(
                f"the farm in {self.paths.folder} is already up (its supervisor runs); "
                "`videofactory farm down` stops it"
            )
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
        try:
            return await self._run()
        finally:
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
            for s in self.servers.values():
                s.log.close()
            if self._log is not None:
                self._log.close()
            self._lock.release()

    def stop(self) -> None:
        """Ask the supervisor to stop every server and return (from the supervisor's loop)."""
        self.stopping.set()

    async def _run(self) -> int:
        ln = self.ln
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        self._log = LogFile(self.paths.supervisor_log, **self._log_size())
        self._log.note(f"supervisor pid {os.getpid()} starts {len(self.specs)} server(s)")
        if ln.models:
            models = [Path(m) for m in ln.models]
            text = extra_model_paths_yaml(models, model_subfolders(models))
            (self.paths.folder / EXTRA_MODEL_PATHS).write_text(text, encoding="utf-8")
        self.started_at = time.time()
        async with contextlib.AsyncExitStack() as connections:
            for spec in self.specs:
                log = LogFile(spec.log, **self._log_size())
                self.servers[spec.id] = server = ManagedServer(spec, log)
                connections.push_async_callback(server.aclose)
            self.write()
            results = await asyncio.gather(*(self._first_start(s) for s in self.servers.values()))
            self.failures = [r for r in results if r]
            up = [s for s in self.servers.values() if s.state is ServerState.up]
            if not up or (self.failures and self.on_failure == "stop"):
                await self._stop_all()
                self.phase = "failed"
                self.write()
                self._emit("ready", {"failures": self.failures, "up": []})
                return 1
            self.phase = "running"
            self.write()
            self._emit("ready", {"failures": self.failures, "up": [s.spec.id for s in up]})
            watchers = {asyncio.ensure_future(self._watch(s)) for s in up}
            # Until told to stop, or until every server has been given up.
            stop: asyncio.Future[Any] = asyncio.ensure_future(self.stopping.wait())
            pending: set[asyncio.Future[Any]] = set(watchers)
            while pending and not stop.done():
                _, pending = await asyncio.wait(
                    pending | {stop}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stop)
            self.stopping.set()
            for w in watchers:
                w.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            await stop
            await self._stop_all()
        self.phase = "stopped"
        self.write()
        self._emit("stopped", {})
        return 0

    def _log_size(self) -> dict[str, int]:
        return {"max_bytes": int(self.ln.log_max_mb * 1024 * 1024), "keep": self.ln.log_keep}

    async def _first_start(self, s: ManagedServer) -> str:
        error = await s.start() or await s.wait_ready(self.ln.start_timeout_s)
        if error:
            s.state, s.error = ServerState.failed, error
            self._note(error)
        self.write()
        return error

    async def _stop_all(self) -> None:
        async def stop(s: ManagedServer) -> None:
            if s.running:
                s.log.note("stopping (farm down)")
                code = await s.stop(self.ln.stop_grace_s)
                self._note(f"{s.spec.id}: stopped, {describe_exit(code)}")
            if s.state is not ServerState.failed:
                s.state = ServerState.stopped

        await asyncio.gather(*(stop(s) for s in self.servers.values()))

    # -- one server ----------------------------------------------------------------------------

    async def _watch(self, s: ManagedServer) -> None:
        """Look after one server until the supervisor stops or gives it up."""
        ln = self.ln
        last_ok = time.monotonic()
        while not self.stopping.is_set():
            code = await s.wait_exit(ln.health_interval_s)
            if self.stopping.is_set():
                return
            if code is not None:
                await s.reap()
                if not await self._restart(s, "exited", describe_exit(code), exit_code=code):
                    return
                last_ok = time.monotonic()
                continue
            if await s.answers():
                last_ok = time.monotonic()
            elif time.monotonic() - last_ok >= ln.unresponsive_after_s:
                quiet = time.monotonic() - last_ok
                detail = f"answered nothing at /system_stats for {quiet:.0f} s"
                if not await self._restart(s, "unresponsive", detail):
                    return
                last_ok = time.monotonic()
                continue
            rss, limit = s.measure(), s.spec.rss_limit_bytes
            if limit and rss and rss > limit:
                if not await self._drain(s, rss, limit):
                    return
                last_ok = time.monotonic()
            if s.in_row and s.up_since and time.time() - s.up_since >= ln.stable_after_s:
                s.in_row = 0
            self.write()

    async def _drain(self, s: ManagedServer, rss: int, limit: int) -> bool:
        """No new job, restart between jobs (see the module docstring); False if given up."""
        ln = self.ln
        detail = f"memory (RSS) {_gb(rss)} passed its limit {_gb(limit)}"
        s.state, s.cause = ServerState.draining, detail
        began = time.monotonic()
        s.draining_since = time.time()
        self.write()  # the state first: whoever reads the drain record finds the server draining
        record = self._record("drain", s, detail=detail, rss_bytes=rss, rss_limit_bytes=limit)
        self._emit("drain", record)
        self._note(f"{s.spec.id}: {detail}; draining (no new job), restart when its queue is empty")
        forced: str | None = None
        idle_since: float | None = None
        boundary_at: float | None = None
        last_answer = time.monotonic()
        while not self.stopping.is_set():
            code = await s.wait_exit(DRAIN_POLL_S)
            if code is not None:
                await s.reap()
                return await self._restart(s, "exited", describe_exit(code), exit_code=code)
            now = time.monotonic()
            queue = await s.queue()
            if queue is None:
                if now - last_answer >= ln.unresponsive_after_s:
                    quiet = f"answered nothing at /queue for {now - last_answer:.0f} s"
                    return await self._restart(s, "unresponsive", quiet)
                continue
            last_answer = now
            running, pending = queue
            if not running and not pending:
                idle_since = idle_since or now
                if now - idle_since >= ln.drain_settle_s:
                    break
                continue
            idle_since = None
            if forced is None and now - began >= ln.drain_timeout_s:
                forced = running[0] if running else ""
                self._note(
                    f"{s.spec.id}: still busy after draining {ln.drain_timeout_s:g} s; "
                    "restarting at the next job boundary"
                )
            if forced is not None and (running[0] if running else "") != forced:
                boundary_at = boundary_at or now
                if now - boundary_at >= ln.drain_settle_s:
                    detail += " (drain timed out: restarted at a job boundary)"
                    break
        else:
            return False
        s.measure()
        return await self._restart(s, "memory", detail, planned=True)

    async def _restart(
        self,
        s: ManagedServer,
        cause: str,
        detail: str,
        *,
        exit_code: int | None = None,
        planned: bool = False,
    ) -> bool:
        """Stop (if needed) and start a server again until it answers; False if given up."""
        ln = self.ln
        went_down = time.time()
        if s.up_since and went_down - s.up_since >= ln.stable_after_s:
            s.in_row = 0
        while True:
            if not planned:
                s.in_row += 1
            if s.in_row > ln.max_restarts:
                if s.running:
                    await s.stop(ln.stop_grace_s)
                s.state = ServerState.failed
                s.error = (
                    f"{s.spec.id}: given up after {s.in_row - 1} restarts in a row "
                    f"(last: {detail}); log: {s.spec.log}"
                )
                self.write()
                gave_up = self._record("gave_up", s, cause=cause, detail=s.error)
                self._emit("gave_up", gave_up)
                self._note(s.error)
                return False
            s.restarts += 1
            s.cause = f"{cause}: {detail}"
            s.state = ServerState.restarting
            self.write()  # the state before the record, as everywhere here
            record = self._record(
                "restart",
                s,
                cause=cause,
                detail=detail,
                exit_code=exit_code,
                old_pid=s.pid,
                rss_bytes=s.rss,
                restart=s.restarts,
            )
            self._emit("restart", record)
            self._note(f"{s.spec.id}: restart {s.restarts} ({cause}): {detail}")
            if s.running:
                await s.stop(ln.stop_grace_s)
            delay = (
                0.0
                if planned
                else ln.restart_backoff_s[min(s.in_row, len(ln.restart_backoff_s)) - 1]
            )
            if delay > 0:
                try:
                    await asyncio.wait_for(self.stopping.wait(), delay)
                    return False
                except TimeoutError:
                    pass
            if self.stopping.is_set():
                return False
            error = await s.start() or await s.wait_ready(ln.start_timeout_s)
            if not error:
                s.cause = ""
                s.draining_since = None
                self.write()
                up = self._record(
                    "up",
                    s,
                    pid=s.pid,
                    restart=s.restarts,
                    downtime_s=round(time.time() - went_down, 3),
                )
                self._emit("up", up)
                self._note(f"{s.spec.id}: back up as pid {s.pid} after restart {s.restarts}")
                return True
            detail = error.removeprefix(f"{s.spec.id}: ")
            cause, exit_code, planned = "died_at_start", s.last_exit, False

    # -- records -------------------------------------------------------------------------------

    def _record(self, event: str, s: ManagedServer, **fields: Any) -> dict[str, Any]:
        return append_record(
            self.paths, {"event": event, "worker": s.spec.id, "url": s.spec.url, **fields}
        )

    def _note(self, message: str) -> None:
        if self._log is not None:
            self._log.note(message)

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(event, data)

    def write(self) -> None:
        """Write the state file (the CLI, `farm status` and dispatchers read it)."""
        pid = os.getpid()
        write_state(
            self.paths,
            {
                "farm": self.farm.name,
                "farm_file": str(self.farm_file) if self.farm_file else None,
                "phase": self.phase,
                "supervisor": {
                    "pid": pid,
                    "create_time": start_time(pid),
                    "started_at": self.started_at,
                    "foreground": self.foreground,
                },
                "failures": self.failures,
                "workers": {wid: s.to_json() for wid, s in self.servers.items()},
            },
        )
