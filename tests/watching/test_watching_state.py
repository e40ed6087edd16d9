"""The pure state of a watched run: lanes, progress, retries, ETA; run status words."""

from __future__ import annotations

import pytest

from videofactory.events import Event
from videofactory.watching.state import LaneState, RunWatch, TaskInfo, estimate_remaining_s

FARM = {
    "workers": [
        {"id": "gpu0", "card": "RTX 5090", "vram_gb": 32, "roles": ["primary"], "speed": 1.0},
        {"id": "gpu1", "card": "RTX 3090", "vram_gb": 24, "roles": ["worker"], "speed": 0.5},
        {"id": "gpu5", "card": "RTX 4080 Super", "vram_gb": 16, "roles": ["control"], "speed": 0.7},
    ]
}


def _tasks(shots: int = 2) -> list[TaskInfo]:
    out = []
    for i in range(1, shots + 1):
        s = f"s{i:02d}"
        out += [
            TaskInfo(f"r/{s}/keyframe", "keyframe", s, (), 6.0, 12.0),
            TaskInfo(f"r/{s}/clip", "clip", s, (f"r/{s}/keyframe",), 90.0, 20.0),
            TaskInfo(f"r/{s}/speech", "speech", s, (), 3.0, 0.0),
        ]
    finals = tuple(t.id for t in out if t.kind in ("clip", "speech"))
    return [*out, TaskInfo("r/assemble", "assemble", None, finals, 10.0, 0.0)]


def ev(kind, ts, task=None, worker=None, **kw) -> Event:
    return Event(kind=kind, run_id="r", task_id=task, worker=worker, ts=ts, **kw)


def watched() -> RunWatch:
    w = RunWatch()
    w.load(FARM, _tasks())
    w.apply(ev("run_started", 100.0, data={"tasks": 7}))
    return w


def test_lanes_follow_a_job_from_queue_to_done():
    w = watched()
    assert [lane.id for lane in w.ordered_lanes()] == ["gpu0", "gpu1", "gpu5"]
    assert w.lanes["gpu5"].card == "RTX 4080 Super" and w.lanes["gpu5"].roles == ("control",)
    w.apply(ev("task_submitted", 100.1, "r/s01/keyframe", "gpu5"))
    w.apply(ev("task_submitted", 100.2, "r/s02/keyframe", "gpu5"))
    lane = w.lanes["gpu5"]
    assert lane.running is None and lane.queued == ["r/s01/keyframe", "r/s02/keyframe"]
    w.apply(ev("task_started", 100.3, "r/s01/keyframe", "gpu5"))
    w.apply(ev("task_progress", 100.4, "r/s01/keyframe", "gpu5", value=5.0, max=20.0))
    assert lane.running == "r/s01/keyframe" and lane.queued == ["r/s02/keyframe"]
    assert lane.fraction == pytest.approx(0.25)
    w.apply(ev("task_done", 101.3, "r/s01/keyframe", "gpu5"))
    assert lane.running is None and lane.done == 1 and w.done == {"r/s01/keyframe"}
    # a progress message without a start message still shows the job running
    w.apply(ev("task_progress", 101.5, "r/s02/keyframe", "gpu5", value=1.0, max=2.0))
    assert lane.running == "r/s02/keyframe" and lane.fraction == 0.5


def test_a_task_reused_from_the_cache_counts_as_done_on_no_lane():
    w = watched()
    w.apply(ev("task_reused", 100.1, "r/s01/keyframe", data={"key": "k" * 64}))
    w.apply(ev("task_reused", 100.1, "r/s01/clip"))
    assert w.done == {"r/s01/keyframe", "r/s01/clip"}
    assert all(lane.done == 0 and lane.running is None for lane in w.lanes.values())
    assert w.time_factor == 1.0  # no render measured: the pace is the schedule's


def test_retries_and_outages_show_on_their_lane():
    w = watched()
    w.apply(ev("task_started", 101.0, "r/s01/clip", "gpu1"))
    w.apply(ev("task_failed", 102.0, "r/s01/clip", "gpu1", message="clip s01 on gpu1: OOM"))
    assert w.retries == 1 and w.lanes["gpu1"].failed == 1 and w.lanes["gpu1"].running is None
    w.apply(ev("task_submitted", 102.5, "r/s01/clip", "gpu0"))
    w.apply(ev("worker_down", 103.0, worker="gpu0", message="gpu0: cannot reach ComfyUI"))
    assert not w.lanes["gpu0"].up and w.lanes["gpu0"].reason == "cannot reach ComfyUI"
    assert w.lanes["gpu0"].queued == []  # its jobs go elsewhere
    w.apply(ev("worker_up", 104.0, worker="gpu0", message="gpu0 answers again"))
    assert w.lanes["gpu0"].up
    w.apply(ev("run_failed", 105.0, message="no"))
    assert w.ended == "run_failed" and w.eta_s(106.0) is None
    assert w.elapsed_s(500.0) == pytest.approx(5.0)  # frozen at the end


def test_eta_follows_the_schedule_then_the_measured_pace():
    w = watched()
    first = w.eta_s(100.0)
    # every GPU task of two shots, placed on this farm: keyframes then clips, plus assembly
    assert first is not None and 10.0 + 90.0 / 1.0 < first < 10.0 + 2 * (6 / 0.7 + 90 / 0.5)
    # the farm turns out ten times faster than its estimates: the ETA follows
    w.apply(ev("task_started", 100.0, "r/s01/keyframe", "gpu5"))
    w.apply(ev("task_done", 100.0 + 6.0 / 0.7 / 10, "r/s01/keyframe", "gpu5"))
    assert w.time_factor == pytest.approx(0.1)
    after = w.eta_s(101.0)
    assert after is not None and after < first / 4
    # between recomputations it counts down
    assert w.eta_s(102.0) == pytest.approx(after - 1.0, abs=1e-6)


def test_eta_of_a_long_film_is_a_throughput_bound_and_none_when_nothing_can_run():
    tasks = [TaskInfo(f"c{i}", "clip", None, (), 10.0, 20.0) for i in range(1000)]
    gpus = [LaneState("a", speed=1.0, vram_gb=24), LaneState("b", speed=1.0, vram_gb=24)]
    assert estimate_remaining_s(tasks, gpus, {}, 1.0) == pytest.approx(5000.0)
    big = [TaskInfo("h", "hero", None, (), 60.0, 28.0)]
    assert estimate_remaining_s(big, gpus, {}, 1.0) is None  # no 28 GB card left
    assert estimate_remaining_s(big, [], {}, 1.0) is None
    half = estimate_remaining_s(big[:1], [LaneState("c", vram_gb=32)], {"h": 0.5}, 1.0)
    assert half == pytest.approx(30.0)


def test_events_of_unknown_workers_make_lanes():
    w = RunWatch()
    w.apply(ev("run_started", 1.0, data={"tasks": 3}))
    w.apply(ev("task_started", 2.0, "r/s01/speech", "speech"))
    w.apply(ev("task_started", 2.0, "r/assemble", "ffmpeg"))
    assert w.total == 3 and [lane.id for lane in w.ordered_lanes()] == ["speech", "ffmpeg"]
    assert not w.lanes["speech"].gpu and w.eta_s(3.0) is None  # no task list: no ETA
