"""End-to-end fixtures: the real command in a subprocess, in a scratch work directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(args, *, cwd, script=None, timeout=240, env=None):
    """Run ``videofactory ARGS`` (or ``python scripts/SCRIPT ARGS``) and return the result."""
    if script:
        argv = [sys.executable, str(REPO / "scripts" / script), *args]
    else:
        argv = [sys.executable, "-m", "videofactory", *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    full_env.update(env or {})
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def last_json(stdout: str):
    """The last line of stdout, parsed as JSON."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no output"
    return json.loads(lines[-1])


@pytest.fixture
def cli(tmp_path):
    """Call the CLI with the test's scratch folder as working directory."""

    def call(*args, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(list(args), **kw)

    return call
