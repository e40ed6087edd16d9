"""Failures with real processes: dead workers, a killed orchestrator, out of memory, a hang."""

from __future__ import annotations

import json
import os
import signal

import pytest
from subprocs import slow_ffmpeg_on_path, wait_for_render

from videofactory.assembly.ffmpeg import find_ffmpeg
from videofactory.assembly.outputs import stale_partials
from videofactory.assembly.probe import probe
from videofactory.detach import pid_alive
from videofactory.sim.options import SimFaults

from .conftest import result_json

pytestmark = pytest.mark.slow


def _show(farm, run_id):
    res = farm.cli("show", run_id, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _events(farm, run_id, kind):
    with farm.db() as db:
        rows = db.execute(
            "SELECT message FROM events WHERE run_id=? AND kind=?", (run_id, kind)
        ).fetchall()
    return [r["message"] for r in rows]


def test_worker_killed_mid_task_run_completes_on_the_others(make_farm):
    farm = make_farm(time_scale=1.0)
    proc = farm.render(wait=False)
    row = farm.wait_for(
        "SELECT worker FROM tasks WHERE kind='clip' AND state='running' "
        "AND worker IN ('gpu1','gpu2')"
    )
    victim = row["worker"]
    farm.sim.processes[victim].send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out[-2000:] + err[-4000:]
    summary = json.loads(out.strip().splitlines()[-1])
    info = probe(summary["final"])
    assert abs(info.duration_s - 8.0) <= 0.1
    data = _show(farm, summary["run_id"])
    assert all(t["state"] == "done" for t in data["tasks"])
    assert any(victim in m for m in _events(farm, summary["run_id"], "worker_down"))
    failed = [a for a in data["attempts"] if a["worker"] == victim and a["state"] == "failed"]
    assert failed, "the killed worker's job was not rerouted"
    redone = {a["task_id"] for a in failed}
    for tid in redone:
        winners = [a for a in data["attempts"] if a["task_id"] == tid and a["state"] == "done"]
        assert len(winners) == 1 and winners[0]["worker"] != victim


def test_orchestrator_killed_then_resume_renders_nothing_twice(make_farm):
    farm = make_farm(time_scale=1.5)
    proc = farm.render(wait=False)
    farm.wait_for("SELECT id FROM tasks WHERE kind='clip' AND state='done'")
    farm.wait_for("SELECT id FROM tasks WHERE state IN ('submitted','running')")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    with farm.db() as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()["id"]
        before = {r["id"]: r["state"] for r in db.execute("SELECT id, state FROM tasks")}
    assert "done" in before.values() and set(before.values()) - {"done"}
    summary = result_json(farm.cli("resume", run_id, "--json"))
    assert summary["run_id"] == run_id
    assert abs(probe(summary["final"]).duration_s - 8.0) <= 0.1
    # No task rendered twice: map every successful execution (simulators' own logs) to its task.
    with farm.db() as db:
        task_of = {
            r["prompt_id"]: r["task_id"]
            for r in db.execute("SELECT prompt_id, task_id FROM attempts")
        }
    executions = farm.executions()
    per_task: dict[str, int] = {}
    for prompt_id, workers in executions.items():
        assert len(workers) == 1, f"prompt {prompt_id} ran twice"
        tid = task_of[prompt_id]
        per_task[tid] = per_task.get(tid, 0) + 1
    assert per_task and max(per_task.values()) == 1, per_task
    data = _show(farm, run_id)
    gpu_tasks = [t for t in data["tasks"] if t["kind"] in ("look", "keyframe", "clip", "hero")]
    assert len(per_task) == len(gpu_tasks)
    recovered = _events(farm, run_id, "task_recovered") + _events(farm, run_id, "task_adopted")
    assert recovered, "resume found no job on the servers"


def test_out_of_memory_on_the_16gb_worker_moves_the_task(make_farm):
    farm = make_farm(faults={"gpu5": SimFaults(oom_above_gb=8)})
    summary = result_json(farm.render())
    data = _show(farm, summary["run_id"])
    stills = [t for t in data["tasks"] if t["kind"] in ("look", "keyframe")]
    assert all(t["state"] == "done" and t["worker"] != "gpu5" for t in stills)
    oom = [a for a in data["attempts"] if a["worker"] == "gpu5" and a["state"] == "failed"]
    assert oom and all("OutOfMemory" in (a["error"] or "") for a in oom)
    # gpu5 is spared each kind of still (the look's text-to-image, the keyframes' edit model)
    # after its first out of memory on it (it held at most two at once)
    kind_of = {t["id"]: t["kind"] for t in data["tasks"]}
    for kind in ("look", "keyframe"):
        mine = [a for a in data["attempts"] if a["worker"] == "gpu5"
                and kind_of[a["task_id"]] == kind]  # fmt: skip
        first = min(a["finished_at"] for a in mine if a["state"] == "failed")
        assert all(a["created_at"] <= first for a in mine), kind
    assert any("more_vram" in m for m in _events(farm, summary["run_id"], "task_failed"))


def test_hang_trips_the_deadline(make_farm):
    # gpu5's second keyframe hangs: by then its first has shown how fast keyframes really go
    # (a simulator at full speed), so the deadline is the farm file's floor, not the seconds
    # the farm file's speeds predict.
    farm = make_farm(faults={"gpu5": SimFaults(hang_after=1)})
    summary = result_json(farm.render())
    run_id = summary["run_id"]
    downs = _events(farm, run_id, "worker_down")
    assert any("gpu5" in m and "hung" in m for m in downs), downs
    data = _show(farm, run_id)
    assert all(t["state"] == "done" for t in data["tasks"])
    assert any(a["worker"] == "gpu5" and a["state"] == "failed" for a in data["attempts"])


@pytest.mark.parametrize("stop", ["cancel", "sigterm"])
def test_stopped_during_assembly_stops_ffmpeg_and_leaves_no_final(
    make_farm, tmp_path, monkeypatch, stop
):
    # `videofactory cancel RUN`, or SIGTERM to the process (kill, timeout, systemd, docker
    # stop) as on Ctrl-C, while ffmpeg renders the final video.
    marker = slow_ffmpeg_on_path(tmp_path / "bin", find_ffmpeg().path, monkeypatch)
    farm = make_farm()
    proc = farm.render(wait=False)
    ffmpeg_pid = wait_for_render(marker, proc)
    with farm.db() as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()["id"]
    if stop == "cancel":
        cancelled = farm.cli("cancel", run_id)
        assert cancelled.returncode == 0
        assert "assemble on ffmpeg: stops with the run's process" in cancelled.stdout
    else:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, out[-2000:]
    run_dir = farm.workdir / run_id
    # The 8 s render was stopped, not waited for: no final video, nothing half-written.
    assert not (run_dir / "final.mp4").exists(), "the render went on after the stop"
    assert stale_partials(run_dir / "final.mp4") == []
    assert not pid_alive(ffmpeg_pid)
    shown = _show(farm, run_id)
    if stop == "cancel":
        assert shown["state"] == "cancelled"
    else:  # as Ctrl-C: said so, marked, the report written, and resume goes on
        assert f"videofactory resume {run_id}" in err, err[-2000:]
        assert shown["state"] == "failed" and "SIGTERM" in shown["error"]
        assert (run_dir / "report.html").is_file()
        monkeypatch.undo()  # the real ffmpeg again
        summary = result_json(farm.cli("resume", run_id, "--json"))
        assert abs(probe(summary["final"]).duration_s - 8.0) <= 0.1
