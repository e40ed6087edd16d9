"""End-to-end fixtures: the real command in a subprocess, in a scratch work directory."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def last_json(stdout: str):
    """The last line of stdout, parsed as JSON."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "no output"
    return json.loads(lines[-1])
