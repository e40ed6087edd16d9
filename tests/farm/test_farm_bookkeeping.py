"""The records tell the truth after faults: why each attempt stopped, none left open, one
render per prompt across a resume, a cancel that came too late. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from videofactory.assembly.probe import probe
from videofactory.factory import FINISHED_ANYWAY
from videofactory.farm.outcome import INTERRUPTED
from videofactory.report.data import gather
from videofactory.sim.options import SimFaults
from videofactory.store import Store, bookkeeping_problems
from videofactory.vocabulary import GPU_KINDS

from .conftest import result_json

pytestmark = pytest.mark.slow


def _show(farm, run_id):
    res = farm.cli("show", run_id, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _check_records(farm, run_id, *, finished=True):
    """Nothing untrue in the run's records; in a finished run, one attempt per prompt the
    servers executed, and the renders the records count are the ones the servers made."""
    with Store(farm.workdir / "videofactory.db") as store:
        assert bookkeeping_problems(store, run_id) == []
        attempts = store.attempts(run_id)
        report = gather(store, run_id, now=time.time())
    assert not [a for a in attempts if a["error"] and "CancelledError" in a["error"]]
    if not finished:  # jobs it left on the servers when it failed go on rendering there
        return attempts, {}
    by_prompt = {a["prompt_id"]: a for a in attempts}
    executions = farm.executions()  # successful executions per prompt, servers' own logs
    for prompt_id, workers in executions.items():
        assert len(workers) == 1, f"prompt {prompt_id} ran twice"
        assert by_prompt[prompt_id]["state"] == "done", by_prompt[prompt_id]
    renders = [a for a in attempts if a["state"] == "done"]
    assert len(renders) == len(executions)
    # the report: one bar per attempt, the finished ones are the renders
    gpu_bars = [b for b in report.bars if b.kind in GPU_KINDS]
    assert len(gpu_bars) == len(attempts)
    assert sum(t.count for t in report.timings if t.kind in GPU_KINDS) == len(executions)
    return attempts, executions


def _history(farm, worker, prompt_id):
    return httpx.get(f"{farm.sim.urls[worker]}/history/{prompt_id}", timeout=5).json()


def test_a_run_failing_with_jobs_in_flight_ends_them_saying_why(make_farm):
    # gpu0, the fastest, fails its first render half-way; with one attempt allowed the run
    # fails while the slower GPUs still render theirs.
    farm = make_farm(faults={"gpu0": SimFaults(fail_rate=1.0)}, time_scale=4.0, max_attempts=1)
    res = farm.render()
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    with farm.db() as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()["id"]
    shown = _show(farm, run_id)
    assert shown["state"] == "failed" and shown["live"]["driver_pid"] is None
    attempts, _ = _check_records(farm, run_id, finished=False)
    failed = [a for a in attempts if a["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["worker"] == "gpu0"
    stopped = [a for a in attempts if a["state"] == "cancelled"]
    assert stopped, attempts
    kind, shot = failed[0]["task_id"].split("/")[-1], failed[0]["task_id"].split("/")[-2]
    for a in stopped:
        assert a["error"].startswith(f"run failed: {kind} {shot}: gave up after 1 attempts"), a
        assert a["finished_at"] is not None


def test_a_worker_taken_out_ends_the_attempts_queued_on_it_saying_why(make_farm):
    # gpu1 hangs on its first job (a clip): the watchdog takes it out of rotation, and the
    # job queued behind the hung one is stopped and rendered elsewhere. (Keyframes take a
    # third of a second here: the next clip is queued behind the hung one long before the
    # deadline, at least the farm file's floor of 3 s, runs out.)
    farm = make_farm(faults={"gpu1": SimFaults(hang_after=0)}, time_scale=0.5)
    summary = result_json(farm.render())
    attempts, _ = _check_records(farm, summary["run_id"])
    on_gpu1 = [a for a in attempts if a["worker"] == "gpu1"]
    hung = [a for a in on_gpu1 if a["state"] == "failed"]
    assert len(hung) == 1 and hung[0]["error"].startswith("gpu1 hung: "), on_gpu1
    stopped = [a for a in on_gpu1 if a["state"] == "cancelled"]
    assert stopped, on_gpu1
    for a in stopped:
        assert a["error"].startswith("worker gpu1 went down: gpu1 hung: "), a
        # it was rendered elsewhere, once
        done = [b for b in attempts if b["task_id"] == a["task_id"] and b["state"] == "done"]
        assert len(done) == 1 and done[0]["worker"] != "gpu1"


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_job_found_again_after_a_restart_is_one_attempt_and_one_render(make_farm, how):
    # A clip takes 3 to 5 s here: it still runs when the signal comes, a moment after
    # the records say it started.
    farm = make_farm(time_scale=1.0, duration=4.0)
    proc = farm.render(wait=False)
    row = farm.wait_for(
        "SELECT id, prompt_id, worker FROM tasks WHERE kind='clip' AND state='running'"
    )
    tid, prompt_id = row["id"], row["prompt_id"]
    proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, out[-2000:]
    with farm.db() as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()["id"]
        (was,) = db.execute("SELECT * FROM attempts WHERE prompt_id=?", (prompt_id,))
        still_open = db.execute(
            "SELECT id FROM attempts WHERE state IN ('submitting','submitted','running')"
        ).fetchall()
    if how == "SIGTERM":  # it had the time to say why its jobs stopped
        assert (was["state"], was["error"]) == ("cancelled", INTERRUPTED)
        assert not still_open
    else:  # killed on the spot: it wrote nothing more
        assert was["state"] == "running"
    summary = result_json(farm.cli("resume", run_id, "--json"))
    assert abs(probe(summary["final"]).duration_s - farm.duration) <= 0.1
    attempts, executions = _check_records(farm, run_id)
    mine = [a for a in attempts if a["prompt_id"] == prompt_id]
    assert len(mine) == 1 and mine[0]["id"] == was["id"]
    assert (mine[0]["state"], mine[0]["error"]) == ("done", None)
    assert len(executions[prompt_id]) == 1
    shown = _show(farm, run_id)
    (task,) = [t for t in shown["tasks"] if t["id"] == tid]
    assert task["state"] == "done" and task["attempts"] == 1
    with farm.db() as db:
        events = db.execute("SELECT kind FROM events WHERE task_id=?", (tid,)).fetchall()
    found = [e["kind"] for e in events if e["kind"] in ("task_adopted", "task_recovered")]
    assert len(found) == 1, found


def test_cancel_of_a_job_that_finished_anyway_records_it_and_resume_collects_it(make_farm):
    # the clip still runs when its orchestrator is killed
    farm = make_farm(time_scale=1.0, duration=4.0)
    proc = farm.render(wait=False)
    row = farm.wait_for(
        "SELECT id, prompt_id, worker FROM tasks WHERE kind='clip' AND state='running'"
    )
    tid, prompt_id, worker = row["id"], row["prompt_id"], row["worker"]
    os.kill(proc.pid, signal.SIGKILL)  # nobody collects it now
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 120
    while prompt_id not in _history(farm, worker, prompt_id):
        assert time.monotonic() < deadline, "the clip never finished on its server"
        time.sleep(0.2)
    with farm.db() as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()["id"]
    res = farm.cli("cancel", run_id, "--json")
    assert res.returncode == 0, res.stderr
    jobs = {j["task"]: j for j in json.loads(res.stdout)["jobs"]}
    assert jobs[tid]["outcome"] == FINISHED_ANYWAY
    shown = _show(farm, run_id)
    assert shown["state"] == "cancelled"
    (task,) = [t for t in shown["tasks"] if t["id"] == tid]
    assert task["state"] == "cancelled" and FINISHED_ANYWAY in task["error"]
    (attempt,) = [a for a in shown["attempts"] if a["prompt_id"] == prompt_id]
    assert attempt["state"] == "done"
    assert not [a for a in shown["attempts"] if a["state"] in ("submitting", "submitted",
                                                               "running")]  # fmt: skip
    cancelled = [a for a in shown["attempts"] if a["state"] == "cancelled"]
    assert all(a["error"] == "run cancelled" for a in cancelled), cancelled
    # resume collects it from the server: not rendered again
    summary = result_json(farm.cli("resume", run_id, "--json"))
    assert abs(probe(summary["final"]).duration_s - farm.duration) <= 0.1
    attempts, executions = _check_records(farm, run_id)
    assert len(executions[prompt_id]) == 1
    assert [a["prompt_id"] for a in attempts if a["task_id"] == tid] == [prompt_id]
    with farm.db() as db:
        events = db.execute("SELECT kind FROM events WHERE task_id=?", (tid,)).fetchall()
    assert "task_recovered" in [e["kind"] for e in events]
