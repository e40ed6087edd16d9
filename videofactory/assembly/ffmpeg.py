"""Find an ffmpeg that can do the job, and run it without a shell.

``find_ffmpeg`` prefers, in order: an explicit override (a setting), a system ``ffmpeg`` on
PATH that has every feature the assembly needs, and the static binary the ``imageio-ffmpeg``
wheel ships (so that ``pip install`` alone gives a working factory). ``run_ffmpeg`` runs one
argv list, reports progress from ``-progress pipe:1`` and turns a failure into an
``AssemblyError`` that carries the argv, the exit code and the tail of stderr.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from videofactory.errors import AssemblyError

__all__ = [
    "REQUIRED_ENCODERS",
    "REQUIRED_FILTERS",
    "FFmpeg",
    "die_with_parent",
    "find_ffmpeg",
    "run_ffmpeg",
    "xfade_transitions",
]

log = logging.getLogger(__name__)

#: Filters the assembly uses now or in its next version (transitions, ducking, loudness and
#: its limiter, room tone, burned subtitles). A PATH ffmpeg lacking any of them loses to the
#: bundled one.
REQUIRED_FILTERS = frozenset(
    {"xfade", "sidechaincompress", "alimiter", "anoisesrc", "ebur128", "subtitles"}
)
#: Encoders the assembly uses. ``aac`` is ffmpeg's native encoder and is always built in.
REQUIRED_ENCODERS = frozenset({"libx264", "aac"})

#: Lines of stderr an AssemblyError keeps: enough for ffmpeg's error and its context.
STDERR_TAIL_LINES = 30
#: Progress blocks on stdout five times a second (ffmpeg's default is every 0.5 s), no stats
#: line on stderr.
PROGRESS_ARGS = ("-progress", "pipe:1", "-stats_period", "0.2", "-nostats")
#: Seconds a capability check may take; a binary that hangs on ``-version`` is not usable.
CHECK_TIMEOUT_S = 20.0

#: The flags column of ``-filters`` and ``-encoders`` rows ("T.C", "..", "V....D", "A..X..").
_FLAGS = re.compile(r"[A-Z.|]{2,6}")

_INSTALL_HINT = (
    "install a full ffmpeg (Debian/Ubuntu: `apt install ffmpeg`; macOS: `brew install ffmpeg`) "
    "or `pip install -U imageio-ffmpeg` and remove the override to use its bundled build"
)


@dataclass(frozen=True)
class FFmpeg:
    """One usable ffmpeg binary and what it can do."""

    path: str
    version: str
    source: str  # "override" | "path" | "imageio-ffmpeg"
    filters: frozenset[str]
    encoders: frozenset[str]

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """The numeric version, e.g. ``(5, 1, 6)``; ``()`` for git builds without one."""
        match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", self.version)
        if not match:
            return ()
        return tuple(int(part) for part in match.groups() if part is not None)

    def missing(
        self, filters: Iterable[str] = REQUIRED_FILTERS, encoders: Iterable[str] = REQUIRED_ENCODERS
    ) -> list[str]:
        """Names of the given filters and encoders this binary lacks."""
        gone = [f"filter {name}" for name in sorted(set(filters) - self.filters)]
        gone += [f"encoder {name}" for name in sorted(set(encoders) - self.encoders)]
        return gone

    def require(self, filters: Iterable[str] = (), encoders: Iterable[str] = ()) -> None:
        """Raise AssemblyError, with how to get them, when a needed feature is missing."""
        gone = self.missing(filters, encoders)
        if gone:
            raise AssemblyError(
                f"ffmpeg at {self.path} ({self.source}, {self.version}) lacks "
                f"{', '.join(gone)}; {_INSTALL_HINT}"
            )


def _listing(path: str, flag: str) -> frozenset[str]:
    """Names from ``ffmpeg -filters`` / ``-encoders``: the token after the flags column."""
    proc = subprocess.run(
        [path, "-hide_banner", flag],
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_S,
        check=False,
    )
    names: set[str] = set()
    # Rows are " T.. xfade  VV->V  ..." / " V....D libx264  ...": a flags column (its width
    # varies by version), then the name. Legend lines read "  T.. = Timeline support"; ffmpeg
    # 5.1's filter list has no "------" line between legend and rows, so match rows instead.
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] != "=" and _FLAGS.fullmatch(parts[0]):
            names.add(parts[1])
    return frozenset(names)


def _inspect(path: str, source: str) -> FFmpeg:
    """Run the binary to learn its version, filters and encoders."""
    try:
        proc = subprocess.run(
            [path, "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise AssemblyError(
                f"ffmpeg at {path} does not run (`-version` exited {proc.returncode}); "
                f"{_INSTALL_HINT}",
                argv=[path, "-version"],
                returncode=proc.returncode,
                stderr_tail=proc.stderr[-2000:],
            )
        first = proc.stdout.splitlines()[0] if proc.stdout else ""
        version = first.split(" version ", 1)[-1].split(" ", 1)[0] if " version " in first else "?"
        return FFmpeg(
            path=path,
            version=version,
            source=source,
            filters=_listing(path, "-filters"),
            encoders=_listing(path, "-encoders"),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise AssemblyError(f"cannot run ffmpeg at {path}: {exc}; {_INSTALL_HINT}") from exc


@functools.lru_cache(maxsize=8)
def find_ffmpeg(override: str | None = None) -> FFmpeg:
    """Return the ffmpeg to use (override > capable PATH ffmpeg > imageio-ffmpeg); cached.

    Arguments:
        override: a path or command name from the settings; used as is, but it must have
            every feature in ``REQUIRED_FILTERS`` / ``REQUIRED_ENCODERS``.

    Raises:
        AssemblyError: no usable ffmpeg, or the override lacks a feature (with how to get it).
    """
    if override:
        resolved = shutil.which(override) or override
        found = _inspect(resolved, "override")
        found.require(REQUIRED_FILTERS, REQUIRED_ENCODERS)
        return found
    on_path = shutil.which("ffmpeg")
    why_not_path = "no ffmpeg on PATH"
    if on_path:
        try:
            candidate = _inspect(on_path, "path")
        except AssemblyError as exc:
            why_not_path = str(exc)
        else:
            gone = candidate.missing()
            if not gone:
                return candidate
            # A distro ffmpeg built without libass or libx264 would fail later, mid-render;
            # the bundled static build has everything, so prefer it.
            why_not_path = f"{on_path} lacks {', '.join(gone)}"
        log.info("not using the system ffmpeg (%s); trying imageio-ffmpeg", why_not_path)
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise AssemblyError(f"no usable ffmpeg ({why_not_path}); {_INSTALL_HINT}") from exc
    try:
        bundled = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # imageio-ffmpeg raises RuntimeError when no binary fits
        raise AssemblyError(f"imageio-ffmpeg has no binary here ({exc}); {_INSTALL_HINT}") from exc
    found = _inspect(bundled, "imageio-ffmpeg")
    found.require(REQUIRED_FILTERS, REQUIRED_ENCODERS)
    return found


@functools.lru_cache(maxsize=8)
def _xfade_help(path: str) -> frozenset[str]:
    try:
        proc = subprocess.run(
            [path, "-hide_banner", "-h", "filter=xfade"],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    # The "transition" option lists its values as indented "name  <number>  ..." rows.
    return frozenset(re.findall(r"^\s+([a-z]+)\s+-?\d+\s", proc.stdout, re.M)) - {"custom"}


def xfade_transitions(ffmpeg: FFmpeg) -> frozenset[str]:
    """The xfade transition names this binary knows (from ``-h filter=xfade``); cached."""
    return _xfade_help(ffmpeg.path)


def _progress_seconds(block: dict[str, str]) -> float | None:
    """Output time of one ``-progress`` block, in seconds, or None when not known yet."""
    # out_time_ms is in microseconds too (a historic ffmpeg misnomer), so both parse alike.
    for key in ("out_time_us", "out_time_ms"):
        value = block.get(key, "")
        if value.lstrip("-").isdigit():
            return max(0.0, int(value) / 1_000_000)
    return None


def _follow_progress(
    proc: subprocess.Popen[str],
    duration_s: float | None,
    on_progress: Callable[[float], None] | None,
) -> float:
    """Read ``-progress`` blocks from stdout until EOF; return the last fraction reported."""
    assert proc.stdout is not None
    best = 0.0
    block: dict[str, str] = {}
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        block[key] = value
        if key != "progress":  # each block ends with progress=continue|end
            continue
        seconds = _progress_seconds(block)
        block = {}
        if on_progress and duration_s and seconds is not None:
            fraction = min(1.0, seconds / duration_s)
            if fraction > best:
                best = fraction
                on_progress(fraction)
    return best


#: prctl(2) option: the signal a process gets when the thread that started it ends.
_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved once in this process (never in a forked child); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child killed when its parent dies (Linux), else None.

    An orchestrator killed with SIGKILL cannot stop its ffmpeg: without this the render would
    go on for minutes as an orphan, beside the one that ``resume`` starts. The signal is tied
    to the thread that starts the child, which ``run_ffmpeg`` keeps waiting for it.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def preexec() -> None:  # runs in the child between fork and exec: no locks, no imports
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def run_ffmpeg(
    ffmpeg: FFmpeg,
    args: list[str],
    *,
    duration_s: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    tail_lines: int = STDERR_TAIL_LINES,
    label: str | None = None,
) -> str:
    """Run ffmpeg with ``args`` (no shell), reporting progress 0..1 to ``on_progress``.

    Arguments:
        ffmpeg: the binary from ``find_ffmpeg``.
        args: everything after the global options: inputs, filters, outputs.
        duration_s: length of the output, to turn ffmpeg's output time into a fraction.
        on_progress: called with a non-decreasing fraction, finally with 1.0 on success.
        tail_lines: how many (non-blank) lines of stderr to keep.
        label: what is being written, for the error message (default: the last argument).

    Returns:
        The last ``tail_lines`` lines of stderr (where filters such as loudnorm report).

    Raises:
        AssemblyError: ffmpeg could not start or exited non-zero (argv, exit code, stderr tail).
    """
    argv = [ffmpeg.path, "-hide_banner", "-nostdin", "-y", *PROGRESS_ARGS, *args]
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            preexec_fn=die_with_parent(),  # noqa: PLW1509 (Linux prctl only; see there)
        )
    except OSError as exc:
        raise AssemblyError(f"cannot start ffmpeg: {exc}", argv=argv) from exc

    def drain_stderr() -> None:
        # Read stderr on its own thread: ffmpeg blocks once a full pipe is not read, and we
        # read stdout (progress) on this one.
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip():
                tail.append(line.rstrip("\n"))

    with proc:  # closes both pipes whatever happens
        reader = threading.Thread(target=drain_stderr, name="ffmpeg-stderr", daemon=True)
        reader.start()
        try:
            best = _follow_progress(proc, duration_s, on_progress)
            returncode = proc.wait()
        finally:
            if proc.poll() is None:  # on_progress raised, or we were interrupted: do not leak it
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
    if returncode != 0:
        raise AssemblyError(
            f"ffmpeg failed writing {label or (args[-1] if args else '?')}",
            argv=argv,
            returncode=returncode,
            stderr_tail="\n".join(list(tail)[-STDERR_TAIL_LINES:]),
        )
    if on_progress and best < 1.0:
        on_progress(1.0)
    return "\n".join(tail)
