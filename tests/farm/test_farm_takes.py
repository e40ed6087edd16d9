"""Takes: the task id of a take, the take's seed, the task graph with takes, the choice of the
take a hero pass and the film use, and the score that prefers one take (all pure but the
score, which reads synthetic frames)."""

from __future__ import annotations

import pytest

from videofactory.vocabulary import TaskId, TaskKind

pytestmark = pytest.mark.core


def test_task_id_round_trips_with_takes_and_take_one_keeps_the_old_form():
    first = TaskId("r1", TaskKind.clip, "s01")
    assert str(first) == "r1/s01/clip"  # as runs recorded before takes existed
    assert TaskId.parse("r1/s01/clip") == first and first.take == 1
    second = TaskId("r1", TaskKind.clip, "s01", 2)
    assert str(second) == "r1/s01/clip.2"
    assert TaskId.parse(str(second)) == second
    assert second.label == "s01/clip.2" and first.label == "s01/clip"
    assert TaskId.parse("r1/assemble") == TaskId("r1", TaskKind.assemble)
    for bad in ("r1/s01/clip.1", "r1/s01/clip.x", "r1/s01/clip.", "r1/assemble.2", "a/b/c/d"):
        with pytest.raises(ValueError):
            TaskId.parse(bad)
        assert TaskId.of(bad) is None
