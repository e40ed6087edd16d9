"""Placement: roles, VRAM, fewest-eligible first, one job ahead per server."""

from __future__ import annotations

import pytest

from videofactory.config import builtin_farm
from videofactory.farm.dag import build_tasks, upward_ranks
from videofactory.farm.scheduler import TaskView, WorkerView, decide
from videofactory.planning import plan_rules
from videofactory.vocabulary import Role, TaskKind

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


def _workers(**over):
    views = []
    for w in builtin_farm().workers:
        views.append(
            WorkerView(
                id=w.id,
                roles=tuple(w.roles),
                vram_gb=w.vram_gb,
                speed={k: w.speed for k in TaskKind},
                **over.get(w.id, {}),
            )
        )
    return views


def _views(kind, n, cost=6.0, vram=12.0):
    return [TaskView(f"{kind.value}{i}", kind, cost, vram, rank=100 - i) for i in range(n)]


def test_keyframes_go_to_the_control_gpu_first():
    out = decide(_views(TaskKind.keyframe, 1), _workers(), 0.0)
    assert [a.worker_id for a in out] == ["gpu5"]


def test_at_most_one_job_ahead_per_server():
    out = decide(_views(TaskKind.keyframe, 6), _workers(), 0.0)
    per = {}
    for a in out:
        per[a.worker_id] = per.get(a.worker_id, 0) + 1
    assert max(per.values()) <= 2


def test_hero_only_on_the_32gb_card():
    heroes = _views(TaskKind.hero, 2, cost=60, vram=28)
    out = decide(heroes, _workers(), 0.0)
    assert {a.worker_id for a in out} == {"gpu0"} and len(out) == 2


def test_clips_spread_over_workers_not_the_16gb_card():
    out = decide(_views(TaskKind.clip, 8, cost=90, vram=20), _workers(), 0.0)
    used = {a.worker_id for a in out}
    assert "gpu5" not in used and {"gpu1", "gpu2", "gpu3", "gpu4"} <= used


def test_down_or_refusing_workers_get_nothing():
    workers = _workers(gpu5={"up": False}, gpu0={"refused": frozenset({TaskKind.keyframe})})
    out = decide(_views(TaskKind.keyframe, 2), workers, 0.0)
    assert out and all(a.worker_id not in ("gpu5", "gpu0") for a in out)


def test_fewest_eligible_first():
    # the hero (only gpu0 can take it) is placed before the clip (gpu0 or gpu1), even though the
    # clip ranks higher, so the clip does not take gpu0's only slot
    ready = [
        TaskView("clip0", TaskKind.clip, 90, 20, rank=500),
        TaskView("hero0", TaskKind.hero, 60, 28, rank=60),
    ]
    workers = [
        WorkerView(
            id="gpu0",
            roles=(Role.primary, Role.worker),
            vram_gb=32,
            speed={k: 1.0 for k in TaskKind},
            free_slots=1,
        ),
        WorkerView(
            id="gpu1",
            roles=(Role.worker,),
            vram_gb=24,
            speed={k: 0.55 for k in TaskKind},
            free_slots=1,
        ),
    ]
    out = decide(ready, workers, 0.0)
    assert [(a.task_id, a.worker_id) for a in out] == [("hero0", "gpu0"), ("clip0", "gpu1")]


def test_waits_for_its_role_gpu_rather_than_another():
    # gpu5 (control) is full; keyframes wait for it instead of taking the clip GPUs' slots
    workers = _workers(gpu5={"free_slots": 0, "busy_until": 5.0})
    assert decide(_views(TaskKind.keyframe, 3), workers, 0.0) == []


def test_other_gpus_step_in_when_no_role_holder_can():
    workers = _workers(gpu5={"up": False})
    out = decide(_views(TaskKind.keyframe, 2), workers, 0.0)
    assert len(out) == 2 and "gpu5" not in {a.worker_id for a in out}
    assert decide(_views(TaskKind.keyframe, 2), workers, 0.0, strict=True) == []


def test_strict_roles():
    out = decide(_views(TaskKind.keyframe, 6), _workers(), 0.0, strict=True)
    assert {a.worker_id for a in out} == {"gpu5"}


def test_dag_and_ranks():
    sl = plan_rules("warrior in mystical forest", 30)
    tasks = build_tasks("r", sl)
    kinds = [t.kind for t in tasks]
    assert kinds.count(TaskKind.keyframe) == 6 and kinds.count(TaskKind.hero) == 2
    assert kinds[-1] is TaskKind.assemble
    ranks = upward_ranks(tasks)
    assert ranks["r/s01/keyframe"] > ranks["r/s01/clip"] > ranks["r/s01/hero"] > ranks["r/assemble"]
