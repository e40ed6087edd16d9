"""Logs of the managed servers: their output, line by line, into rotated files.

Each server's stdout and stderr come through one pipe to the supervisor, which writes them to
``logs/<worker>.log`` with the standard library's ``RotatingFileHandler`` (renamed to .1, .2,
... at ``log_max_mb``, ``log_keep`` kept). The supervisor's own notes (started, exited, why it
restarts) go into the same file between the server's lines, so one file tells the story.
"""

from __future__ import annotations

import asyncio
import logging
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

__all__ = ["LogFile", "pump"]

#: A server line longer than this is written in pieces (a progress bar without newlines).
MAX_LINE = 64 * 1024
#: Bytes read from a pipe at once.
CHUNK = 64 * 1024


class LogFile:
    """One rotated log file; ``write`` takes a line, ``note`` a supervisor line (timestamped)."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=keep, encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def write(self, line: str) -> None:
        """Append one line of the server's output."""
        self._handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def note(self, message: str) -> None:
        """Append one line of our own, marked and timestamped."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.write(f"[videofactory farm {stamp}] {message}")

    def close(self) -> None:
        """Close the file."""
        self._handler.close()


async def pump(stream: asyncio.StreamReader, log: LogFile) -> None:
    """Copy a server's output into its log until the pipe closes.

    Progress bars redraw with carriage returns: each redraw is a line of its own here.
    """
    pending = b""
    while True:
        chunk = await stream.read(CHUNK)
        if not chunk:
            break
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            _write(log, raw)
        while len(pending) >= MAX_LINE:
            _write(log, pending[:MAX_LINE])
            pending = pending[MAX_LINE:]
    _write(log, pending)


def _write(log: LogFile, raw: bytes) -> None:
    """One line (in pieces of at most MAX_LINE bytes); blank lines are left out."""
    for start in range(0, len(raw), MAX_LINE):
        piece = raw[start : start + MAX_LINE]
        if piece.strip():
            log.write(piece.decode("utf-8", "replace"))
