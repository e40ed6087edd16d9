"""A simulated farm that heals itself: a server that exits is started again, on its port.

The farm launcher does this for managed ComfyUI servers (``videofactory.launcher.supervisor``);
the built-in farm does the same, with the launcher's settings and records. A server that
exited (a crash fault, the OOM killer, someone's ``kill -9``) is started again after a back-off
(``restart_backoff_s``, one step per restart in a row) on the **same port**, so the worker's
URL the dispatcher holds stays valid; after ``max_restarts`` in a row, none of them up for
``stable_after_s``, it is given up. It comes back like a restarted ComfyUI: queue and history
empty (its files on disk are kept), faults as its command line set them (a ``crash_after``
counts again from zero; faults set at runtime are gone). The dispatcher probes it back and
sends again what it lost: the new server does not know the old prompt ids.

Each restart, return and give-up is a line in ``<farm root>/restarts.jsonl`` in the launcher's
format (``restarts_since(root, t)`` reads them, the dispatcher puts them in the run's log)
and a note in the server's ``sim.log``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videofactory.errors import BackendUnavailable

if TYPE_CHECKING:
    from videofactory.config import LauncherConfig
    from videofactory.sim.farm import SimFarm

__all__ = ["Healer", "OnRestart", "RestartPolicy"]

#: Called with (event, record) as things happen: restart, up, gave_up (the launcher's events).
OnRestart = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class RestartPolicy:
    """When a server that exited is started again: ``from_launcher`` takes a farm's settings
    (the built-in farm's are the launcher's defaults)."""

    #: Waits before restart 1, 2, 3 ... in a row (the last repeats).
    backoff_s: tuple[float, ...]
    #: Restarts in a row before the server is given up.
    max_restarts: int
    #: A server up this long is no longer "in a row".
    stable_after_s: float
    #: How often each server's process is looked at.
    check_interval_s: float = 0.25

    def __post_init__(self) -> None:
        if not self.backoff_s or any(b < 0 for b in self.backoff_s):
            raise ValueError(f"backoff_s needs one or more waits of 0 s or more: {self.backoff_s}")

    @classmethod
    def from_launcher(cls, ln: LauncherConfig | None = None) -> RestartPolicy:
        """The policy of a farm's ``launcher:`` section (default: the launcher's defaults)."""
        if ln is None:
            from videofactory.config import LauncherConfig  # pydantic: not in every child

            ln = LauncherConfig()
        return cls(tuple(ln.restart_backoff_s), ln.max_restarts, ln.stable_after_s)

    def delay(self, in_row: int) -> float:
        """The wait before the ``in_row``-th restart in a row (1 for the first)."""
        return self.backoff_s[min(max(in_row, 1), len(self.backoff_s)) - 1]


@dataclass
class _Server:
    """What the healer knows of one server."""

    name: str
    restarts: int = 0
    in_row: int = 0
    up_since: float = field(default_factory=time.time)


class Healer:
    """One thread per server of a started farm, restarting it when it exits (module docstring).

    The farm provides the processes (``processes``), the way to start one again on its port
    (``relaunch``) and the event that says it is stopping (``stopping``).
    """

    def __init__(
        self, farm: SimFarm, policy: RestartPolicy, on_event: OnRestart | None = None
    ) -> None:
        # The launcher's records and exit descriptions; imported here, not by every server.
        from videofactory.launcher.procs import describe_exit
        from videofactory.launcher.state import FarmPaths, append_record

        self._describe_exit, self._append = describe_exit, append_record
        self.farm = farm
        self.policy = policy
        self.on_event = on_event
        self.paths = FarmPaths(Path(farm.root))
        self.servers = {name: _Server(name) for name in farm.processes}
        #: Servers that crashed too often in a row: not restarted any more.
        self.given_up: set[str] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start watching every server."""
        for server in self.servers.values():
            thread = threading.Thread(
                target=self._watch, args=(server,), daemon=True, name=f"sim-heal-{server.name}"
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        """Wait for the threads to end (once the farm's ``stopping`` is set)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def restarting(self, name: str) -> bool:
        """The server is down but will be started again (it was not given up)."""
        return name not in self.given_up

    def _watch(self, server: _Server) -> None:
        stopping = self.farm.stopping
        while not stopping.wait(self.policy.check_interval_s):
            proc = self.farm.processes[server.name]
            code = proc.poll()
            if code is None:
                continue
            if not self._restart(server, proc.pid, code):
                return

    def _restart(self, server: _Server, old_pid: int, code: int) -> bool:
        """Start the server again until it answers; False if given up or the farm stops."""
        policy, stopping = self.policy, self.farm.stopping
        went_down = time.time()
        if went_down - server.up_since >= policy.stable_after_s:
            server.in_row = 0
        cause, detail, exit_code = "exited", self._describe_exit(code), code
        while True:
            server.in_row += 1
            if server.in_row > policy.max_restarts:
                self.given_up.add(server.name)
                log = self.farm.folder(server.name) / "sim.log"
                message = (
                    f"{server.name}: given up after {server.in_row - 1} restarts in a row "
                    f"(last: {detail}); log: {log}"
                )
                self._record("gave_up", server, cause=cause, detail=message)
                return False
            server.restarts += 1
            self._record(
                "restart",
                server,
                cause=cause,
                detail=detail,
                exit_code=exit_code,
                old_pid=old_pid,
                restart=server.restarts,
            )
            if stopping.wait(policy.delay(server.in_row)):
                return False
            try:
                self.farm.relaunch(server.name)
            except BackendUnavailable as exc:
                if stopping.is_set():
                    return False
                proc = self.farm.processes[server.name]
                cause, exit_code, old_pid = "died_at_start", proc.poll(), proc.pid
                # What happened, and the server's last words (its log's tail): one line.
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                first, last = lines[0].rstrip(":"), lines[-1]
                detail = first if len(lines) == 1 else f"{first}: {last}"
                continue
            server.up_since = time.time()
            pid = self.farm.processes[server.name].pid
            self._record(
                "up",
                server,
                pid=pid,
                restart=server.restarts,
                downtime_s=round(server.up_since - went_down, 3),
            )
            return True

    def _record(self, event: str, server: _Server, **fields: Any) -> None:
        """A line in restarts.jsonl, a note in the server's log, and the callback."""
        url = self.farm.urls.get(server.name, "")
        record = self._append(
            self.paths, {"event": event, "worker": server.name, "url": url, **fields}
        )
        if event == "restart":
            note = f"restart {fields['restart']} ({fields['cause']}): {fields['detail']}"
        elif event == "up":
            note = f"back up as pid {fields['pid']} after restart {fields['restart']}"
        else:
            note = str(fields["detail"])
        _note(self.farm.folder(server.name) / "sim.log", f"{server.name}: {note}")
        if self.on_event is not None:
            self.on_event(event, record)


def _note(log: Path, message: str) -> None:
    """One line of the farm's own in a server's log, marked and timestamped as the launcher's."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"[videofactory farm {stamp}] {message}\n")
    except OSError:
        pass  # the farm's folder is being removed: nothing left to tell
