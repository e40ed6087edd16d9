"""Takes end to end on a simulated farm (time scale 0, 160x96 frames, 2 shots of 2 s,
`render --takes 2`): a clip per take, scored, a contact sheet per shot; then a pick
re-assembles the run in place without rendering anything again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runkit import one_server_farm, write_shots
from subprocs import run_cli

from videofactory.errors import ShotListError, StoreError
from videofactory.factory import pick_take
from videofactory.shotlist import dump_shotlist, load_shotlist
from videofactory.store import Store

pytestmark = pytest.mark.slow


def _farm(tmp_path: Path) -> Path:
    """Two simulated GPUs: keyframes and hero passes on g0, clips on g1 (roles are
    preferences in a farm file: either takes any task when the other is busy)."""
    path = tmp_path / "factory.yaml"
    path.write_text(
        "simulated: true\n"
        "workers:\n"
        "  - {id: g0, url: 'http://127.0.0.1:1', vram_gb: 32, roles: [primary, control]}\n"
        "  - {id: g1, url: 'http://127.0.0.1:1', vram_gb: 24, roles: [worker]}\n",
        encoding="utf-8",
    )
    return path


def _takes_used(store: Store, run_id: str) -> dict[str, int]:
    """The takes the newest assembly of the run used (its ``takes_used`` event)."""
    events = [e for e in store.events(run_id) if e["kind"] == "takes_used"]
    return events[-1]["data"]["data"]["takes"]


def _clip_attempts(store: Store, run_id: str) -> list[dict]:
    return [a for a in store.attempts(run_id) if "/clip" in a["task_id"]]


def test_takes_render_score_sheet_and_a_pick_reassembles_without_rendering(tmp_path):
    shots, farm, workdir = write_shots(tmp_path / "shots.yaml"), _farm(tmp_path), tmp_path / "w"
    plan = load_shotlist(shots)  # s01 keeps its hero pass, s02 has none
    plan.shots[1] = plan.shots[1].model_copy(update={"hero": False})
    shots.write_text(dump_shotlist(plan), encoding="utf-8")
    res = run_cli(("render", str(shots), "--takes", "2", "--farm", str(farm), "--json",
                   "-w", str(workdir)), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads(res.stdout.strip().splitlines()[-1])
    run_id, run_dir = result["run_id"], Path(result["run_dir"])
    assert result["shots"] == 2

    with Store.for_workdir(workdir) as store:
        clips = _clip_attempts(store, run_id)
        # one rendered clip per take, each its own content (the seeds differ)
        assert sorted(a["task_id"].split("/", 1)[1] for a in clips) == [
            "s01/clip", "s01/clip.2", "s02/clip", "s02/clip.2",
        ]  # fmt: skip
        assert all(a["state"] == "done" and not a["reused"] for a in clips)
        assert len({a["content_key"] for a in clips}) == 4
        scores = store.take_scores(run_id)
        assert set(scores) == {"s01", "s02"} and all(len(t) == 2 for t in scores.values())
        assert all(s["score"] > 0 and s["frames"] > 0 for t in scores.values() for s in t.values())
        used = _takes_used(store, run_id)
        heroes = {t.shot_id: t.params["take"] for t in store.tasks(run_id) if t.kind == "hero"}
        assert heroes == {"s01": used["s01"]}  # the hero pass is on the take the film uses
        rendered = store.reuse_counts(run_id)[1]
        assert rendered == result["tasks_rendered"]
    for clip in ("s01.mp4", "s01.take2.mp4", "s02.mp4", "s02.take2.mp4"):
        assert (run_dir / "clips" / clip).is_file()
    from PIL import Image

    for shot in ("s01", "s02"):
        with Image.open(run_dir / "takes" / f"{shot}.jpg") as sheet:
            assert sheet.format == "JPEG" and sheet.size == (658, 260)  # 2 tiles of 320x192

    # Pick the other take of a shot with no hero pass: only the assembly runs (no farm).
    shot, other = "s02", 3 - used["s02"]
    picked = pick_take(run_id, shot, other, workdir=workdir, farm_file=farm)
    assert picked["reassembled"] and picked["previous"] == used[shot]
    assert picked["rendered_now"] == {} and picked["tasks_rendered"] == rendered
    assert Path(picked["final"]).name == "final.v2.mp4" and (run_dir / "final.mp4").is_file()
    with Store.for_workdir(workdir) as store:
        assert len(_clip_attempts(store, run_id)) == 4
        assert _takes_used(store, run_id) == {**used, shot: other}
        assert store.picks(run_id)[shot]["take"] == other
        assert store.run(run_id)["final_path"] == picked["final"]
    again = pick_take(run_id, shot, other, workdir=workdir)
    assert not again["reassembled"] and "already uses take" in again["message"]

    # s01's hero pass moved to its other take, in the background: `pick --detach` answers at
    # once, `wait` follows the run to its next version; no clip is rendered again.
    hero_shot, hero_take = "s01", 3 - used["s01"]
    res = run_cli(("pick", run_id, hero_shot, str(hero_take), "--detach", "--json",
                   "-w", str(workdir)), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    moved = json.loads(res.stdout)
    assert moved["detached"] and moved["pid"] and f"videofactory wait {run_id}" in moved["message"]
    res = run_cli(("wait", run_id, "--json", "-w", str(workdir)), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    with Store.for_workdir(workdir) as store:
        assert store.run(run_id)["final_path"].endswith("final.v3.mp4")
        assert len(_clip_attempts(store, run_id)) == 4
        hero = next(t for t in store.tasks(run_id) if t.kind == "hero")
        assert hero.state == "done" and hero.params["take"] == hero_take
        assert _takes_used(store, run_id)["s01"] == hero_take

    # Wrong picks are one line each, naming what to do.
    for args, error, words in (
        (("nope", "s01", 1), StoreError, "no run 'nope'"),
        ((run_id, "s09", 1), ShotListError, "its shots are s01, s02"),
        ((run_id, "s01", 3), ShotListError, "pick one of 1-2"),
    ):
        with pytest.raises(error, match=words) as exc:
            pick_take(*args, workdir=workdir)
        assert "\n" not in str(exc.value)


def test_a_shot_that_continues_goes_on_from_the_take_the_film_uses(tmp_path):
    """s01 in 2 takes, s02 continues it: s02's clip waits for both takes and starts from the
    last frame of the take the film uses (the best scored), so the cut lands whichever take
    that is; picking the other take says which shot to redo, and the redo goes on from it."""
    import av
    import numpy as np

    from videofactory.factory import redo_run, render_shotlist
    from videofactory.shotlist import ShotList
    from videofactory.sim.options import SimOptions
    from videofactory.sim.thread import ServerThread

    def first_last(path: Path) -> tuple[np.ndarray, np.ndarray]:
        with av.open(str(path)) as box:
            frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
        return frames[0].astype(np.int16), frames[-1].astype(np.int16)

    def still(run_dir: Path) -> np.ndarray:
        from PIL import Image

        with Image.open(run_dir / "stills" / "s02_start.png") as picture:
            return np.asarray(picture.convert("RGB"), dtype=np.int16)

    def jump(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean())

    plan = ShotList.model_validate(
        {"concept": "a dragon wakes", "duration": 2.0, "width": 128, "height": 72, "fps": 24,
         "shots": [
             {"id": "s01", "duration": 1.0, "prompt": "a dragon sleeps in a cave, wide",
              "camera": "pan_right", "seed": 5, "takes": 2},
             {"id": "s02", "duration": 1.0, "prompt": "the dragon opens one eye, close up",
              "camera": "static", "seed": 6, "continuity": "continue"}]}
    )  # fmt: skip
    with ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0)) as sim:
        farm = one_server_farm(tmp_path / "factory.yaml", sim.url)
        workdir = tmp_path / "runs"
        result = render_shotlist(plan, workdir=workdir, farm_file=farm)
        run_id, clips = result.run_id, result.run_dir / "clips"
        with Store.for_workdir(workdir) as store:
            used = _takes_used(store, run_id)["s01"]
            going_on = store.task(f"{run_id}/s02/clip")
            chosen = [e for e in store.events(run_id) if e["kind"] == "take_chosen"]
        assert going_on.params["from_take"] == used
        assert [e["message"] for e in chosen] == [f"clip s02 goes on from take {used} of s01 "
                                                  "(best score)"]  # fmt: skip
        ends = {t: first_last(clips / name)[1] for t, name in
                ((1, "s01.mp4"), (2, "s01.take2.mp4"))}  # fmt: skip
        # The still s02's clip was made from, as uploaded (the takes differ only by their
        # seeds' motion, so the still tells which one it is, not s02's own first frame).
        start = still(result.run_dir)
        other = 3 - used
        print(
            f"\nthe still s02 starts from against s01's last frame, take {used} (used) "
            f"{jump(start, ends[used]):.1f}, take {other} {jump(start, ends[other]):.1f}"
        )
        assert jump(start, ends[used]) < 1.0 < jump(start, ends[other])

        # The other take picked: the film is re-assembled, and s02 named as the shot to redo.
        picked = pick_take(run_id, "s01", other, workdir=workdir, farm_file=farm)
        assert picked["continue_from_other_take"] == ["s02"]
        assert f"`videofactory redo {run_id} s02`" in picked["message"]
        new_id, new_dir, _ = redo_run(run_id, "s02", workdir=workdir, seed=7)
    with Store.for_workdir(workdir) as store:
        assert store.task(f"{new_id}/s02/clip").params["from_take"] == other
    start = still(new_dir)
    assert jump(start, ends[other]) < 1.0 < jump(start, ends[used])


def test_a_pick_while_the_run_renders_is_used_by_its_video(tmp_path):
    """A pick made while a process renders the run (a shot without a hero pass) is recorded
    at once and the run's video uses it: its assembly reads it, or, when it came after the
    assembly chose its takes, the run assembles again before its process lets go. A pick
    that would move a hero pass waits for the run to end (one line saying so)."""
    import threading
    import time

    from videofactory.factory import render_shotlist
    from videofactory.shotlist import ShotList
    from videofactory.sim.options import SimOptions
    from videofactory.sim.thread import ServerThread

    plan = ShotList.model_validate(
        {"concept": "a fox in the snow", "duration": 2.0, "width": 128, "height": 72, "fps": 24,
         "takes": 2, "shots": [
             {"id": "s01", "duration": 1.0, "prompt": "a red fox in deep snow", "seed": 3},
             {"id": "s02", "duration": 1.0, "prompt": "the fox leaps, close up", "seed": 4,
              "hero": True}]}
    )  # fmt: skip
    workdir = tmp_path / "runs"
    # The simulated GPU sleeps 15 s per modelled GPU second: the run renders for seconds.
    with ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0, time_scale=15)) as sim:
        farm = one_server_farm(tmp_path / "factory.yaml", sim.url)
        done: dict = {}
        worker = threading.Thread(
            target=lambda: done.update(
                result=render_shotlist(plan, workdir=workdir, farm_file=farm)
            )  # fmt: skip
        )
        worker.start()
        run_id = None
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline:
            time.sleep(0.1)
            if (workdir / "videofactory.db").exists():
                with Store.for_workdir(workdir) as store:
                    running = [r for r in store.runs() if r["state"] == "running"]
                run_id = running[0]["id"] if running else None
        assert run_id is not None, "the run did not start"
        picked = pick_take(run_id, "s01", 2, workdir=workdir)
        with pytest.raises(StoreError, match="has a hero pass, which the pick would move"):
            pick_take(run_id, "s02", 2, workdir=workdir)
        worker.join(timeout=300)
    assert picked["pending"] and "its video will use it" in picked["message"], picked
    result = done["result"]
    with Store.for_workdir(workdir) as store:
        assert _takes_used(store, run_id)["s01"] == 2
        assert store.run(run_id)["final_path"] == str(result.final)
        assert store.run(run_id)["owner_pid"] is None
    assert result.final.is_file() and result.media.duration_s == pytest.approx(2.0, abs=0.1)


def test_a_pick_after_the_assembly_chose_its_takes_assembles_the_run_again(tmp_path):
    """The pick lands after the run's assembly chose its takes (made from the run's own event
    of that choice, so the timing is certain): the process assembles again with it before it
    lets go of the run, and its result is that next version."""
    from videofactory.factory import render_shotlist
    from videofactory.shotlist import ShotList
    from videofactory.sim.options import SimOptions
    from videofactory.sim.thread import ServerThread

    plan = ShotList.model_validate(
        {"concept": "a fox in the snow", "duration": 2.0, "width": 128, "height": 72, "fps": 24,
         "takes": 2, "shots": [
             {"id": "s01", "duration": 1.0, "prompt": "a red fox in deep snow", "seed": 3},
             {"id": "s02", "duration": 1.0, "prompt": "the fox leaps, close up", "seed": 4}]}
    )  # fmt: skip
    workdir = tmp_path / "runs"
    late: dict = {}

    def on_event(event) -> None:
        if event.kind == "takes_used" and not late:
            other = 3 - event.data["takes"]["s01"]
            late.update(pick_take(event.run_id, "s01", other, workdir=workdir), other=other)

    with ServerThread(SimOptions(base_directory=tmp_path / "sim", port=0)) as sim:
        farm = one_server_farm(tmp_path / "factory.yaml", sim.url)
        result = render_shotlist(plan, workdir=workdir, farm_file=farm, on_event=on_event)
    assert late["pending"], late
    assert result.final.name == "final.v2.mp4" and (result.run_dir / "final.mp4").is_file()
    with Store.for_workdir(workdir) as store:
        assert _takes_used(store, result.run_id)["s01"] == late["other"]
        assert store.run(result.run_id)["final_path"] == str(result.final)
