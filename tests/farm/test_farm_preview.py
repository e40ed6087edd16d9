"""Previews (pure): the preview's task graph, its keyframes pinned to the control GPU, and the
content keys it shares with the film rendered after it."""

from __future__ import annotations

import pytest

from videofactory.comfy.workflow import load_template
from videofactory.config import SpeechConfig, builtin_farm
from videofactory.farm.dag import PREVIEW_PINNED, build_tasks, preview_tasks, upward_ranks
from videofactory.farm.feasibility import Ability, plan_by_kind
from videofactory.farm.reuse import narration_key, speaker_identity, task_key
from videofactory.farm.scheduler import TaskView, WorkerView, decide
from videofactory.planning import plan_rules
from videofactory.vocabulary import Role, TaskKind

pytestmark = pytest.mark.core

PLAN = plan_rules("warrior in mystical forest", 30)


def test_a_preview_is_keyframes_and_narration_then_the_animatic():
    tasks = build_tasks("p", PLAN, preview=True)
    assert tasks == preview_tasks("p", PLAN)
    kinds = [t.kind for t in tasks]
    spoken = [s.id for s in PLAN.shots if s.narration.strip()]
    assert kinds.count(TaskKind.keyframe) == len(PLAN.shots) == 6
    assert kinds.count(TaskKind.speech) == len(spoken) > 0
    assert TaskKind.clip not in kinds and TaskKind.hero not in kinds
    assemble = tasks[-1]
    assert assemble.kind is TaskKind.assemble and assemble.id == "p/assemble"
    # The animatic waits for every keyframe and narration, nothing else; the keyframes are
    # edits of the look, as the film's are.
    looks = tuple(t.id for t in tasks if t.kind is TaskKind.look)
    assert len(looks) == 2
    assert set(assemble.deps) == {t.id for t in tasks[:-1] if t.kind is not TaskKind.look}
    assert all(t.deps == looks for t in tasks if t.kind is TaskKind.keyframe)
    assert all(t.deps == () for t in tasks if t.kind in (TaskKind.look, TaskKind.speech))
    ranks = upward_ranks(tasks)
    assert ranks["p/s01/keyframe"] > ranks["p/assemble"]


def test_the_preview_tasks_are_the_films_own():
    """Same kind, shot, cost and VRAM as the film's keyframes and narration: only the run
    differs, which no content key holds."""
    film = {(t.kind, t.shot_id): t for t in build_tasks("film", PLAN)}
    for t in build_tasks("preview", PLAN, preview=True):
        if t.kind is TaskKind.assemble:
            continue
        twin = film[(t.kind, t.shot_id)]
        assert (t.cost_s, t.vram_gb, dict(t.params)) == (twin.cost_s, twin.vram_gb, {})
        assert dict(twin.params) == {}


def test_keyframe_and_narration_keys_are_the_same_in_preview_and_film():
    """The film after a preview submits no keyframe: each key matches the preview's."""
    workflow = load_template("keyframe")
    preview = {t.id: t for t in build_tasks("p", PLAN, preview=True)}
    film = {t.id: t for t in build_tasks("f", PLAN)}
    speaker = speaker_identity(SpeechConfig(), "piper")
    for shot in PLAN.shots:
        keys = [
            task_key(tasks[f"{run}/{shot.id}/keyframe"], tasks, PLAN, workflow, scale=1.0,
                     sha_of=lambda _tid: None)
            for run, tasks in (("p", preview), ("f", film))
        ]  # fmt: skip
        assert keys[0] is not None and keys[0] == keys[1]
    # A narration's key holds its shot, the plan and the voice, and no run or kind of render.
    speech = {t.shot_id for t in preview.values() if t.kind is TaskKind.speech}
    assert speech == {t.shot_id for t in film.values() if t.kind is TaskKind.speech}
    assert len({narration_key(PLAN.shot(s), PLAN, speaker) for s in speech}) == len(speech)


