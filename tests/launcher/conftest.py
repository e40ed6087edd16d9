"""Launcher fixtures: farm files whose managed workers are simulated servers (real processes).

Every farm a test brings up is brought down at teardown, whatever happened, so that no
server outlives its test.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from videofactory.config import FarmConfig, load_farm
from videofactory.launcher import farm_down, farm_paths, read_records
from videofactory.launcher.state import read_state

#: The simulator standing in for ComfyUI: the launcher appends ComfyUI's own flags.
SIM_COMMAND = "{python} -m videofactory.sim --name {id} --card '{card}' --vram-gb {vram_gb}"

#: Quick supervision, so that tests see restarts in a second or two.
FAST = {
    "command": SIM_COMMAND,
    "health_interval_s": 0.2,
    "start_timeout_s": 60,
    "stop_grace_s": 3,
    "unresponsive_after_s": 1.5,
    "restart_backoff_s": [0.2],
    "drain_settle_s": 0.5,
    "log_max_mb": 1,
}


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_prompt(tag: str, width: int = 64) -> dict[str, Any]:
    """A one-still prompt; with --time-scale 100 a 64x48 still takes about 2 s of "GPU"."""
    return {
        "1": {
            "class_type": "SimTextToImage",
            "inputs": {
                "prompt": tag,
                "negative": "",
                "seed": 1,
                "width": width,
                "height": 48,
                "steps": 4,
            },
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": tag}},
    }


def post(url: str, prompt: dict[str, Any]) -> str:
    """POST /prompt; the prompt id."""
    r = httpx.post(f"{url}/prompt", json={"prompt": prompt}, timeout=10, trust_env=False)
    assert r.status_code == 200, r.text
    return str(r.json()["prompt_id"])


def history(url: str, prompt_id: str) -> dict[str, Any] | None:
    """The history entry of a prompt (None while unknown or if the server is down)."""
    try:
        r = httpx.get(f"{url}/history/{prompt_id}", timeout=5, trust_env=False)
        return r.json().get(prompt_id)
    except httpx.HTTPError:
        return None


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something true; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


class Farms:
    """Writes farm files in the test's folder; brings every farm down at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.made: list[FarmConfig] = []

    def write(
        self, workers: list[dict[str, Any]], name: str = "factory.yaml", **launcher: Any
    ) -> Path:
        """A farm file of managed sim workers (port, cuda_device filled in) ; its path."""
        for i, w in enumerate(workers):
            w.setdefault("managed", True)
            w.setdefault("cuda_device", i)
            w.setdefault("port", free_port())
            w.setdefault("card", "RTX 3090")
            w.setdefault("vram_gb", 24)
        path = self.tmp / name
        doc = {"name": "launcher test", "launcher": {**FAST, **launcher}, "workers": workers}
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def load(self, path: Path) -> FarmConfig:
        """Load a farm file (and remember it, to bring it down at the end)."""
        farm = load_farm(path)
        self.made.append(farm)
        return farm

    def close(self) -> None:
        for farm in self.made:
            farm_down(farm, grace=2)


@pytest.fixture
def farms(tmp_path: Path) -> Iterator[Farms]:
    """Farm files in tmp_path; every farm loaded through it is brought down afterwards."""
    f = Farms(tmp_path)
    try:
        yield f
    finally:
        f.close()


def state_of(farm: FarmConfig) -> dict[str, Any]:
    """The supervisor's state file."""
    return read_state(farm_paths(farm))


def records(farm: FarmConfig, event: str | None = None) -> list[dict[str, Any]]:
    """restarts.jsonl, optionally only one kind of event."""
    rows = read_records(farm_paths(farm))
    return [r for r in rows if event is None or r.get("event") == event]
