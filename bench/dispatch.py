"""Dispatch benchmark: the orchestrator's own cost, on 64 simulated GPUs and 5 000 tasks.

64 simulated ComfyUI servers (each its own process, rendering 64x64 one-frame jobs as fast as
the CPU goes) and ``videofactory render --no-assemble`` of 2 500 shots (a keyframe and a clip
each: 5 000 GPU tasks) in a child process. Measured, median of the runs:

- overhead: from a job finishing on a server (the simulator's own log) to the orchestrator's
  next job arriving at that server: the whole reaction (websocket event, /history, download,
  probe, database, placement, upload, POST), p50 and p99 over every job;
- the orchestrator process's CPU time per task and its peak RSS.

Targets: p50 < 5 ms, p99 < 50 ms, < 1 ms of CPU per task. The two CPU cores are shared with
the 64 simulators, so the overhead includes waiting for a core.

How to read the overhead: with renders of near-zero length the loop is closed and saturated.
Every server holds its running job and one more, so 2 x 64 jobs circulate, and by Little's law
one lap of a job (post, queue, render, reaction) lasts ``jobs in flight / throughput``; the
throughput is set by the CPU all 65 processes spend per task on the two cores. The reaction
is most of the lap, so it tracks that figure (``cycle_ms``, printed beside it) rather than the
orchestrator's own code path: halving the CPU per task halves it, and 5 ms would need some
10 000 tasks a second.

Run: ``python bench/dispatch.py [--runs 3] [--workers 64] [--tasks 5000]``; the last line is a
JSON object of the figures.
"""

from __future__ import annotations

import argparse
import bisect
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from _farm import Orchestrator, percentile, sim_logs, start_farm, write_farm_file, write_shots

from videofactory.constants import JOBS_AHEAD_PER_SERVER


def overheads(logs: dict[str, list[dict]], since: float) -> list[float]:
    """Per finished job: seconds until the next POST /prompt reached the same server."""
    out = []
    for entries in logs.values():
        posts = sorted(
            e["time"]
            for e in entries
            if e["event"] == "request"
            and e["path"] in ("/prompt", "/api/prompt")
            and e["method"] == "POST"
            and e["status"] == 200
            and e["time"] >= since
        )
        for e in entries:
            if e["event"] != "execution_end" or e["time"] < since:
                continue
            i = bisect.bisect_right(posts, e["time"])
            if i < len(posts):  # none after the last job: nothing was left to send
                out.append(posts[i] - e["time"])
    return out


def dispatch_window(workdir: Path) -> tuple[float, float, int]:
    """Wall-clock times of the first post and the last task done, and the tasks in between:
    the steady state, without start-up (imports, preflight) and the report at the end."""
    db = sqlite3.connect(workdir / "videofactory.db")
    try:
        first = db.execute("SELECT MIN(ts) FROM events WHERE kind='task_submitted'").fetchone()[0]
        last, n = db.execute(
            "SELECT MAX(ts), COUNT(*) FROM events WHERE kind='task_done'"
        ).fetchone()
    finally:
        db.close()
    return first or 0.0, last or 0.0, n or 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--tasks", type=int, default=5000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vf-bench-dispatch-"))
    t0 = time.monotonic()
    farm = start_farm(root / "sim", args.workers)
    started = time.monotonic() - t0
    try:
        farm_file = write_farm_file(root / "factory.yaml", farm)
        shots = write_shots(root / "shots.yaml", args.tasks // 2)
        rows = []
        for run in range(args.runs):
            since = time.time()
            orch = Orchestrator(
                [
                    "render",
                    str(shots),
                    "--farm",
                    str(farm_file),
                    "--workdir",
                    str(root / f"runs{run}"),
                    "--no-assemble",
                    "--json",
                ],
                root,
            )
            res = orch.run()
            o = overheads(sim_logs(farm), since)
            first, last, n = dispatch_window(root / f"runs{run}")
            steady = orch.cpu_between(first, last)
            per_s = n / max(last - first, 1e-9)
            in_flight = (1 + JOBS_AHEAD_PER_SERVER) * args.workers
            rows.append(
                {
                    "wall_s": res["wall_s"],
                    "cpu_ms_per_task": 1000 * res["cpu_s"] / args.tasks,
                    "cpu_ms_per_task_dispatching": 1000 * steady / max(1, n),
                    "peak_rss_mb": res["peak_rss_mb"],
                    "p50_ms": 1000 * percentile(o, 50),
                    "p99_ms": 1000 * percentile(o, 99),
                    "jobs": len(o),
                    "tasks_per_s": per_s,
                    "cycle_ms": 1000 * in_flight / per_s,
                }
            )
            r = rows[-1]
            print(
                f"run {run + 1}: {args.tasks} tasks in {r['wall_s']:.1f} s, overhead p50 "
                f"{r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms over {r['jobs']} jobs, "
                f"CPU {r['cpu_ms_per_task']:.2f} ms/task in all, "
                f"{r['cpu_ms_per_task_dispatching']:.2f} while dispatching, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB; {r['tasks_per_s']:.0f} tasks/s, "
                f"{in_flight} jobs in flight: a lap of {r['cycle_ms']:.0f} ms",
                flush=True,
            )
    finally:
        farm.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    print(f"{args.workers} simulators started in {started:.1f} s")
    print(f"{'':<22}{'median':>10}   target")
    print(f"{'overhead p50 (ms)':<22}{med('p50_ms'):>10}   < 5")
    print(f"{'overhead p99 (ms)':<22}{med('p99_ms'):>10}   < 50")
    print(f"{'CPU per task (ms)':<22}{med('cpu_ms_per_task'):>10}   < 1  (whole process)")
    print(
        f"{'  while dispatching':<22}{med('cpu_ms_per_task_dispatching'):>10}   "
        "(first post to last task done)"
    )
    print(f"{'peak RSS (MB)':<22}{med('peak_rss_mb'):>10}")
    print(f"{'tasks per second':<22}{med('tasks_per_s'):>10}")
    print(f"{'lap of a job (ms)':<22}{med('cycle_ms'):>10}   (jobs in flight / throughput)")
    print(
        json.dumps(
            {
                "overhead_ms_p50": med("p50_ms"),
                "overhead_ms_p99": med("p99_ms"),
                "cpu_ms_per_task": med("cpu_ms_per_task"),
                "cpu_ms_per_task_dispatching": med("cpu_ms_per_task_dispatching"),
                "peak_rss_mb": med("peak_rss_mb"),
                "tasks_per_s": med("tasks_per_s"),
                "cycle_ms": med("cycle_ms"),
                "tasks": args.tasks,
                "workers": args.workers,
                "runs": args.runs,
                "wall_s_per_run": med("wall_s"),
            }
        )
    )


if __name__ == "__main__":
    main()
