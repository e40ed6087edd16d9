"""A farm render with a clip workflow whose model makes 4n+1 frames at 16 fps (Wan's rule): the
dispatcher asks for such counts at that rate, checks the clips against them, the hero passes keep
them, and the final video still has exactly the shot list's frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from videofactory.assembly.probe import probe

from .conftest import result_json

pytestmark = pytest.mark.slow

WORKFLOWS = Path(__file__).resolve().parents[2] / "videofactory" / "workflows"
#: Shot durations (8 s in all, as the farm's plan) and the 4n+1 counts at 16 fps they need.
#: s03 (a hero shot) and s04 get clips 0.24 s and 0.18 s longer than the shot: more than the
#: slack of a length check against the shot, so the check must be against what was asked for.
SHOTS = {"s01": (4.8, 77), "s02": (1.0, 17), "s03": (1.07, 21), "s04": (1.13, 21)}


def test_wan_rule_on_the_farm_gives_4n_plus_1_clips_and_an_exact_final(make_farm) -> None:
    farm = make_farm()
    # The simulator's clip graph (it makes whatever count it is given) with a bindings file that
    # declares Wan's rule, as a user does for a Wan workflow of their own.
    (farm.tmp / "wanlike.json").write_text((WORKFLOWS / "sim" / "clip.json").read_text())
    bindings = yaml.safe_load((WORKFLOWS / "sim" / "clip.bindings.yaml").read_text())
    bindings["frame_rule"] = {"frames": "4n+1", "fps": 16}
    (farm.tmp / "wanlike.bindings.yaml").write_text(yaml.safe_dump(bindings))
    config = yaml.safe_load(farm.file.read_text())
    for worker in config["workers"]:
        worker["workflows"] = {"clip": "wanlike.json"}
    farm.file.write_text(yaml.safe_dump(config))
    plan = yaml.safe_load(farm.shots.read_text())
    assert [s["id"] for s in plan["shots"]] == list(SHOTS)
    for shot in plan["shots"]:
        shot["duration"] = SHOTS[shot["id"]][0]
    farm.shots.write_text(yaml.safe_dump(plan, sort_keys=False))

    summary = result_json(farm.render())
    run_dir = farm.workdir / summary["run_id"]
    for sid, (duration, frames) in SHOTS.items():
        clip = probe(run_dir / "clips" / f"{sid}.mp4")
        assert (clip.frames, clip.fps) == (frames, 16.0), sid
        assert clip.duration_s >= duration
    heroes = [s["id"] for s in plan["shots"] if s.get("hero")]
    assert heroes == ["s01", "s03"]
    for sid in heroes:
        hero = probe(run_dir / "hero" / f"{sid}.mp4")
        assert (hero.frames, hero.fps) == (SHOTS[sid][1], 16.0), sid
    final = probe(summary["final"])
    assert (final.frames, final.fps) == (8 * 24, 24.0)

    with farm.db() as db:
        clips = [
            json.loads(r["media_json"])
            for r in db.execute("SELECT media_json FROM artifacts WHERE kind='clip'")
        ]
    assert sorted(c["frames"] for c in clips) == sorted(f for _, f in SHOTS.values())
    # each clip was accepted at its first attempt: none refused for being longer than its shot
    with farm.db() as db:
        failed = db.execute("SELECT count(*) FROM attempts WHERE state='failed'").fetchone()[0]
    assert failed == 0
