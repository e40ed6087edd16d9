"""The task board: incremental blocked/ready/running/done bookkeeping."""

from __future__ import annotations

import pytest

from videofactory.farm.board import TaskBoard
from videofactory.farm.dag import build_tasks, upward_ranks
from videofactory.planning import plan_rules
from videofactory.vocabulary import TaskKind

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


def _hero_lengths() -> list[float]:
    return [s.duration for s in plan_rules("warrior in mystical forest", 30).shots if s.hero]


def _board():
    # Plain cuts: each clip waits for its own keyframe only (a clip that flows into the next
    # shot also waits for that keyframe: tests/farm/test_farm_flow_core.py).
    plan = plan_rules("warrior in mystical forest", 30)
    cuts = [s.model_copy(update={"continuity": "cut"}) for s in plan.shots]
    plan = plan.model_copy(update={"shots": cuts})
    tasks = {t.id: t for t in build_tasks("r", plan)}
    return tasks, TaskBoard(tasks, upward_ranks(tasks.values()))


def test_starts_with_the_look_and_speech_ready():
    tasks, board = _board()
    ready = {t.kind for t in board.ready_gpu()}
    assert ready == {TaskKind.look}  # the keyframes are edits of it: they wait
    assert {t.kind for t in board.ready_local()} == {TaskKind.speech}
    pending = {v.kind: v.cost_s for v in board.pending_views()}
    # costs scale with each shot's length (90 s of GPU per 5-second clip, 60 per hero pass)
    heroes = sum(t.cost_s for t in tasks.values() if t.kind is TaskKind.hero)
    assert pending[TaskKind.clip] == pytest.approx(30 / 5 * 90)
    assert pending[TaskKind.hero] == pytest.approx(heroes)
    assert len([t for t in tasks.values() if t.kind is TaskKind.hero]) == 2
    assert heroes == pytest.approx(60 / 5 * sum(_hero_lengths()))


def test_finishing_unblocks_only_dependents():
    tasks, board = _board()
    board.start("r/s01/keyframe")
    assert not board.is_ready("r/s01/keyframe")
    newly = board.finish("r/s01/keyframe")
    assert newly == ["r/s01/clip"] and board.is_ready("r/s01/clip")
    assert not board.is_ready("r/s02/clip")
    pending = {v.kind: v.cost_s for v in board.pending_views()}
    assert pending[TaskKind.clip] == pytest.approx(30 / 5 * 90 - tasks["r/s01/clip"].cost_s)


def test_head_per_kind_skips_retries_not_due():
    tasks, board = _board()
    head = board.ready_gpu_head(2, {"r/s01/keyframe": 10.0}, now=5.0)
    assert len(head) == 2 and "r/s01/keyframe" not in {t.id for t in head}


def test_retry_and_undo():
    tasks, board = _board()
    for tid in ("r/s01/keyframe", "r/s01/clip"):
        board.start(tid)
        board.finish(tid)
    assert board.is_ready("r/s01/hero")
    board.undo("r/s01/clip")
    assert board.is_ready("r/s01/clip") and not board.is_ready("r/s01/hero")
    board.start("r/s01/clip")
    board.retry("r/s01/clip")
    assert board.is_ready("r/s01/clip")


def test_finishes():
    tasks, board = _board()
    while board.unfinished:
        ready = list(board.ready_gpu()) + board.ready_local()
        assert ready
        for t in ready:
            board.start(t.id)
            board.finish(t.id)
    assert board.done == set(tasks)


def test_task_ids_are_values_written_one_way():
    from videofactory.farm.dag import task_id
    from videofactory.vocabulary import TaskId, TaskKind

    clip = TaskId("20261202-120000-cat-ab12", TaskKind.clip, "s03")
    assert (
        str(clip)
        == task_id(clip.run_id, TaskKind.clip, "s03")
        == "20261202-120000-cat-ab12/s03/clip"
    )
    assert TaskId.parse(str(clip)) == clip and clip.label == "s03/clip"
    asm = TaskId.parse("r/assemble")
    assert (asm.kind, asm.shot_id, asm.label) == (TaskKind.assemble, None, "assemble")
    assert TaskId.of(None) is None and TaskId.of("r/a/b/c") is None and TaskId.of("r/s1/x") is None
