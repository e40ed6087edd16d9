"""Two runs on one farm: no server ever holds more than one waiting job.

In process: two "runs" (threads with event loops and clients of their own, each keeping two
jobs in flight like a dispatcher) post to one real simulated server, with and without
``submit_slot``, while a third thread samples the server's /queue. Then end to end: two real
detached runs on one simulated farm, judged from the simulators' /sim/requests and /queue.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from runkit import write_farm, write_shots
from subprocs import run_cli

from videofactory.comfy.client import ComfyClient
from videofactory.farm.sharing import lock_path, pending_jobs, submit_slot
from videofactory.sim.farm import SimFarm, SimWorkerSpec
from videofactory.sim.options import SimHooks, SimOptions
from videofactory.sim.thread import ServerThread

JOBS_PER_RUN = 4


class Slow(SimHooks):
    """Every picture takes a quarter of a second (in the render thread)."""

    def before_node(self, prompt_id: str, node_id: str, class_type: str) -> None:
        if class_type == "EmptyImage":
            time.sleep(0.25)


def _job(colour: int) -> dict:
    return {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": colour}},
        "2": {"class_type": "SaveImage",
              "inputs": {"images": ["1", 0], "filename_prefix": "share/img"}},
    }  # fmt: skip


async def _run(url: str, first_colour: int, share: bool, locks: Path) -> None:
    """Post JOBS_PER_RUN jobs, at most two of ours in flight (one running, one waiting)."""
    async with ComfyClient(url) as client:
        flying: set[asyncio.Task] = set()
        for i in range(JOBS_PER_RUN):
            while len(flying) >= 2:
                _done, flying = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
            if share:
                async with submit_slot(client, lock_folder=locks):
                    pid = await client.submit(_job(first_colour + i))
            else:
                pid = await client.submit(_job(first_colour + i))
            flying.add(asyncio.ensure_future(client.wait(pid, timeout=60)))
        await asyncio.gather(*flying)


def _two_runs(url: str, share: bool, locks: Path) -> list[int]:
    """Run two runs at once; return the pending counts the sampler saw."""
    seen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                seen.append(pending_jobs(http.get(url + "/queue").json()))
                time.sleep(0.01)

    errors: list[BaseException] = []

    def run(colour: int) -> None:
        try:
            asyncio.run(_run(url, colour, share, locks))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    sampler = threading.Thread(target=sample)
    runs = [threading.Thread(target=run, args=(c,)) for c in (1000, 2000)]
    sampler.start()
    for t in runs:
        t.start()
    for t in runs:
        t.join(120)
    stop.set()
    sampler.join(10)
    assert not errors, errors
    return seen


def test_submit_slot_keeps_one_waiting_job_per_server(tmp_path):
    options = SimOptions(base_directory=tmp_path / "sim", port=0, hooks=Slow())
    with ServerThread(options) as sim:
        unshared = _two_runs(sim.url, False, tmp_path / "locks")
        shared = _two_runs(sim.url, True, tmp_path / "locks")
        log = httpx.get(sim.url + "/sim/requests", timeout=5).json()
    # the control: two runs that count only their own jobs do stack up two waiting jobs
    assert max(unshared) >= 2
    assert max(shared) <= 1 and len(shared) > 20
    done = [e for e in log if e["event"] == "execution_end" and e["status"] == "success"]
    assert len(done) == 4 * JOBS_PER_RUN


def test_lock_files_are_per_server():
    a = lock_path("http://localhost:8188/")
    assert a == lock_path("http://127.0.0.1:8188") and a != lock_path("http://127.0.0.1:8189")
    assert lock_path("gpu-box:8188") == lock_path("http://gpu-box:8188/api")


def test_a_full_queue_of_another_run_times_out_into_a_retry(tmp_path):
    from videofactory.errors import BackendTimeout

    class Full:
        url = "http://127.0.0.1:1"

        async def queue(self):
            return {"queue_running": [[0, "x"]], "queue_pending": [[1, "y"]]}

    async def go():
        async with submit_slot(Full(), max_wait_s=0.3, lock_folder=tmp_path):
            pass

    with pytest.raises(BackendTimeout, match="waiting for 0.3 s"):
        asyncio.run(go())


def test_posts_of_one_run_to_one_server_queue_without_polling(tmp_path, monkeypatch):
    """Two jobs of one run for one server: the second takes the slot the moment the first is
    posted (an in-process lock), not after a poll of the file lock it would find taken."""
    from videofactory.farm import sharing

    monkeypatch.setattr(sharing, "POLL_S", 3600.0)  # a poll would hang the test
    order: list[str] = []

    class Empty:
        url = "http://127.0.0.1:1"

        async def queue(self):
            await asyncio.sleep(0)  # let the other post try to enter meanwhile
            return {"queue_running": [], "queue_pending": []}

    async def post(name: str) -> None:
        async with submit_slot(Empty(), lock_folder=tmp_path):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    async def go():
        await asyncio.wait_for(asyncio.gather(post("a"), post("b")), timeout=60)

    asyncio.run(go())
    assert order == ["a in", "a out", "b in", "b out"]


# -- end to end: two real runs, one farm ------------------------------------------------------

CARDS = {
    "gpu0": ("RTX 5090", 32, ["primary"], 1.0),
    "gpu1": ("RTX 3090", 24, ["worker"], 0.55),
    "gpu5": ("RTX 4080 Super", 16, ["control"], 0.7),
}


def _pending_over_time(log: list[dict]) -> int:
    """The most jobs that waited at once, replayed from a simulator's request log."""
    accepted = {
        e["prompt_id"]
        for e in log
        if e["event"] == "request" and e["path"].endswith("/prompt") and e["status"] == 200
    }
    waiting, most = set(), 0
    for e in log:
        if e["event"] == "request" and e["prompt_id"] in accepted and e["method"] == "POST":
            waiting.add(e["prompt_id"])
        elif e["event"] == "execution_start":
            waiting.discard(e["prompt_id"])
        elif e["event"] == "request" and e["path"].endswith("/queue") and e["method"] == "POST":
            waiting.clear()  # a delete: nothing of ours is ever deleted in this test
        most = max(most, len(waiting))
    return most


