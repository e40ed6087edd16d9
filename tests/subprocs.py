"""Subprocess helpers every test folder shares: the real command, and ffmpeg making inputs.

Importable from any test module as ``subprocs`` (``pythonpath = ["tests"]`` in pyproject).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: Keys of hosted LLM APIs, never passed on to the command under test.
HOSTED_API_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def run_cli(
    args: Any,
    *,
    cwd: Path,
    script: str | None = None,
    timeout: float = 240,
    env: dict[str, str] | None = None,
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """Run ``videofactory ARGS`` (or ``python scripts/SCRIPT ARGS``) with no VIDEOFACTORY_*
    settings and no hosted-API keys of the caller's (a test never reaches a paid service), no
    standard input, and return the completed process."""
    if script:
        argv = [sys.executable, str(REPO / "scripts" / script), *args]
    else:
        argv = [sys.executable, "-m", "videofactory", *args]
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIDEOFACTORY_") and k not in HOSTED_API_KEYS
    }
    full_env.update(env or {})
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``run_cli`` for a quick command: its arguments spread, two minutes at most."""
    return run_cli(args, cwd=cwd, timeout=120)


def make(ffmpeg: Any, out: Path, *args: str) -> Path:
    """Run ffmpeg (a ``FFmpeg``: its ``path``) quietly to make a test input at ``out``."""
    subprocess.run(
        [ffmpeg.path, "-v", "error", "-y", *args, str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


@contextlib.contextmanager
def python_child(*args: str, **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """``python ARGS`` from the repository, its stdout piped (text; ``popen`` adds or overrides
    Popen's arguments); killed and reaped on the way out, whatever the test did to it."""
    options = {"cwd": REPO, "stdout": subprocess.PIPE, "stdin": subprocess.DEVNULL, "text": True}
    proc = subprocess.Popen([sys.executable, *args], **{**options, **popen})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


#: An ``ffmpeg`` for PATH that runs the real one, but renders (an argv with libx264) at the
#: inputs' own pace (``-re``), so that a render lasts as long as its video; it writes its pid
#: (ffmpeg's, once it has exec'd) to ``marker`` first.
_SLOW_FFMPEG = """#!{python}
import os, sys
args = sys.argv[1:]
if "libx264" in args:
    args = [a for arg in args for a in (["-re", arg] if arg == "-i" else [arg])]
    with open({marker!r}, "w") as f:
        f.write(str(os.getpid()))
os.execv({real!r}, [{real!r}, *args])
"""


def slow_ffmpeg_on_path(folder: Path, real: str, monkeypatch: Any) -> Path:
    """Put a real-time ``ffmpeg`` (see ``_SLOW_FFMPEG``) first on PATH; return its marker."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "rendering"
    wrapper = folder / "ffmpeg"
    wrapper.write_text(_SLOW_FFMPEG.format(python=sys.executable, marker=str(marker), real=real))
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return marker


def wait_for_render(marker: Path, proc: subprocess.Popen[str], timeout: float = 120) -> int:
    """Wait until the slow ffmpeg renders for ``proc``; return ffmpeg's pid."""
    deadline = time.monotonic() + timeout
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the render did not start"
    time.sleep(0.2)  # the wrapper has become ffmpeg
    return int(marker.read_text())


#: Standard-library names a user's folder might hold a file of (``python -m`` would import it).
STDLIB_NAMES = ("json", "concurrent", "asyncio", "typing")
#: Such a file: it leaves a mark beside itself (``<name>.py.imported``) and stops the process.
_SHADOW = (
    "open(__file__ + '.imported', 'a').close()\n"
    "raise SystemExit('shadowed: imported ' + __file__ + ' instead of the standard library')\n"
)


def shadowing_folder(folder: Path) -> Path:
    """A user's folder holding ``json.py``, ``concurrent.py`` ... (see ``_SHADOW``); its path.

    A Python child started there with ``python -m`` and no ``-P`` imports them and dies.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in STDLIB_NAMES:
        (folder / f"{name}.py").write_text(_SHADOW)
    return folder


def shadowed(folder: Path) -> list[str]:
    """The files of ``shadowing_folder`` some process imported."""
    return sorted(p.name for p in folder.glob("*.py.imported"))
