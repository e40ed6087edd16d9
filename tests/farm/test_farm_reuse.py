"""Reuse across runs on real simulated farms: what did not change is never submitted again.

Each test renders a plan, then renders it (or an edit of it) again in the same work directory,
and counts the prompts the simulators were posted (their own request logs), naming the tasks
the second run submitted from its run database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from videofactory.assembly.probe import probe
from videofactory.look import look_items
from videofactory.shotlist import dump_shotlist, load_shotlist
from videofactory.store import Store, bookkeeping_problems

from .conftest import result_json

pytestmark = pytest.mark.slow


def posted(farm) -> int:
    """POST /prompt requests the farm's servers accepted so far."""
    total = 0
    for url in farm.sim.urls.values():
        log = httpx.get(url + "/sim/requests", timeout=5).json()
        total += sum(
            1
            for e in log
            if e["event"] == "request"
            and e["method"] == "POST"
            and e["path"] in ("/prompt", "/api/prompt")
            and e["status"] == 200
        )
    return total


def submitted(farm, run_id: str) -> set[str]:
    """``shot/kind`` of every task of a run that posted a prompt."""
    with sqlite3.connect(farm.workdir / "videofactory.db") as db:
        rows = db.execute(
            "SELECT DISTINCT t.shot_id, t.kind FROM attempts a JOIN tasks t ON t.id = a.task_id"
            " WHERE a.run_id=? AND a.prompt_id IS NOT NULL",
            (run_id,),
        ).fetchall()
    return {f"{shot}/{kind}" for shot, kind in rows}


def edited(farm, name: str, **shots) -> Path:
    """The test plan with some shots' fields changed, written to ``name``."""
    plan = load_shotlist(farm.shots)
    data = plan.model_dump(mode="json")
    for s in data["shots"]:
        s.update(shots.get(s["id"], {}))
    path = farm.tmp / name
    path.write_text(dump_shotlist(type(plan).model_validate(data)))
    return path


def render(farm, shots: Path, *extra: str) -> dict:
    res = farm.cli("render", str(shots), "--farm", str(farm.file), "--json", *extra)
    out = result_json(res)
    with Store.for_workdir(farm.workdir) as store:
        assert bookkeeping_problems(store, out["run_id"]) == []
    return out


def gpu_and_speech(farm) -> int:
    plan = load_shotlist(farm.shots)
    looks = len(look_items(plan))  # the film's character sheet and setting plate
    return looks + sum(2 + s.hero + bool(s.narration.strip()) for s in plan.shots)


def test_an_unchanged_plan_submits_nothing(make_farm):
    farm = make_farm()
    first = render(farm, farm.shots)
    assert first["tasks_reused"] == 0 and first["tasks_rendered"] == gpu_and_speech(farm)
    before = posted(farm)
    assert before == 12  # its look (2 pictures), 4 keyframes, 4 clips, 2 hero passes
    again = render(farm, farm.shots)
    assert posted(farm) == before  # not one prompt
    assert submitted(farm, again["run_id"]) == set()
    assert again["tasks_reused"] == gpu_and_speech(farm) and again["tasks_rendered"] == 0
    assert again["run_id"] != first["run_id"]
    final = Path(again["final"])
    assert abs(probe(final).duration_s - 8.0) < 0.1
    # The reused files are the first run's, linked into the new run folder.
    old = Path(first["run_dir"]) / "clips" / "s02.mp4"
    new = Path(again["run_dir"]) / "clips" / "s02.mp4"
    assert new.read_bytes() == old.read_bytes()
    shown = json.loads(farm.cli("show", again["run_id"], "--json").stdout)
    reused = [a for a in shown["attempts"] if a["reused"]]
    assert len(reused) == gpu_and_speech(farm)
    assert all(a["worker"] == "cache" and len(a["content_key"]) == 64 for a in reused)
    assert {t["worker"] for t in shown["tasks"] if t["kind"] != "assemble"} == {"cache"}
    from videofactory.report.data import gather

    with Store.for_workdir(farm.workdir) as store:
        report = gather(store, again["run_id"], now=time.time())
    assert {b.lane for b in report.bars} == {"ffmpeg"}  # only the assembly ran anywhere


