"""Placement on the seed farm, in the discrete-event simulation the benchmark uses."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from videofactory.farm.simulate import simulate
from videofactory.vocabulary import TaskKind

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

BENCH = Path(__file__).resolve().parents[2] / "bench" / "schedule.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_schedule", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(bench, tasks, name):
    factory, slots = bench.POLICIES[name]
    return simulate(tasks, bench.GPUS, factory(), slots=slots, switch_cost_s=bench.SWITCH_S)


def test_five_minute_video_beats_every_baseline(bench):
    tasks = bench.workload(60, set(range(0, 60, 6)))
    ours = _run(bench, tasks, "ours").makespan
    for name in ("round_robin", "swarmui", "seed_roles", "one_gpu"):
        assert ours < _run(bench, tasks, name).makespan, name
    assert ours <= 1.10 * bench.lower_bound(tasks)
    assert _run(bench, tasks, "swarmui").makespan >= 1.15 * ours


def test_heroes_do_not_end_in_series_while_workers_idle(bench):
    # the trap of plain HEFT: clips fill the 5090 and the heroes queue behind them at the end
    tasks = bench.workload(60, set(range(0, 60, 6)))
    sched = _run(bench, tasks, "ours")
    heroes = [j for j in sched.jobs if j.kind is TaskKind.hero]
    assert {j.gpu for j in heroes} == {"gpu0"}
    last_clip_end = max(j.end for j in sched.jobs if j.kind is TaskKind.clip)
    tail = sum(j.end - j.start for j in heroes if j.start >= last_clip_end)
    assert tail <= 2 * 90  # at most a couple of hero passes after the last clip


def test_idle_primary_takes_clips(bench):
    tasks = bench.workload(60, set(range(0, 60, 6)))
    by_gpu = _run(bench, tasks, "ours").by_gpu()
    assert any(j.kind is TaskKind.clip for j in by_gpu["gpu0"])
    assert all(j.kind is not TaskKind.clip for j in by_gpu["gpu5"])  # 16 GB < 20 GB


def test_never_more_than_one_job_ahead(bench):
    # simulate() raises when a policy over-assigns a server; the 30 s video must run clean
    tasks = bench.workload(6, {0, 3})
    sched = _run(bench, tasks, "ours")
    assert len(sched.jobs) == len(tasks)
