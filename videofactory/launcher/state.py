"""The farm folder: the supervisor's state, its lock, the restart records and the logs.

::

    <farm folder>/                     launcher.folder (default: farm/ beside the farm file)
      launcher.json                    state: supervisor and each server (pid, state, restarts)
      launcher.lock                    held (flock) while a supervisor runs
      restarts.jsonl                   one JSON line per drain, restart, return and give-up
      extra_model_paths.yaml           the shared model folders, for ComfyUI
      logs/<worker>.log[.1 ...]        each server's output, rotated
      logs/supervisor.log              what the supervisor did and why
      workers/<worker>/{output,input,temp,user}/

A dispatcher learns of restarts with ``restarts_since(farm, t)`` and of servers being drained
(that should get no new job) with ``draining(farm)``; both only read files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from videofactory.config import FarmConfig
from videofactory.errors import ConfigError

__all__ = [
    "FarmPaths",
    "SupervisorLock",
    "append_record",
    "draining",
    "farm_paths",
    "read_records",
    "read_state",
    "restarts_since",
    "write_state",
]


@dataclass(frozen=True)
class FarmPaths:
    """Where a farm's launcher keeps its files."""

    folder: Path

    @property
    def state(self) -> Path:
        """The supervisor's state (JSON, replaced atomically)."""
        return self.folder / "launcher.json"

    @property
    def lock(self) -> Path:
        """Held while a supervisor runs."""
        return self.folder / "launcher.lock"

    @property
    def records(self) -> Path:
        """Restart records, one JSON object a line."""
        return self.folder / "restarts.jsonl"

    @property
    def logs(self) -> Path:
        """The servers' and the supervisor's logs."""
        return self.folder / "logs"

    @property
    def supervisor_log(self) -> Path:
        """What the supervisor did."""
        return self.logs / "supervisor.log"


def farm_paths(farm: FarmConfig | str | os.PathLike[str]) -> FarmPaths:
    """The farm folder of a farm (loaded with ``load_farm``) or the folder itself."""
    if isinstance(farm, FarmConfig):
        return FarmPaths(Path(farm.launcher.folder).absolute())
    return FarmPaths(Path(farm).absolute())


def read_state(paths: FarmPaths) -> dict[str, Any]:
    """The last state the supervisor wrote ({} when none)."""
    try:
        data = json.loads(paths.state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the farm state {paths.state}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def write_state(paths: FarmPaths, state: dict[str, Any]) -> None:
    """Replace the state file atomically (a reader never sees half of it)."""
    paths.folder.mkdir(parents=True, exist_ok=True)
    tmp = paths.state.with_name(f".{paths.state.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**state, "updated_at": time.time()}, indent=1), encoding="utf-8")
    os.replace(tmp, paths.state)


def append_record(paths: FarmPaths, record: dict[str, Any]) -> dict[str, Any]:
    """Add one record (``ts`` filled in) to restarts.jsonl; returns it."""
    record = {"ts": time.time(), **record}
    paths.folder.mkdir(parents=True, exist_ok=True)
    # One write() of one line to a file opened for appending: lines never interleave.
    with open(paths.records, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    return record


def read_records(paths: FarmPaths, since: float = 0.0) -> list[dict[str, Any]]:
    """Every record with ``ts >= since``, oldest first (a torn last line is skipped)."""
    try:
        lines = paths.records.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and float(record.get("ts", 0)) >= since:
                records.append(record)
    return records


def restarts_since(farm: FarmConfig | str | os.PathLike[str], t: float) -> list[dict[str, Any]]:
    """The managed servers' restarts that began at or after ``t`` (``time.time()`` seconds).

    Each is ``{"ts", "worker", "cause", "detail", "exit_code", "old_pid", "rss_bytes",
    "restart", "url"}`` (cause: ``exited``, ``unresponsive``, ``memory`` or ``died_at_start``),
    plus ``"back_at"`` and ``"new_pid"`` once the server answered again, or ``"gave_up": true``
    when the supervisor stopped trying. ``farm`` is a loaded farm or its farm folder.
    """
    records = read_records(farm_paths(farm), since=t)
    restarts: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for r in records:
        worker = str(r.get("worker", ""))
        if r.get("event") == "restart":
            entry = {k: v for k, v in r.items() if k != "event"}
            restarts.append(entry)
            open_[worker] = entry
        elif r.get("event") == "up" and worker in open_:
            open_.pop(worker).update(back_at=r["ts"], new_pid=r.get("pid"))
        elif r.get("event") == "gave_up" and worker in open_:
            open_.pop(worker)["gave_up"] = True
    return restarts


def draining(farm: FarmConfig | str | os.PathLike[str]) -> dict[str, str]:
    """Servers being drained for a restart (no new job should go there): worker -> why.

    Empty when no supervisor runs.
    """
    paths = farm_paths(farm)
    if not SupervisorLock(paths).held_elsewhere():
        return {}
    workers = read_state(paths).get("workers") or {}
    return {
        wid: str(w.get("cause") or "draining")
        for wid, w in workers.items()
        if isinstance(w, dict) and w.get("state") == "draining"
    }


class SupervisorLock:
    """An exclusive lock on the farm folder, held by the one supervisor of a farm.

    A lock (rather than a pid file) because the kernel drops it when its holder dies, however
    it dies, so a stale one never blocks the next ``farm up``.
    """

    def __init__(self, paths: FarmPaths) -> None:
        self.paths = paths
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it."""
        self.paths.folder.mkdir(parents=True, exist_ok=True)
        f = open(self.paths.lock, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        """Let go of the lock."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def held_elsewhere(self) -> bool:
        """Another process (a running supervisor) holds the lock now."""
        if self._file is not None:
            return False
        if not self.paths.lock.exists():
            return False
        if self.acquire():
            self.release()
            return False
        return True

    @contextlib.contextmanager
    def held(self) -> Iterator[bool]:
        """Hold the lock for a block; yields whether it was taken."""
        taken = self.acquire()
        try:
            yield taken
        finally:
            if taken:
                self.release()


@dataclass(frozen=True)
class RecordedSupervision:
    """What the supervisor of a farm's servers records in its folder, read for a run (the
    ``farm.context.Supervision`` a dispatcher is handed): the farm launcher's, or the built-in
    farm's, which keeps the same records."""

    #: The farm (its ``launcher.folder``) or the folder itself.
    farm: FarmConfig | str | os.PathLike[str]
    label: str = "the launcher"

    def draining(self) -> set[str]:
        """The workers being drained now."""
        return set(draining(self.farm))

    def restarts_since(self, since: float) -> list[dict[str, Any]]:
        """The restarts since ``since`` (wall clock)."""
        return restarts_since(self.farm, since)
