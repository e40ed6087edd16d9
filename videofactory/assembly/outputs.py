"""The files of an assembly: its outputs, their temporary names, and who may write them.

Everything an assembly writes goes to a hidden, unique name beside its final one
(``.final.partial-1a2b3c4d.mp4``) and is renamed into place when good, so a failed render
never replaces a good video. One assembly of an output at a time holds its lock (a file in
the user's lock folder, ``videofactory/locks.py``); while it holds it, any partial file of that
output is a leftover of an assembly that was killed, and is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from videofactory.errors import AssemblyError
from videofactory.locks import lock_file

__all__ = [
    "LOCK_WAIT_S",
    "OutputBusy",
    "output_lock",
    "owned",
    "partial_path",
    "side_files",
    "stale_partials",
    "work_files",
    "write_text",
]

log = logging.getLogger(__name__)


def side_files(out_path: Path) -> dict[str, Path]:
    """The files written beside a video: subtitles, thumbnail and contact sheet."""
    out_path = Path(out_path)
    return {
        "srt": out_path.with_suffix(".srt"),
        "vtt": out_path.with_suffix(".vtt"),
        "thumbnail": out_path.with_name(f"{out_path.stem}.thumb.jpg"),
        "contact_sheet": out_path.with_name(f"{out_path.stem}.contact.jpg"),
    }


#: Random bytes in a partial name (as hex: ``.final.partial-1a2b3c4d.mp4``).
_TOKEN_BYTES = 4


def _partial_name(path: Path, token: str) -> str:
    return f".{path.stem}.partial-{token}{path.suffix}"


def partial_path(path: Path) -> Path:
    """A hidden, unique name beside ``path`` with the same suffix (ffmpeg picks the muxer by it)."""
    return path.with_name(_partial_name(path, secrets.token_hex(_TOKEN_BYTES)))


def work_files(out_path: Path) -> dict[str, Path]:
    """What the render of ``out_path`` writes under ``partial_path`` names: the video, the
    contact sheet, the burned subtitles' script, the loudness pass's mix, the looped music, the
    pictures folder (the subtitles beside the video are written under partial names too, by
    ``write_text``)."""
    return {
        "video": out_path,
        "contact_sheet": side_files(out_path)["contact_sheet"],
        "script": out_path.with_suffix(".ass"),
        "mix": out_path.with_suffix(".mix.wav"),
        "music": out_path.with_suffix(".music.wav"),
        "pictures": out_path.with_suffix(".pictures"),
    }


def stale_partials(out_path: Path) -> list[Path]:
    """Temporary files and folders an earlier, interrupted assembly of ``out_path`` left."""
    sides = side_files(out_path)
    token = f"[0-9a-f]{{{2 * _TOKEN_BYTES}}}"
    names = [
        re.compile(re.escape(_partial_name(p, "@")).replace("@", token))
        for p in [*work_files(out_path).values(), sides["srt"], sides["vtt"]]
    ]
    if not out_path.parent.is_dir():
        return []
    return sorted(p for p in out_path.parent.iterdir() if any(n.fullmatch(p.name) for n in names))


class OutputBusy(AssemblyError):
    """Another assembly is writing this output (or, when asked for a new one, it exists)."""


#: How long an assembly waits for another one writing the same output, seconds.
LOCK_WAIT_S = 5.0


def output_lock(out_path: Path) -> FileLock:
    """The lock an assembly of ``out_path`` holds, shared by every process of this user."""
    return FileLock(lock_file(f"assemble:{Path(out_path).resolve()}"), thread_local=False)


@contextlib.contextmanager
def owned(out_path: Path, *, new: bool) -> Iterator[None]:
    """Hold ``out_path``'s lock and clear what a killed assembly of it left; ``new``: refuse
    an output that exists already instead of replacing it."""
    lock = output_lock(out_path)
    try:
        lock.acquire(timeout=0 if new else LOCK_WAIT_S)
    except Timeout:
        raise OutputBusy(
            f"{out_path} is being assembled by another process; wait for it to finish "
            "(or stop it) and try again"
        ) from None
    try:
        if new and out_path.exists():
            raise OutputBusy(f"{out_path} exists already")
        for path in stale_partials(out_path):  # its writer is gone: it held this lock
            log.info("removing %s, left by an interrupted assembly", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        yield
    finally:
        lock.release()


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (temporary name, then rename)."""
    tmp = partial_path(path)
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