def _workers(**over):
    return [
        WorkerView(id=w.id, roles=tuple(w.roles), vram_gb=w.vram_gb,
                   speed={k: w.speed for k in TaskKind}, **over.get(w.id, {}))
        for w in builtin_farm().workers
    ]  # fmt: skip


def _keyframes(n):
    return [TaskView(f"k{i}", TaskKind.keyframe, 6.0, 12.0, rank=100 - i) for i in range(n)]


def test_a_preview_keeps_its_keyframes_on_the_control_gpu():
    # Roles as preferences (a farm file's default): a film's keyframes spill over to the
    # idle workers once the control GPU's queue is long; a preview's stay on the control GPU.
    ready = _keyframes(8)
    spread = decide(ready, _workers(), 0.0, time_factor=1.0)
    assert {a.worker_id for a in spread} - {"gpu5"}, "the film's keyframes should spread"
    pinned = decide(ready, _workers(), 0.0, pinned=PREVIEW_PINNED)
    assert [a.worker_id for a in pinned] == ["gpu5", "gpu5"]  # its two slots, the rest wait
    # Its queue full, the others wait for it rather than take the workers' slots.
    full = _workers(gpu5={"free_slots": 0, "busy_until": 60.0})
    assert decide(ready, full, 0.0, pinned=PREVIEW_PINNED) == []
    # The look the keyframes are edits of stays there too (a film's spills over).
    looks = [TaskView(f"l{i}", TaskKind.look, 6.0, 12.0, rank=200 - i) for i in range(8)]
    assert {a.worker_id for a in decide(looks, _workers(), 0.0, time_factor=1.0)} - {"gpu5"}
    assert [a.worker_id for a in decide(looks, _workers(), 0.0, pinned=PREVIEW_PINNED)] == [
        "gpu5",
        "gpu5",
    ]
    # A clip is not pinned by a preview's setting.
    clip = [TaskView("c0", TaskKind.clip, 90.0, 20.0)]
    assert decide(clip, full, 0.0, pinned=PREVIEW_PINNED)


def test_a_preview_goes_elsewhere_when_no_control_gpu_can_take_a_keyframe():
    down = _workers(gpu5={"up": False, "why_down": "restarting"})
    out = decide(_keyframes(2), down, 0.0, pinned=PREVIEW_PINNED)
    assert len(out) == 2 and "gpu5" not in {a.worker_id for a in out}
    refusing = _workers(gpu5={"refused": {TaskKind.keyframe: "no Flux checkpoint"}})
    assert decide(_keyframes(1), refusing, 0.0, pinned=PREVIEW_PINNED)


def test_the_dry_run_counts_a_previews_keyframes_on_the_control_gpu():
    farm = builtin_farm()
    abilities = [
        Ability(w.id, tuple(w.roles), w.vram_gb, needs={TaskKind.keyframe: 12.0})
        for w in farm.workers
    ]
    tasks = build_tasks("d", PLAN, preview=True)
    seconds = {w.id: w.speed for w in farm.workers}

    def cost(worker, _kind, cost_s):
        return cost_s / seconds[worker]

    tasks = [t for t in tasks if t.kind is not TaskKind.look]  # the keyframes' own placement
    [free] = plan_by_kind(tasks, abilities, strict=False, seconds=cost)
    [pinned] = plan_by_kind(tasks, abilities, strict=False, seconds=cost, pinned=PREVIEW_PINNED)
    assert free.kind is pinned.kind is TaskKind.keyframe
    assert "gpu0" in free.able and pinned.able == ("gpu5",)
    assert pinned.gpu_s == pytest.approx(6 * 6.0 / 0.7)
    assert free.gpu_s == pytest.approx(6 * 6.0 / 1.0)  # the 5090 is faster, when allowed
    no_control = [a for a in abilities if Role.control not in a.roles]
    [anywhere] = plan_by_kind(tasks, no_control, strict=False, seconds=cost, pinned=PREVIEW_PINNED)
    assert anywhere.able == tuple(a.id for a in no_control)
