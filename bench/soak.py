"""Soak benchmark: 1 000 tasks on 16 simulated GPUs failing in every way, about 5 % of jobs.

Each simulated server (its own process) injects, per job: a CUDA execution error, a hang, a
dropped websocket and a corrupt output file, each with probability 5 %; one server runs out of
memory on every keyframe and clip (as if something else held its VRAM); two servers crash
(SIGKILL, like the kernel's OOM killer) after 25 and 60 jobs and stay dead; one starts slowly.
``videofactory render --no-assemble`` of 500 shots (1 000 GPU tasks) must finish with every
task done. The orchestrator's RSS is sampled through the run: flat is the target (the value at
10 % of the run against the value at the end).

Run: ``python bench/soak.py [--tasks 1000] [--workers 16]``; the last line is a JSON object of
the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

from _farm import Orchestrator, sim_logs, start_farm, write_farm_file, write_shots

from videofactory.sim.options import SimFaults


def faults(workers: int, rate: float) -> dict[int, SimFaults]:
    """Every server fails at ``rate``; a few fail harder (see the module docstring)."""
    out = {
        i: SimFaults(fail_rate=rate, hang_rate=rate, drop_ws_rate=rate, corrupt_rate=rate, seed=i)
        for i in range(workers)
    }
    out[3] = SimFaults(fail_rate=rate, oom_above_gb=8.0, seed=3)
    out[7] = SimFaults(fail_rate=rate, crash_after=25, seed=7)
    out[11] = SimFaults(fail_rate=rate, crash_after=60, seed=11)
    out[13] = SimFaults(fail_rate=rate, slow_start_s=3.0, seed=13)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--rate", type=float, default=0.05)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vf-bench-soak-"))
    farm = start_farm(root / "sim", args.workers, faults(args.workers, args.rate))
    try:
        farm_file = write_farm_file(
            root / "factory.yaml",
            farm,
            progress_timeout_floor_s=5.0,
            progress_timeout_factor=4.0,
            probe_interval_s=1.0,
            no_worker_timeout_s=60.0,
            max_attempts=12,
        )
        shots = write_shots(root / "shots.yaml", args.tasks // 2)
        workdir = root / "runs"
        orch = Orchestrator(
            [
                "render",
                str(shots),
                "--farm",
                str(farm_file),
                "--workdir",
                str(workdir),
                "--no-assemble",
                "--json",
            ],
            root,
        )
        res = orch.run(timeout=900)
        logs = sim_logs(farm)
    finally:
        farm.stop()
    try:
        db = sqlite3.connect(workdir / "videofactory.db")
        states = dict(db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall())
        attempts = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        last_done = db.execute("SELECT MAX(ts) FROM events WHERE kind='task_done'").fetchone()[0]
        failed = dict(
            db.execute(
                "SELECT substr(error, 1, 40), COUNT(*) FROM attempts WHERE state='failed' "
                "GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
        )
        events = dict(
            db.execute(
                "SELECT kind, COUNT(*) FROM events WHERE kind IN ('worker_down','worker_up',"
                "'task_shrunk','task_failed','warning') GROUP BY kind"
            ).fetchall()
        )
        db.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    injected = sum(
        1
        for entries in logs.values()
        for e in entries
        if e["event"] == "execution_end" and e["status"] != "success"
    )
    samples = orch.rss_samples
    # "The run" is the dispatching, up to the last task done (not the report written after).
    wall = max(1.0, last_done - orch.started_wall) if last_done else res["wall_s"]
    at_10 = min(samples, key=lambda s: abs(s[0] - 0.1 * wall))[1] if samples else float("nan")
    at_end = min(samples, key=lambda s: abs(s[0] - wall))[1] if samples else float("nan")
    print(
        f"{args.tasks} tasks on {args.workers} workers in {res['wall_s']:.1f} s; "
        f"{attempts} attempts; task states {states}"
    )
    print(f"failed or interrupted executions on the servers: {injected}; events {events}")
    print("attempt failures by cause:")
    for cause, n in failed.items():
        print(f"  {n:4d}  {cause}")
    curve = (
        [min(samples, key=lambda s: abs(s[0] - f * wall))[1] for f in (0.1, 0.25, 0.5, 0.75, 1.0)]
        if samples
        else []
    )
    print(
        "orchestrator RSS at 10/25/50/75/100 % of the run (MB): "
        + " ".join(f"{v:.0f}" for v in curve)
    )
    print(
        f"orchestrator RSS: {at_10:.0f} MB at 10 % of the run, {at_end:.0f} MB at the end, "
        f"peak {res['peak_rss_mb']:.0f} MB; CPU {1000 * res['cpu_s'] / args.tasks:.1f} ms/task"
    )
    print(
        json.dumps(
            {
                "tasks_total": args.tasks,
                "tasks_done": states.get("done", 0),
                "rss_mb_at_10pct": round(at_10, 1),
                "rss_mb_at_end": round(at_end, 1),
                "peak_rss_mb": round(res["peak_rss_mb"], 1),
                "attempts": attempts,
                "failed_executions": injected,
                "workers_down_events": events.get("worker_down", 0),
                "wall_s": round(res["wall_s"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