@pytest.mark.slow
def test_two_detached_runs_share_one_farm(tmp_path):
    specs = [
        SimWorkerSpec(name=w, card=c, vram_gb=v, gpu_speed=s, time_scale=1.5)
        for w, (c, v, _r, s) in CARDS.items()
    ]
    with SimFarm(specs, tmp_path / "sim") as farm:
        farm_file = write_farm(tmp_path / "factory.yaml", farm.urls, CARDS)
        shots = write_shots(tmp_path / "shots.yaml", duration=8.0)
        seen: dict[str, list[int]] = {w: [] for w in farm.urls}
        stop = threading.Event()

        def sample() -> None:
            with httpx.Client(timeout=5) as http:
                while not stop.is_set():
                    for wid, url in farm.urls.items():
                        seen[wid].append(pending_jobs(http.get(url + "/queue").json()))
                    time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            ids = []
            for _ in range(2):
                res = run_cli(["render", str(shots), "--farm", str(farm_file), "--detach",
                               "--json", "--workdir", "w"], cwd=tmp_path)  # fmt: skip
                assert res.returncode == 0, res.stderr
                ids.append(json.loads(res.stdout)["run_id"])
            for run_id in ids:
                res = run_cli(["wait", run_id, "--quiet", "--json", "--workdir", "w"],
                              cwd=tmp_path, timeout=300)  # fmt: skip
                assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
                assert json.loads(res.stdout)["state"] == "done"
        finally:
            stop.set()
            sampler.join(10)
        logs = {w: httpx.get(u + "/sim/requests", timeout=5).json() for w, u in farm.urls.items()}
    for wid in farm.urls:
        assert max(seen[wid]) <= 1, (wid, max(seen[wid]))
        assert _pending_over_time(logs[wid]) <= 1, wid
    # both runs really were on the farm at the same time
    with sqlite3.connect(tmp_path / "w" / "videofactory.db") as db:
        spans = db.execute(
            "SELECT run_id, MIN(created_at), MAX(finished_at) FROM attempts GROUP BY run_id"
        ).fetchall()
    (_, a0, a1), (_, b0, b1) = spans
    assert a0 < b1 and b0 < a1
