"""Shared pieces of the farm benchmarks: simulated servers in processes of their own, a farm
file for them, a shot list of tiny shots, and the orchestrator run as a child process whose
CPU time and peak RSS are read from the kernel."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from videofactory.shotlist import Shot, ShotList, dump_shotlist  # noqa: E402
from videofactory.sim.farm import SimFarm, SimWorkerSpec  # noqa: E402
from videofactory.sim.options import SimFaults  # noqa: E402


def start_farm(root: Path, n: int, faults: dict[int, SimFaults] | None = None) -> SimFarm:
    """``n`` simulated 24 GB cards rendering as fast as the CPU goes."""
    specs = [
        SimWorkerSpec(
            name=f"gpu{i}", card="RTX 3090", vram_gb=24, faults=(faults or {}).get(i, SimFaults())
        )
        for i in range(n)
    ]
    farm = SimFarm(specs, root, ready_timeout=240)
    farm.start()
    return farm


#: The seed's cards: id -> (card, VRAM GB, roles, speed).
SEED_CARDS: dict[str, tuple[str, int, list[str], float]] = {
    "gpu0": ("RTX 5090", 32, ["primary"], 1.0),
    "gpu1": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu2": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu3": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu4": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu5": ("RTX 4080 Super", 16, ["control"], 0.7),
}


def start_seed_farm(root: Path, time_scale: float) -> tuple[SimFarm, Path]:
    """The seed's farm (``SEED_CARDS``) simulated, and a farm file for it (roles as
    preferences, a farm file's default)."""
    specs = [
        SimWorkerSpec(name=w, card=c, vram_gb=v, gpu_speed=s, time_scale=time_scale)
        for w, (c, v, _, s) in SEED_CARDS.items()
    ]
    farm = SimFarm(specs, root / "sim", ready_timeout=240)
    farm.start()
    workers = [
        {"id": w, "card": c, "vram_gb": v, "roles": r, "speed": s, "url": farm.urls[w]}
        for w, (c, v, r, s) in SEED_CARDS.items()
    ]
    farm_file = root / "factory.yaml"
    farm_file.write_text(yaml.safe_dump({"name": "seed farm (simulated)", "workers": workers}))
    return farm, farm_file


def write_farm_file(path: Path, farm: SimFarm, **dispatch: Any) -> Path:
    """A farm file for the running simulators: every card may take every kind of job."""
    workers = [
        {
            "id": name,
            "card": "RTX 3090",
            "vram_gb": 24,
            "roles": ["control", "worker"],
            "url": url,
            "speed": 1.0,
        }
        for name, url in farm.urls.items()
    ]
    path.write_text(
        yaml.safe_dump({"name": "bench farm", "workers": workers, "dispatch": dispatch})
    )
    return path


def write_shots(path: Path, shots: int) -> Path:
    """A shot list of ``shots`` one-second, 64x64, 1 fps shots: a keyframe and a clip each."""
    sl = ShotList(
        concept="dispatch benchmark",
        duration=float(shots),
        width=64,
        height=64,
        fps=1,
        aspect="1:1",
        shots=[
            Shot(id=f"s{i:05d}", duration=1.0, prompt=f"shot {i}", seed=i) for i in range(shots)
        ],
    )
    path.write_text(dump_shotlist(sl))
    return path


class Orchestrator:
    """``videofactory render`` in a child process, with its CPU time, peak RSS and RSS samples."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.argv = [sys.executable, "-m", "videofactory", *argv]
        self.cwd = cwd
        self.rss_samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self.cpu_samples: list[tuple[float, float]] = []  # (wall time, CPU seconds so far)
        self.started_wall = 0.0

    def run(self, timeout: float = 600) -> dict[str, Any]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOFACTORY_")}
        t0 = time.monotonic()
        self.started_wall = time.time()
        proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        sampler = threading.Thread(target=self._sample, args=(proc, t0), daemon=True)
        sampler.start()
        out, err = proc.communicate(timeout=timeout)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"orchestrator failed ({proc.returncode}):\n{err[-3000:]}")
        return {
            "result": json.loads(out.strip().splitlines()[-1]),
            "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            # The simulators are children too but still alive: only the orchestrator has
            # been waited for, so the children's peak is its peak.
            "peak_rss_mb": after.ru_maxrss / 1024,
        }

    def _sample(self, proc: subprocess.Popen[str], t0: float) -> None:
        status = Path(f"/proc/{proc.pid}/status")
        stat = Path(f"/proc/{proc.pid}/stat")
        tick = os.sysconf("SC_CLK_TCK")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        mb = int(line.split()[1]) / 1024
                        self.rss_samples.append((time.monotonic() - t0, mb))
                fields = stat.read_text().rsplit(")", 1)[1].split()
                # utime and stime (fields 14 and 15 of /proc/pid/stat), in seconds.
                cpu = (int(fields[11]) + int(fields[12])) / tick
                self.cpu_samples.append((time.time(), cpu))
            except (OSError, IndexError, ValueError):
                return
            time.sleep(0.1)

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the orchestrator used between two wall-clock times (from samples)."""

        def at(t: float) -> float:
            return min(self.cpu_samples, key=lambda s: abs(s[0] - t))[1]

        return at(end) - at(start) if self.cpu_samples else float("nan")


def sim_logs(farm: SimFarm) -> dict[str, list[dict[str, Any]]]:
    """Every simulator's request and execution log."""
    logs = {}
    with httpx.Client(timeout=30) as client:
        for name, url in farm.urls.items():
            try:
                logs[name] = client.get(url + "/sim/requests").json()
            except httpx.HTTPError:
                logs[name] = []  # a server that died (fault injection)
    return logs


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
