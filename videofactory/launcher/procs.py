"""Processes the launcher started: are they still ours, how much memory, stop them.

A process is identified by its pid *and* its start time: a pid the kernel has since given to
another program is never signalled. Each server runs in its own session (process group), so a
wrapper script and what it starts are stopped together.
"""

from __future__ import annotations

import os
import signal
import time

import psutil

__all__ = ["describe_exit", "is_ours", "start_time", "stop_process", "tree_rss"]

#: Start times are compared with this slack (psutil reads them with 10 ms resolution).
START_TIME_SLACK_S = 0.05


def start_time(pid: int) -> float | None:
    """When the process started (epoch seconds), or None when there is no such process."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_ours(pid: int | None, started: float | None) -> bool:
    """The process ``pid`` is alive and is the one that started at ``started``."""
    if not pid or started is None:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return bool(abs(proc.create_time() - started) <= START_TIME_SLACK_S)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def tree_rss(pid: int) -> int | None:
    """Resident memory of a process and all its descendants, in bytes (None if it is gone)."""
    try:
        proc = psutil.Process(pid)
        total = int(proc.memory_info().rss)
        for child in proc.children(recursive=True):
            try:
                total += int(child.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def describe_exit(code: int | None) -> str:
    """``exited with code 1`` / ``killed by SIGKILL``."""
    if code is None:
        return "exited"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the server's process group (its session), else to the process."""
    try:
        os.killpg(pid, sig)
        return
    except (ProcessLookupError, PermissionError):
        pass  # not a group leader (started some other way): the process alone
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return


def stop_process(pid: int, started: float, grace: float) -> str:
    """Stop one of our servers that is not our child: SIGTERM, then SIGKILL after ``grace``.

    Returns what happened: ``not running``, ``stopped`` or ``killed``. A stopped (SIGSTOP)
    process is continued so that it can act on SIGTERM.
    """
    if not is_ours(pid, started):
        return "not running"
    signal_group(pid, signal.SIGTERM)
    signal_group(pid, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_ours(pid, started):
            return "stopped"
        time.sleep(0.05)
    if not is_ours(pid, started):
        return "stopped"
    signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and is_ours(pid, started):
        time.sleep(0.05)
    return "killed"