def test_one_changed_prompt_renders_exactly_that_shot(make_farm):
    farm = make_farm()
    render(farm, farm.shots)
    # s03 is a hero shot; s04 after it is a cut: its keyframe, clip and hero pass, and the
    # clip of s02, which flows into s03's keyframe (the planner's choice inside the scene).
    assert [s.continuity for s in load_shotlist(farm.shots).shots[1:3]] == ["flow", "cut"]
    changed = edited(farm, "changed.yaml", s03={"prompt": "a red dragon circles the tower"})
    dry = json.loads(
        farm.cli("render", str(changed), "--farm", str(farm.file), "--dry-run", "--json").stdout
    )
    assert dry["will_run"] == ["s03/keyframe", "s02/clip", "s03/clip", "s03/hero"]
    assert dry["tasks_reused"] == gpu_and_speech(farm) - 4
    assert dry["gpu_s"] < dry["gpu_s_all"]
    before = posted(farm)
    again = render(farm, changed)
    assert posted(farm) - before == 4
    want = {"s03/keyframe", "s02/clip", "s03/clip", "s03/hero"}
    assert submitted(farm, again["run_id"]) == want
    assert again["tasks_rendered"] == 4 and again["tasks_reused"] == gpu_and_speech(farm) - 4
    # The same edit once more: now it is the cached one.
    third = render(farm, changed)
    assert posted(farm) - before == 4 and third["tasks_rendered"] == 0


def test_a_continue_chain_renders_downstream(make_farm):
    farm = make_farm()
    cuts = {"s01": {"continuity": "cut"}, "s02": {"continuity": "cut"}}  # no flow into s02
    chain = edited(
        farm, "chain.yaml", **cuts, s03={"continuity": "continue"}, s04={"continuity": "continue"}
    )
    render(farm, chain)
    # s02 changes: s03 continues s02's clip and s04 continues s03's, so their clips (and
    # s03's hero pass) follow; their keyframes and every narration do not.
    changed = edited(
        farm,
        "chain2.yaml",
        s01=cuts["s01"],
        s02={"prompt": "the warrior stops at the river", "continuity": "cut"},
        s03={"continuity": "continue"},
        s04={"continuity": "continue"},
    )
    before = posted(farm)
    again = render(farm, changed)
    want = {"s02/keyframe", "s02/clip", "s03/clip", "s03/hero", "s04/clip"}
    assert submitted(farm, again["run_id"]) == want
    assert posted(farm) - before == len(want)


def test_fresh_renders_everything_and_keeps_it(make_farm):
    farm = make_farm()
    render(farm, farm.shots)
    before = posted(farm)
    fresh = render(farm, farm.shots, "--fresh")
    assert posted(farm) - before == 12  # its look (2), 4 keyframes, 4 clips, 2 hero passes
    assert fresh["tasks_reused"] == 0 and fresh["tasks_rendered"] == gpu_and_speech(farm)
    again = render(farm, farm.shots)  # what --fresh made is in the cache
    assert posted(farm) - before == 12 and again["tasks_rendered"] == 0


def test_a_damaged_cache_file_is_rendered_again(make_farm):
    farm = make_farm()
    first = render(farm, farm.shots)
    index = sqlite3.connect(farm.workdir / "cache" / "index.db")
    key, sha = index.execute(
        "SELECT key, sha256 FROM entries WHERE source LIKE '%/s02/clip'"
    ).fetchone()
    index.close()
    obj = next((farm.workdir / "cache" / "objects").rglob(f"{key}-{sha[:16]}.mp4"))
    obj.unlink()  # linked to the first run's clip: replace the cache's name, not the bytes
    obj.write_bytes(b"\0" * 5000)
    before = posted(farm)
    again = render(farm, farm.shots)
    assert submitted(farm, again["run_id"]) == {"s02/clip"}
    assert posted(farm) - before == 1
    assert (Path(first["run_dir"]) / "clips" / "s02.mp4").stat().st_size > 5000
    res = farm.cli("logs", again["run_id"])
    assert "was damaged" in res.stdout


def test_a_run_killed_mid_render_leaves_only_whole_files_to_reuse(make_farm):
    farm = make_farm(time_scale=0.15)
    proc = farm.render(wait=False)
    farm.wait_for("SELECT 1 FROM tasks WHERE kind='clip' AND state='done'")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with sqlite3.connect(farm.workdir / "cache" / "index.db") as db:
        cached = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    assert cached >= 2  # a keyframe and a clip at least
    time.sleep(1)  # the killed run's servers finish what they had
    again = render(farm, farm.shots)
    assert again["tasks_reused"] == cached  # whatever was indexed is whole, and reused
    assert again["tasks_reused"] + again["tasks_rendered"] == gpu_and_speech(farm)
    assert abs(probe(Path(again["final"])).duration_s - 8.0) < 0.1


