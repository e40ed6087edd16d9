"""Real farms: a plan no GPU can run is refused up front; a hero pass is a bonus, never a single
point of failure; out of memory everywhere shrinks the task at once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest
import yaml

from videofactory.assembly.probe import probe
from videofactory.sim.options import SimFaults

from .conftest import result_json

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _farm_file(farm, name: str, *, urls=None, workers=None, **dispatch) -> str:
    """A variant of the test farm's file: other URLs, other worker fields, other settings."""
    data = yaml.safe_load(farm.file.read_text())
    for w in data["workers"]:
        w["url"] = (urls or {}).get(w["id"], w["url"])
        w.update((workers or {}).get(w["id"], {}))
    data["dispatch"].update(dispatch)
    path = farm.tmp / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _show(farm, run_id: str) -> dict:
    res = farm.cli("show", run_id, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _status(farm_file: str) -> tuple[int, dict]:
    res = subprocess.run(
        [sys.executable, "-m", "videofactory", "status", "--farm", farm_file, "--json"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return res.returncode, json.loads(res.stdout)


def _prompts_posted(farm) -> int:
    total = 0
    for url in farm.sim.urls.values():
        log = httpx.get(url + "/sim/requests", timeout=5).json()
        total += sum(1 for e in log if e.get("event") == "execution_start")
    return total


def test_a_plan_no_gpu_can_run_is_refused_before_any_gpu_work(make_farm):
    farm = make_farm()
    # Every card says it has 24 GB: the simulator's hero workflow needs 28.
    small = _farm_file(farm, "small.yaml", workers={"gpu0": {"vram_gb": 24}})
    res = farm.cli("render", str(farm.shots), "--farm", small, "--json")
    assert res.returncode == 1
    line = [ln for ln in res.stderr.splitlines() if "no worker can take hero" in ln]
    assert line, res.stderr[-2000:]
    assert "(shots s01" in line[0] and "best gpu0 has 24 GB of VRAM" in line[0]
    assert "needs 28 GB" in line[0] and "vram_gb" in line[0]
    with farm.db() as db:
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
        assert db.execute("SELECT state FROM runs").fetchone()["state"] == "failed"
    assert _prompts_posted(farm) == 0
    # `status` says the same before anything is planned.
    code, status = _status(small)
    assert code == 1 and any("no worker can take hero" in ln for ln in status["impossible"])
    # And so does `render --dry-run`, which records and submits nothing.
    dry = farm.cli("render", str(farm.shots), "--farm", small, "--dry-run", "--json")
    assert dry.returncode == 1
    plan = json.loads(dry.stdout)
    assert not plan["ok"] and line[0].endswith(plan["impossible"][0])
    assert {k["kind"]: k["able"] for k in plan["kinds"]}["hero"] == []
    with farm.db() as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    # A hero workflow that declares a smaller need makes the same plan possible.
    light = _farm_file(
        farm,
        "light.yaml",
        workers={
            "gpu0": {"vram_gb": 24, "workflows": {"hero": {"template": "sim", "vram_gb": 20}}}
        },
    )
    code, status = _status(light)
    assert code == 0 and status["impossible"] == []


def test_the_hero_gpu_lost_the_film_goes_out_with_base_clips_then_resume_adds_them(make_farm):
    farm = make_farm()
    # The only GPU able to run heroes (gpu0, 32 GB) is gone for the whole run.
    lost = _farm_file(farm, "lost.yaml", urls={"gpu0": f"http://127.0.0.1:{_free_port()}"},
                      hero_wait_s=1.0)  # fmt: skip
    summary = result_json(farm.cli("render", str(farm.shots), "--farm", lost, "--json"))
    assert abs(probe(summary["final"]).duration_s - 8.0) <= 0.1
    data = _show(farm, summary["run_id"])
    assert data["state"] == "done"
    heroes = {t["shot_id"]: t for t in data["tasks"] if t["kind"] == "hero"}
    assert heroes and all(t["state"] == "skipped" for t in heroes.values())
    assert set(summary["heroes_missing"]) == set(heroes) == set(data["heroes_missing"])
    assert all("gpu0 down" in why for why in data["heroes_missing"].values())
    assert all(t["state"] == "done" for t in data["tasks"] if t["kind"] != "hero")
    report = (farm.workdir / summary["run_id"] / "report.html").read_text()
    assert "no hero pass" in report
    # No attempt counts against the missing hero passes: nothing was submitted for them.
    assert not [a for a in data["attempts"] if a["task_id"].endswith("/hero")]

    # gpu0 is back: `resume --heroes` renders them and assembles a new version.
    again = result_json(farm.cli("resume", summary["run_id"], "--heroes", "--farm",
                                 str(farm.file), "--json"))  # fmt: skip
    assert again["final"].endswith("final.v2.mp4") and again["heroes_missing"] == {}
    assert abs(probe(again["final"]).duration_s - 8.0) <= 0.1
    assert (farm.workdir / summary["run_id"] / "final.mp4").is_file()  # the first one is kept
    data = _show(farm, summary["run_id"])
    assert all(t["state"] == "done" for t in data["tasks"])
    assert {a["worker"] for a in data["attempts"] if a["task_id"].endswith("/hero")} == {"gpu0"}
    assert data["final_path"] == again["final"]


def test_out_of_memory_everywhere_shrinks_at_once_instead_of_waiting(make_farm):
    # gpu0 holds less than the hero model's weights: every hero runs out of memory there, and
    # no other card declares enough for a full-size hero. A 48 GB card that would take it is
    # down: the task must shrink now (and fit a 3090), not wait for that card to come back.
    farm = make_farm(faults={"gpu0": SimFaults(oom_above_gb=19)})
    data = yaml.safe_load(farm.file.read_text())
    data["workers"].append(
        {"id": "gpu6", "card": "RTX 6000 Ada", "vram_gb": 48, "roles": ["primary"],
         "url": f"http://127.0.0.1:{_free_port()}"}
    )  # fmt: skip
    data["dispatch"].update(no_worker_timeout_s=3600, hero_wait_s=3600)
    path = farm.tmp / "oom.yaml"
    path.write_text(yaml.safe_dump(data))
    summary = result_json(farm.cli("render", str(farm.shots), "--farm", str(path), "--json"))
    run = _show(farm, summary["run_id"])
    heroes = [t for t in run["tasks"] if t["kind"] == "hero"]
    assert heroes and all(t["state"] == "done" for t in heroes)
    assert summary["heroes_missing"] == {}
    ooms = [a for a in run["attempts"] if a["worker"] == "gpu0" and a["state"] == "failed"]
    assert ooms and all("OutOfMemory" in (a["error"] or "") for a in ooms)
    done_on = {a["worker"] for a in run["attempts"] if a["task_id"].endswith("/hero")
               and a["state"] == "done"}  # fmt: skip
    assert done_on <= {"gpu1", "gpu2"}
    with farm.db() as db:
        shrunk = db.execute("SELECT message FROM events WHERE kind='task_shrunk'").fetchall()
        params = [json.loads(r[0]) for r in db.execute("SELECT params_json FROM tasks "
                                                       "WHERE kind='hero'")]  # fmt: skip
    assert shrunk and all(p.get("scale") == pytest.approx(0.75) for p in params)
    assert abs(probe(summary["final"]).duration_s - 8.0) <= 0.1


def test_a_task_that_kills_its_servers_is_shrunk_not_passed_until_every_server_is_dead(
    make_farm,
):
    # Every server is killed (as by the kernel's OOM killer) by a full-size hero pass; 75 %
    # of it fits. One hero shot; every card may run heroes (a light declared need).
    farm = make_farm(faults={w: SimFaults(oom_kill_above_gb=20.3) for w in
                             ("gpu0", "gpu1", "gpu2", "gpu5")})  # fmt: skip
    shots = yaml.safe_load(farm.shots.read_text())
    for i, shot in enumerate(shots["shots"]):
        shot["hero"] = i == 0
    farm.shots.write_text(yaml.safe_dump(shots))
    light = {"workflows": {"hero": {"template": "sim", "vram_gb": 8}}}
    path = _farm_file(farm, "killer.yaml", workers=dict.fromkeys(farm.sim.urls, light),
                      hero_wait_s=3600)  # fmt: skip
    summary = result_json(farm.cli("render", str(farm.shots), "--farm", path, "--json"))
    assert summary["heroes_missing"] == {}
    assert abs(probe(summary["final"]).duration_s - 8.0) <= 0.1
    run = _show(farm, summary["run_id"])
    hero = [t for t in run["tasks"] if t["kind"] == "hero"]
    assert len(hero) == 1 and hero[0]["state"] == "done"
    with farm.db() as db:
        downs = [r[0] for r in db.execute("SELECT message FROM events WHERE kind='worker_down'")]
        shrunk = [r[0] for r in db.execute("SELECT message FROM events WHERE kind='task_shrunk'")]
    # Two servers died under it, then it was shrunk and finished on a third: not all four.
    assert len(downs) == 2 and all("went away while running it" in m for m in downs)
    assert len(shrunk) == 1 and "went down running it" in shrunk[0]
    alive = [p for p in farm.sim.processes.values() if p.poll() is None]
    assert len(alive) == 2
