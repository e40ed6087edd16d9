"""``continuity: flow`` in the pure core: the task graph, the end frame a clip task reads, its
content key, and what a worker whose clip workflow takes no end frame is said to do."""

from __future__ import annotations

import pytest

from videofactory.comfy.workflow import load_template
from videofactory.farm.dag import build_tasks, upward_ranks
from videofactory.farm.flow import (
    end_frame_dep,
    flow_notes,
    previous_clip_dep,
    start_ref,
    takes_end_frame,
)
from videofactory.farm.reuse import task_key
from videofactory.shotlist import Shot, ShotList

pytestmark = pytest.mark.core


def _plan(*continuity: str) -> ShotList:
    shots = [
        Shot(id=f"s0{i + 1}", duration=2, prompt=f"shot {i + 1}", seed=i, continuity=c)
        for i, c in enumerate(continuity)
    ]
    return ShotList(concept="test", duration=2 * len(shots), width=320, height=180, shots=shots)


def test_a_flowing_clip_waits_for_the_next_keyframe_listed_before_it():
    tasks = build_tasks("r", _plan("flow", "flow", "cut"))
    ids = [t.id for t in tasks]
    by_id = {t.id: t for t in tasks}
    assert by_id["r/s01/clip"].deps == ("r/s01/keyframe", "r/s02/keyframe")
    assert by_id["r/s02/clip"].deps == ("r/s02/keyframe", "r/s03/keyframe")
    assert by_id["r/s03/clip"].deps == ("r/s03/keyframe",)
    # Dependencies first, each keyframe once (the ranks are computed in that order).
    assert len(ids) == len(set(ids))
    for t in tasks:
        assert all(ids.index(d) < ids.index(t.id) for d in t.deps), t.id
    ranks = upward_ranks(tasks)
    # The next keyframe is on the critical path of the clip that ends on it.
    assert ranks["r/s02/keyframe"] > ranks["r/s01/clip"]
    assert end_frame_dep(by_id["r/s01/clip"], by_id) == "r/s02/keyframe"
    assert end_frame_dep(by_id["r/s03/clip"], by_id) is None
    assert end_frame_dep(by_id["r/s01/keyframe"], by_id) is None


def test_cut_and_continue_graphs_are_as_before():
    tasks = {t.id: t for t in build_tasks("r", _plan("cut", "continue", "cut"))}
    assert tasks["r/s01/clip"].deps == ("r/s01/keyframe",)
    assert tasks["r/s02/clip"].deps == ("r/s02/keyframe", "r/s01/clip")
    assert end_frame_dep(tasks["r/s02/clip"], tasks) is None
    assert previous_clip_dep(tasks["r/s02/clip"], tasks) == "r/s01/clip"
    assert previous_clip_dep(tasks["r/s03/clip"], tasks) is None


def test_a_continuing_clip_is_keyed_by_the_clip_it_starts_from_not_its_keyframe():
    plan = _plan("cut", "continue")
    tasks = {t.id: t for t in build_tasks("r", plan)}
    shas = {"r/s01/clip": "a" * 64, "r/s02/keyframe": "b" * 64}
    wf = load_template("clip")
    key = task_key(tasks["r/s02/clip"], tasks, plan, wf, scale=1.0, sha_of=shas.get)
    other = {**shas, "r/s01/clip": "c" * 64}
    assert task_key(tasks["r/s02/clip"], tasks, plan, wf, scale=1.0, sha_of=other.get) != key
    assert start_ref("a" * 64) == "a" * 64 + ":last-frame"


def test_the_content_key_holds_the_next_keyframe_and_binds_it_where_the_workflow_can():
    plan = _plan("flow", "cut")
    tasks = {t.id: t for t in build_tasks("r", plan)}
    clip = tasks["r/s01/clip"]
    shas = {"r/s01/keyframe": "a" * 64, "r/s02/keyframe": "b" * 64}
    sim = load_template("clip")  # binds end_image
    key = task_key(clip, tasks, plan, sim, scale=1.0, sha_of=shas.get)
    assert key is not None
    assert (
        task_key(clip, tasks, plan, sim, scale=1.0, sha_of={**shas, "r/s02/keyframe": None}.get)
        is None
    )
    other = task_key(
        clip, tasks, plan, sim, scale=1.0, sha_of={**shas, "r/s02/keyframe": "c" * 64}.get
    )
    assert other != key
    # The same shot as a plain cut is another clip.
    cut = _plan("cut", "cut")
    cut_tasks = {t.id: t for t in build_tasks("r", cut)}
    plain = task_key(cut_tasks["r/s01/clip"], cut_tasks, cut, sim, scale=1.0, sha_of=shas.get)
    assert plain not in (key, None)


def test_which_workflows_take_an_end_frame_and_the_note_for_those_that_do_not():
    flf, wan, sim = (load_template("clip", s) for s in ("wan22_flf", "wan22", "sim"))
    assert takes_end_frame(flf) and takes_end_frame(sim)
    assert not takes_end_frame(wan) and not takes_end_frame(load_template("clip", "ltxv"))
    assert not takes_end_frame(None)
    (line,) = flow_notes({"gpu0": flf, "gpu1": wan, "gpu5": None})
    assert line.startswith("gpu1: its clip workflow wan22/clip takes no end frame")
    assert "plain clip" in line and "wan22_flf" in line and "\n" not in line


def test_a_flowing_clip_avoids_workers_that_cannot_end_on_a_picture_while_one_can():
    from videofactory.farm.flow import prefer_end_frame
    from videofactory.farm.scheduler import TaskView, WorkerView
    from videofactory.vocabulary import Role, TaskKind

    def worker(wid: str, *, up: bool = True) -> WorkerView:
        return WorkerView(wid, (Role.worker,), 24.0, {TaskKind.clip: 1.0}, up=up)

    view = TaskView("r/s01/clip", TaskKind.clip, 90.0, 20.0)
    flf = {"a"}.__contains__
    both = [worker("a"), worker("b")]
    assert prefer_end_frame(view, both, flf).avoid == {"b"}
    # Only plain workers able (the capable one down): any may take it, a plain clip then.
    assert prefer_end_frame(view, [worker("a", up=False), worker("b")], flf).avoid == set()
    assert prefer_end_frame(view, both, lambda w: False) == view
