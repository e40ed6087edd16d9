"""Reuse benchmark: a 60-shot film, then the same film with one shot's prompt changed.

The seed's farm, simulated (six servers, each its own process: an RTX 5090 primary, four RTX
3090 workers, an RTX 4080 Super control GPU), renders a 120 s film of 60 two-second shots at
160x96 (its look: a character sheet and a setting plate; 60 keyframes, 60 clips, 2 hero
passes: 124 GPU tasks; and its narration) into an empty work directory: the full render. Then
the same film with shot s40's prompt changed is rendered in the same work directory: the
re-render, which takes everything else from the artifact cache and submits only s40's keyframe,
clip and hero pass and the clip of s39, which flows into s40's keyframe, then assembles the film
again.

Each round uses a fresh work directory (an empty cache); the median of the rounds counts. With
``--time-scale 0`` (the default) the simulators render as fast as the CPU goes, so the GPU time
saved is only the CPU work of making the simulated media. ``--time-scale S`` sleeps S real
seconds per modelled GPU second; the simulator models a render's GPU time by its pixels x
frames (a 2 s 1280x720 clip: 36 s on the RTX 5090, 65 s on a 3090), so ``--width 320 --height
180 --time-scale 1`` renders a film of a sixteenth of 720p's pixels in the GPU time the
simulator gives it: what a farm saves when its GPUs, not the CPU, are the cost. The assembly
of the whole film is in both figures: it is done again either way.

Keys: ``ratio`` (re-render wall time / full render's, median of the rounds), the medians,
each run's prompts posted (``full_prompts`` 124, ``rerender_prompts`` 4: s40's three and the
clip of s39, which flows into it), tasks reused and rendered, and the re-render's assembly
seconds (``rerender_assemble_s``).

Run: ``python bench/reuse.py [--runs 3] [--time-scale 0] [--width 160 --height 96]``; the last
line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path

from _farm import Orchestrator, sim_logs, start_seed_farm

from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist
from videofactory.sim.farm import SimFarm

CHANGED_SHOT = 39  # s40, a hero shot


def posted(farm: SimFarm) -> int:
    return sum(
        1
        for log in sim_logs(farm).values()
        for e in log
        if e["event"] == "request" and e["method"] == "POST" and e["path"].endswith("/prompt")
        and e["status"] == 200
    )  # fmt: skip


def assemble_seconds(workdir: Path, run_id: str) -> float:
    with sqlite3.connect(workdir / "videofactory.db") as db:
        start, end = db.execute(
            "SELECT started_at, finished_at FROM tasks WHERE run_id=? AND kind='assemble'",
            (run_id,),
        ).fetchone()
    return end - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--time-scale", type=float, default=0.0)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=96)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vf-bench-reuse-"))
    plan = plan_rules(
        "warrior in mystical forest", 120, width=args.width, height=args.height, clip_s=2.0
    )
    film = root / "film.yaml"
    film.write_text(dump_shotlist(plan))
    data = plan.model_dump(mode="json")
    data["shots"][CHANGED_SHOT]["prompt"] = "the warrior faces the dragon on the burning bridge"
    edited = root / "film-edited.yaml"
    edited.write_text(dump_shotlist(type(plan).model_validate(data)))
    farm, farm_file = start_seed_farm(root, args.time_scale)
    rounds = []
    try:
        for i in range(args.runs):
            workdir = root / f"runs{i}"
            row = {}
            for name, shots in (("full", film), ("rerender", edited)):
                before = posted(farm)
                argv = ["render", str(shots), "--farm", str(farm_file), "--workdir", str(workdir)]
                res = Orchestrator([*argv, "--json"], root).run(timeout=1800)
                result = res["result"]
                row[name] = {
                    "wall_s": res["wall_s"],
                    "prompts": posted(farm) - before,
                    "reused": result["tasks_reused"],
                    "rendered": result["tasks_rendered"],
                    "assemble_s": assemble_seconds(workdir, result["run_id"]),
                    "duration_s": result["duration_s"],
                }
            rounds.append(row)
            print(json.dumps({"round": i, **row}), flush=True)
            shutil.rmtree(workdir, ignore_errors=True)
    finally:
        farm.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    full, rerender = med("full", "wall_s"), med("rerender", "wall_s")
    print()
    print(f"median of {args.runs}          wall s  prompts  reused  rendered  assembly s")
    for name in ("full", "rerender"):
        print(
            f"{name:<18} {med(name, 'wall_s'):9.2f} {med(name, 'prompts'):8.0f}"
            f" {med(name, 'reused'):7.0f} {med(name, 'rendered'):9.0f}"
            f" {med(name, 'assemble_s'):11.2f}"
        )
    print(f"re-render / full: {rerender / full:.2f} x wall time")
    print(
        json.dumps(
            {
                "shots": len(plan.shots),
                "gpu_tasks": rounds[0]["full"]["prompts"],
                "size": f"{args.width}x{args.height}",
                "time_scale": args.time_scale,
                "runs": args.runs,
                "full_s": round(full, 2),
                "rerender_s": round(rerender, 2),
                "ratio": round(rerender / full, 3),
                "full_prompts": [r["full"]["prompts"] for r in rounds],
                "rerender_prompts": [r["rerender"]["prompts"] for r in rounds],
                "rerender_reused": [r["rerender"]["reused"] for r in rounds],
                "rerender_rendered": [r["rerender"]["rendered"] for r in rounds],
                "full_assemble_s": round(med("full", "assemble_s"), 2),
                "rerender_assemble_s": round(med("rerender", "assemble_s"), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
