"""Watching runs: the real command in subprocesses, simulated farms in processes of their own,
real run databases, a real browser for the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist

REPO = Path(__file__).resolve().parents[2]


def run_cli(args, *, cwd, timeout=240, env=None, **kw):
    """Run ``videofactory ARGS`` in a subprocess and return the completed process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "videofactory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def json_lines(stdout: str) -> list[dict]:
    """Every line of stdout, each parsed as one JSON object."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def write_shots(path: Path, concept: str = "warrior in mystical forest", duration=4.0) -> Path:
    """A small shot list (160x96, 2 s shots) for fast real runs."""
    plan = plan_rules(concept, duration, width=160, height=96, clip_s=2.0)
    path.write_text(dump_shotlist(plan), encoding="utf-8")
    return path


def write_farm(path: Path, urls: dict[str, str], cards: dict[str, tuple], **dispatch) -> Path:
    """A farm file for simulated servers already running at ``urls``."""
    workers = [
        {"id": wid, "card": card, "vram_gb": vram, "roles": roles, "speed": speed, "url": urls[wid]}
        for wid, (card, vram, roles, speed) in cards.items()
    ]
    settings = {"progress_timeout_floor_s": 20.0, "probe_interval_s": 0.5, **dispatch}
    path.write_text(yaml.safe_dump({"name": "test farm", "workers": workers, "dispatch": settings}))
    return path


@pytest.fixture
def cli(tmp_path):
    """Call the CLI with the test's scratch folder as working directory."""

    def call(*args, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(list(args), **kw)

    return call
