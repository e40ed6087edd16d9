"""Preview benchmark: the 30 s film's preview against its full render, on the simulated farm.

The seed's farm, simulated (six servers, each its own process: an RTX 5090 primary, four RTX
3090 workers, an RTX 4080 Super control GPU) at the simulator's default time scale (0: it
renders as fast as the CPU goes), and the rules planner's 30 s film of "warrior in mystical
forest" (6 shots: its look of 2 pictures, 6 keyframes, 6 clips, 2 hero passes; narration).
Each round, in a fresh work directory:

- **preview**: ``render film.yaml --preview``: the look and the keyframes (on the control
  GPU) and the narration, then the animatic, ``preview.mp4``;
- **film after preview**: ``render RUN`` of that preview: the clips and hero passes, the
  look, keyframes and narration taken from the artifact cache;
- **film**: ``render film.yaml --fresh`` in another fresh work directory, the full render
  from nothing (what a user pays without a preview).

Each is the real command in a child process, timed from start to its last line (the farm runs
beside it, started once). The GPU seconds are the simulator's own: the modelled GPU time on
the card that ran it of every prompt the run posted (``gpu_s`` of each ``execution_end`` in
``GET /sim/requests``, ``sim.gpu``'s model of the real models: a 1280x720 keyframe 6 s on the
5090, a 5 s 720p clip 90 s), whatever the time scale made of it in real time, and the busiest
card's share of them, which no schedule beats in wall time. The median of the rounds counts.

At time scale 0 (the default) a simulated GPU costs only the CPU it takes to draw the media,
so the wall times are what the CPU does in all three: the narration (one voice, one line at a
time), the assembly and the command's start; the preview's is not much shorter. The GPU
seconds are what a real farm would spend. ``--time-scale S`` sleeps S real seconds per
modelled GPU second (at 320x180, S = 16 gives 720p's GPU time).

The film is made at 320x180 by default (a sixteenth of 720p's pixels), so that three rounds
fit in about five minutes of 2 cores: the simulator renders on the CPU, and a 720p round takes
several minutes alone. Its GPU model is linear in pixels (x frames), so the GPU seconds at 720p
are sixteen times those (``--width 1280 --height 720`` measures them) and their ratio is the
same.

Run: ``python bench/preview.py [--runs 3] [--width 320 --height 180] [--time-scale 0]
[--keep FILE]`` (``--keep``: copy the last preview.mp4 there); it prints a table and the last
line is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from _farm import Orchestrator, sim_logs, start_seed_farm

from videofactory.planning import plan_rules
from videofactory.shotlist import dump_shotlist
from videofactory.sim.farm import SimFarm

CONCEPT = "warrior in mystical forest"
#: The three renders of a round, in the order they run.
RENDERS = ("preview", "film_after_preview", "film")


def ended(farm: SimFarm) -> dict[tuple[str, str], dict[str, Any]]:
    """Every prompt that ended on the farm so far: (server, prompt id) -> its log entry."""
    return {
        (name, e["prompt_id"]): e
        for name, log in sim_logs(farm).items()
        for e in log
        if e["event"] == "execution_end"
    }


def one(farm: SimFarm, argv: list[str], cwd: Path) -> dict[str, Any]:
    """One render: its wall time, result, and the prompts it had run with their GPU seconds."""
    before = ended(farm)
    res = Orchestrator([*argv, "--json"], cwd).run(timeout=900)
    new = {k: e for k, e in ended(farm).items() if k not in before}
    result = res["result"]
    per_card: dict[str, float] = {}
    for (server, _), e in new.items():
        per_card[server] = per_card.get(server, 0.0) + float(e.get("gpu_s") or 0.0)
    return {
        "wall_s": res["wall_s"],
        "prompts": len(new),
        "gpu_s": sum(per_card.values()),
        # The busiest card's GPU seconds: no farm renders it in less wall time than that.
        "busiest_gpu_s": max(per_card.values(), default=0.0),
        "gpu_s_by_card": per_card,
        "reused": result["tasks_reused"],
        "rendered": result["tasks_rendered"],
        "duration_s": result.get("duration_s"),
        "video": Path(result["final"]).name,
        "run_id": result["run_id"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=180)
    ap.add_argument("--time-scale", type=float, default=0.0)
    ap.add_argument("--keep", type=Path, help="copy the last preview.mp4 here")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vf-bench-preview-"))
    plan = plan_rules(CONCEPT, 30, width=args.width, height=args.height)
    film = root / "film.yaml"
    film.write_text(dump_shotlist(plan))
    farm, farm_file = start_seed_farm(root, args.time_scale)
    rounds = []
    try:
        for i in range(args.runs):
            work, cold = root / f"runs{i}", root / f"cold{i}"
            common = ["--farm", str(farm_file)]
            row = {"preview": one(farm, ["render", str(film), "--preview", *common,
                                         "--workdir", str(work)], root)}  # fmt: skip
            if args.keep and i == args.runs - 1:
                shutil.copy(work / row["preview"]["run_id"] / "preview.mp4", args.keep)
            row["film_after_preview"] = one(
                farm, ["render", row["preview"]["run_id"], *common, "--workdir", str(work)], root
            )
            row["film"] = one(
                farm, ["render", str(film), "--fresh", *common, "--workdir", str(cold)], root
            )
            rounds.append(row)
            print(json.dumps({"round": i, **row}), flush=True)
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(cold, ignore_errors=True)
    finally:
        farm.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    figures: dict[str, Any] = {
        "concept": CONCEPT,
        "duration_s": plan.duration,
        "shots": len(plan.shots),
        "size": f"{args.width}x{args.height}",
        "time_scale": args.time_scale,
        "runs": args.runs,
    }
    for name in RENDERS:
        figures[f"{name}_wall_s"] = round(med(name, "wall_s"), 2)
        figures[f"{name}_gpu_s"] = round(med(name, "gpu_s"), 1)
        figures[f"{name}_busiest_gpu_s"] = round(med(name, "busiest_gpu_s"), 1)
        figures[f"{name}_prompts"] = [r[name]["prompts"] for r in rounds]
        figures[f"{name}_reused"] = [r[name]["reused"] for r in rounds]
    figures["preview_gpu_s_by_card"] = rounds[-1]["preview"]["gpu_s_by_card"]
    figures["preview_video_s"] = rounds[-1]["preview"]["duration_s"]
    figures["wall_ratio"] = round(figures["preview_wall_s"] / figures["film_wall_s"], 3)
    figures["gpu_ratio"] = round(figures["preview_gpu_s"] / figures["film_gpu_s"], 4)
    figures["busiest_gpu_ratio"] = round(
        figures["preview_busiest_gpu_s"] / figures["film_busiest_gpu_s"], 3
    )

    print()
    print(f"{CONCEPT!r}, {plan.duration:g} s, {len(plan.shots)} shots at {figures['size']}, "
          f"simulated seed farm at time scale {args.time_scale:g}, median of {args.runs} "
          "runs")  # fmt: skip
    print(f"{'render':<22}{'wall s':>9}{'GPU s':>9}{'busiest GPU s':>15}{'prompts':>9}"
          f"{'reused':>8}")  # fmt: skip
    for name in RENDERS:
        print(
            f"{name.replace('_', ' '):<22}{figures[f'{name}_wall_s']:>9.1f}"
            f"{figures[f'{name}_gpu_s']:>9.1f}{figures[f'{name}_busiest_gpu_s']:>15.1f}"
            f"{rounds[-1][name]['prompts']:>9}{rounds[-1][name]['reused']:>8}"
        )
    print(f"preview / film: wall {figures['wall_ratio']:.2f}, GPU {figures['gpu_ratio']:.3f}, "
          f"busiest GPU {figures['busiest_gpu_ratio']:.3f}")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
