"""Fault tests: a simulated farm in processes of its own, an orchestrator in another."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist
from videofactory.sim.farm import SimFarm, SimWorkerSpec
from videofactory.sim.options import SimFaults

#: The seed's cards, small: control (16 GB), primary (32 GB) and two workers (24 GB).
CARDS = {
    "gpu0": ("RTX 5090", 32, ["primary"], 1.0),
    "gpu1": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu2": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu5": ("RTX 4080 Super", 16, ["control"], 0.7),
}


class Farm:
    """A running simulated farm, its farm file, and a shot list to render on it."""

    def __init__(
        self,
        tmp: Path,
        faults: dict[str, SimFaults],
        time_scale: float,
        duration: float = 8.0,
        **dispatch,
    ):
        self.tmp = tmp
        #: Seconds of film, in 2-second shots.
        self.duration = duration
        specs = [
            SimWorkerSpec(
                name=wid,
                card=card,
                vram_gb=vram,
                gpu_speed=speed,
                time_scale=time_scale,
                faults=faults.get(wid, SimFaults()),
            )
            for wid, (card, vram, _roles, speed) in CARDS.items()
        ]
        self.sim = SimFarm(specs, tmp / "sim")
        self.sim.start()
        self.file = tmp / "factory.yaml"
        workers = [
            {
                "id": wid,
                "card": card,
                "vram_gb": vram,
                "roles": roles,
                "speed": speed,
                "url": self.sim.urls[wid],
            }
            for wid, (card, vram, roles, speed) in CARDS.items()
        ]
        settings = {
            "progress_timeout_floor_s": 3.0,
            "progress_timeout_factor": 1.0,
            "probe_interval_s": 0.5,
            "no_worker_timeout_s": 30.0,
            **dispatch,
        }
        self.file.write_text(
            yaml.safe_dump({"name": "test farm", "workers": workers, "dispatch": settings})
        )
        self.workdir = tmp / "runs"
        plan = plan_rules("warrior in mystical forest", duration, width=320, height=180, clip_s=2.0)
        self.shots = tmp / "shots.yaml"
        self.shots.write_text(dump_shotlist(plan))

    def close(self) -> None:
        self.sim.stop()

    def cli(self, *args: str, wait: bool = True, timeout: float = 180):
        argv = [sys.executable, "-m", "videofactory", *args, "--workdir", str(self.workdir)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
        if not wait:
            return subprocess.Popen(
                argv,
                cwd=self.tmp,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        return subprocess.run(
            argv,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    def render(self, *extra: str, **kw):
        return self.cli("render", str(self.shots), "--farm", str(self.file), "--json", *extra, **kw)

    def db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.workdir / "videofactory.db")
        db.row_factory = sqlite3.Row
        return db

    def wait_for(self, sql: str, timeout: float = 60.0) -> sqlite3.Row:
        """Poll the run database until a query returns a row."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if (self.workdir / "videofactory.db").exists():
                with self.db() as db:
                    try:
                        row = db.execute(sql).fetchone()
                    except sqlite3.OperationalError:
                        row = None
                if row is not None:
                    return row
            time.sleep(0.1)
        raise AssertionError(f"nothing matched {sql!r} within {timeout} s")

    def executions(self) -> dict[str, list[str]]:
        """Successful executions per prompt id, from every simulator's own log."""
        out: dict[str, list[str]] = {}
        for wid, url in self.sim.urls.items():
            try:
                log = httpx.get(url + "/sim/requests", timeout=5).json()
            except httpx.HTTPError:
                continue  # a worker the test killed
            for entry in log:
                if entry["event"] == "execution_end" and entry["status"] == "success":
                    out.setdefault(entry["prompt_id"], []).append(wid)
        return out


@pytest.fixture
def make_farm(tmp_path):
    farms: list[Farm] = []

    def make(faults=None, time_scale=0.0, duration=8.0, **dispatch) -> Farm:
        farm = Farm(tmp_path, faults or {}, time_scale, duration, **dispatch)
        farms.append(farm)
        return farm

    yield make
    for farm in farms:
        farm.close()


def result_json(res) -> dict:
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return json.loads(res.stdout.strip().splitlines()[-1])
