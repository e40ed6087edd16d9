"""Watching runs: the real command in subprocesses, simulated farms in processes of their own,
real run databases, a real browser for the report."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist

REPO = Path(__file__).resolve().parents[2]


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


def one_server_farm(path: Path, url: str, *, dispatch: dict | None = None, **worker) -> Path:
    """A farm file of one simulated server at ``url`` that takes every kind of task (worker
    ``gpu0``, 32 GB; ``worker`` overrides, e.g. ``workflows``)."""
    entry = {"id": "gpu0", "url": url, "vram_gb": 32, "roles": ["control", "worker", "primary"]}
    data: dict = {"name": "one server", "workers": [{**entry, **worker}]}
    if dispatch:
        data["dispatch"] = dispatch
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