def test_redo_renders_one_shot_as_a_new_run(make_farm):
    farm = make_farm()
    first = render(farm, farm.shots)
    before = posted(farm)
    res = farm.cli("redo", first["run_id"], "s02", "--prompt", "a storm over the hills", "--json")
    redo = result_json(res)
    assert redo["run_id"] != first["run_id"]
    # s01 flows into s02 (its clip ends on s02's keyframe): its clip and hero pass follow.
    want = {"s02/keyframe", "s02/clip", "s01/clip", "s01/hero"}
    assert submitted(farm, redo["run_id"]) == want
    assert posted(farm) - before == 4
    assert redo["tasks_rendered"] == 4 and redo["tasks_reused"] == gpu_and_speech(farm) - 4
    shown = json.loads(farm.cli("show", redo["run_id"], "--json").stdout)
    assert shown["redo_of"] == {
        "run": first["run_id"],
        "shot": "s02",
        "changes": {"prompt": "a storm over the hills"},
    }
    prompts = {s["id"]: s["prompt"] for s in shown["shots"]}
    old = {s.id: s.prompt for s in load_shotlist(farm.shots).shots}
    assert prompts == {**old, "s02": "a storm over the hills"}
    assert Path(first["final"]).is_file()  # the old run is kept as it was
    old_shown = json.loads(farm.cli("show", first["run_id"], "--json").stdout)
    assert old_shown["shots"][1]["prompt"] == old["s02"]
    # No edit: another take of the shot (a new seed); a hero shot brings its hero pass, and
    # s02, which flows into it, its clip.
    before = posted(farm)
    take = result_json(farm.cli("redo", first["run_id"], "s03", "--json"))
    assert submitted(farm, take["run_id"]) == {"s03/keyframe", "s03/clip", "s03/hero", "s02/clip"}
    assert posted(farm) - before == 4
    # A cache pruned empty is filled again from the old run's files (under the keys its
    # attempts recorded): still only the redone shot goes to the GPUs.
    pruned = result_json(farm.cli("cache", "prune", "--max-gb", "0", "--json"))
    assert pruned["entries_left"] == 0
    before = posted(farm)
    refilled = result_json(farm.cli("redo", first["run_id"], "s04", "--prompt", "dusk", "--json"))
    assert submitted(farm, refilled["run_id"]) == {"s04/keyframe", "s04/clip"}
    assert posted(farm) - before == 2
    # One clear line for what cannot be redone.
    for args, words in [
        (("no-such-run", "s01"), "no run 'no-such-run'"),
        ((first["run_id"], "s99"), "has no shot 's99'; its shots are s01, s02, s03, s04"),
        ((first["run_id"], "s01", "--duration", "0"), "not a shot length"),
        ((first["run_id"], "s02", "--prompt", old["s02"]), "already has prompt"),
    ]:
        res = farm.cli("redo", *args)
        assert res.returncode == 1 and words in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_measure_a_60_shot_film_with_one_prompt_changed(make_farm):
    """Issue 17's measure: a 60-shot film (124 GPU tasks with its look), then the same with one
    shot's prompt changed: the re-render submits that shot's tasks, 3 (keyframe, clip, hero
    pass: s40 is one of the film's two hero shots), and the clip of s39, which flows into s40's
    keyframe (issue 18). Wall times are bench/reuse.py's."""
    from videofactory.planning import plan_rules

    farm = make_farm()
    plan = plan_rules("warrior in mystical forest", 120, width=160, height=96, clip_s=2.0)
    assert len(plan.shots) == 60 and [s.id for s in plan.shots if s.hero] == ["s01", "s40"]
    film = farm.tmp / "film.yaml"
    film.write_text(dump_shotlist(plan))
    first = render(farm, film)
    narrated = sum(1 for s in plan.shots if s.narration.strip())  # the planner lets some breathe
    assert posted(farm) == 124 and first["tasks_rendered"] == 124 + narrated
    data = plan.model_dump(mode="json")
    data["shots"][39]["prompt"] = "the warrior faces the dragon on the burning bridge"
    changed = farm.tmp / "film2.yaml"
    changed.write_text(dump_shotlist(type(plan).model_validate(data)))
    assert plan.shots[38].continuity == "flow"
    again = render(farm, changed)
    assert posted(farm) - 124 == 4
    want = {"s40/keyframe", "s40/clip", "s40/hero", "s39/clip"}
    assert submitted(farm, again["run_id"]) == want
    assert again["tasks_rendered"] == 4 and again["tasks_reused"] == 124 - 4 + narrated
    assert abs(probe(Path(again["final"])).duration_s - 120.0) < 0.2
