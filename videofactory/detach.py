"""Detached runs: a run driven by a background process that outlives the terminal.

``--detach`` records the run first (so that ``show``, ``wait`` and ``logs`` know it at once),
then starts ``videofactory resume RUN`` in a session of its own (no terminal, so closing the
terminal does not stop it; standard input from /dev/null), its output going to ``run.log`` in
the run folder. ``detached.json`` beside it says which process that is and how it was started.
It stays in the folder it was started from (its arguments are absolute anyway), with ``-P``,
so that a ``json.py`` there is never imported (see ``videofactory.pychild``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from videofactory.errors import ConfigError
from videofactory.pychild import child_env, python_module

__all__ = [
    "DETACHED_FILE",
    "LOG_FILE",
    "Detached",
    "cancelled_since_start",
    "pid_alive",
    "read_detached",
    "resume_detached",
    "spawn",
]

#: The record of the background process, in the run folder.
DETACHED_FILE = "detached.json"
#: What the background process prints (its plain log lines, and any crash), in the run folder.
LOG_FILE = "run.log"


@dataclass(frozen=True)
class Detached:
    """A background process driving a run."""

    run_id: str
    pid: int
    log: str
    argv: list[str]
    started_at: float

    def to_json(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return asdict(self)


def spawn(run_id: str, run_dir: Path, args: list[str]) -> Detached:
    """Start ``videofactory ARGS`` in the background for a run; returns at once.

    The process gets a session of its own (it survives the terminal closing and Ctrl-C there),
    no standard input, and ``run_dir/run.log`` as standard output and error.
    """
    run_dir = Path(run_dir).resolve()
    argv = python_module("videofactory", *args)
    log = run_dir / LOG_FILE
    env = child_env({"PYTHONUNBUFFERED": "1"})
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                **_new_session(),
            )
    except OSError as exc:
        raise ConfigError(f"cannot start the background process for {run_id}: {exc}") from exc
    record = Detached(run_id, proc.pid, str(log), argv, time.time())
    tmp = run_dir / (DETACHED_FILE + ".tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2), encoding="utf-8")
    tmp.replace(run_dir / DETACHED_FILE)
    return record


def resume_detached(
    run_id: str, run_dir: Path, workdir: Path, farm: Path | None = None, *, debug: bool = False
) -> Detached:
    """Drive a recorded run to its end in the background: ``videofactory resume RUN`` with the
    work directory (and farm file, when one is named) as absolute paths (``spawn``)."""
    args = ["resume", run_id, "--workdir", str(Path(workdir).resolve())]
    if farm is not None:
        args += ["--farm", str(Path(farm).resolve())]
    if debug:
        args.insert(0, "--debug")
    return spawn(run_id, run_dir, args)


def read_detached(run_dir: Path) -> Detached | None:
    """The background process of a run, if it was started with --detach."""
    path = Path(run_dir) / DETACHED_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Detached(**data)
    except (OSError, ValueError, TypeError):
        return None


def cancelled_since_start(record: dict[str, Any], run_dir: Path) -> bool:
    """Whether a run (its record in the run database) was cancelled after this process was
    started in the background to drive it, but before it began: a cancel that must stand,
    not be overwritten by the process starting the run. A cancelled run resumed later (by a
    process started after the cancel) goes on."""
    if record.get("state") != "cancelled":  # store.RunState.cancelled (a layer above this)
        return False
    mine = read_detached(run_dir)
    return (
        mine is not None
        and mine.pid == os.getpid()
        and float(record.get("updated_at") or 0) >= mine.started_at
    )


def pid_alive(pid: int | None) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, counts as dead)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        # "pid (comm) S ...": the state letter follows the last ')'.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _new_session() -> dict[str, Any]:
    if sys.platform == "win32":  # pragma: no cover - no Windows here
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined]
        return {"creationflags": flags}
    return {"start_new_session": True}
