"""The recovery policy (pure): an event and what the workers are -> the actions, as tables."""

from __future__ import annotations

import pytest

from videofactory.config import DispatchConfig
from videofactory.errors import (
    BackendTimeout,
    BackendUnavailable,
    ExecutionFailed,
    FactoryError,
    Interrupted,
    MediaError,
    OutOfMemory,
    ProtocolError,
    WorkflowError,
    WorkflowRejected,
)
from videofactory.farm.dag import COST_S, VRAM_GB, Task
from videofactory.farm.policy import (
    BACKOFF_S,
    OOM_REFUSAL,
    FailRun,
    Move,
    Policy,
    Redo,
    Refuse,
    Retry,
    Shrink,
    Skip,
    TakeDown,
    Unrefuse,
    backoff_s,
    classify,
)
from videofactory.farm.scheduler import WorkerView
from videofactory.vocabulary import Role, TaskKind

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

KEY, CLIP, HERO, ASM = TaskKind.keyframe, TaskKind.clip, TaskKind.hero, TaskKind.assemble


def task(kind: TaskKind, shot: str | None = "s01") -> Task:
    tid = f"r/{shot}/{kind.value}" if shot else f"r/{kind.value}"
    return Task(tid, kind, shot, (), COST_S[kind], VRAM_GB[kind])


def worker(wid: str, gb: float = 24, roles=(Role.worker,), up=True, refused=None, **kw):
    return WorkerView(wid, tuple(roles), gb, {}, up=up, refused=refused or {}, **kw)


def policy(*tasks: Task, **config) -> Policy:
    cfg = DispatchConfig(**config)
    return Policy(cfg, {t.id: t for t in tasks}, {t.id: 1.0 for t in tasks})


FARM = [worker("g0", 32, (Role.primary,)), worker("g1"), worker("g2"), worker("g5", 16)]


# -- what an error means ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "move", "avoid"),
    [
        (OutOfMemory("CUDA out of memory"), Move.more_vram, True),
        (WorkflowRejected("missing node"), Move.refuse_kind, True),
        (WorkflowError("no binding"), Move.give_up, False),
        (BackendUnavailable("gone"), Move.worker_down, True),
        (BackendTimeout("hung"), Move.worker_down, True),
        (ProtocolError("500"), Move.worker_down, True),
        (ExecutionFailed("node raised"), Move.retry, True),
        (Interrupted("interrupted"), Move.retry, True),
        (MediaError("corrupt"), Move.retry, True),
        (FactoryError("other"), Move.retry, True),
        (ValueError("a bug"), Move.give_up, False),
    ],
)
def test_classify(error, move, avoid):
    v = classify(error, attempts=1, max_attempts=8)
    assert (v.move, v.avoid_worker) == (move, avoid)
    assert classify(error, attempts=8, max_attempts=8).move is Move.give_up


def test_backoff_grows_then_repeats():
    assert [backoff_s(n) for n in range(0, 7)] == [0.0, *BACKOFF_S, BACKOFF_S[-1], BACKOFF_S[-1]]


# -- a failed attempt -----------------------------------------------------------------------------


def test_an_execution_error_is_retried_after_a_backoff_and_avoids_the_worker():
    clip = task(CLIP)
    p = policy(clip)
    d = p.on_failure(clip, "g1", ExecutionFailed("boom"), workers=FARM, now=100.0)
    assert d.actions == (Retry(clip.id, 100.0 + BACKOFF_S[0]),)
    assert d.verdict.move is Move.retry and d.attempt == 1
    assert p.view(clip, FARM).avoid == frozenset({"g1"})
    assert not p.due(clip.id, 100.5) and p.due(clip.id, 101.0)


def test_a_task_that_failed_twice_on_every_able_worker_fails_the_run():
    key = task(KEY)
    p = policy(key)
    farm = [worker("g5", 16, (Role.control,)), worker("g1", 8)]  # only g5 holds a keyframe
    first = p.on_failure(key, "g5", ExecutionFailed("x"), workers=farm, now=0)
    assert isinstance(first.actions[-1], Retry)
    last = p.on_failure(key, "g5", ExecutionFailed("x"), workers=farm, now=1).actions[-1]
    assert isinstance(last, FailRun) and "failed on every worker that can run it (g5)" in last.why


def test_unreachable_or_hung_worker_is_taken_down():
    clip = task(CLIP)
    d = policy(clip).on_failure(clip, "g1", BackendTimeout("g1 hung"), workers=FARM, now=0)
    assert d.actions[0] == TakeDown("g1", "g1 hung") and isinstance(d.actions[-1], Retry)


def test_a_rejected_workflow_is_refused_for_the_kind_on_that_worker():
    clip = task(CLIP)
    d = policy(clip).on_failure(clip, "g2", WorkflowRejected("bad"), workers=FARM, now=0)
    assert d.actions[0] == Refuse("g2", CLIP, "bad")


def test_out_of_memory_moves_to_a_worker_up_now_that_can_hold_it():
    clip = task(CLIP)
    p = policy(clip)
    d = p.on_failure(clip, "g1", OutOfMemory("oom"), workers=FARM, now=0)
    assert d.actions == (Refuse("g1", CLIP, OOM_REFUSAL.format(kind="clip")), Retry(clip.id, 1.0))
    assert p.view(clip).min_memory_gb == 24.5  # g0, with more memory, is the one to try
    # The same card size everywhere: another that can hold it, with no floor.
    q = policy(clip)
    same = [worker("g1"), worker("g2")]
    assert isinstance(q.on_failure(clip, "g1", OutOfMemory("oom"), workers=same, now=0)
                      .actions[-1], Retry)  # fmt: skip
    assert q.view(clip).min_memory_gb == 0


def test_out_of_memory_asks_for_more_memory_when_only_a_bigger_card_could():
    hero = task(HERO)
    p = policy(hero)
    farm = [worker("g0", 32, (Role.primary,)), worker("g9", 48, (Role.primary,))]
    d = p.on_failure(hero, "g0", OutOfMemory("oom"), workers=farm, now=0)
    assert isinstance(d.actions[-1], Retry)
    assert p.view(hero).min_memory_gb == 32.5


def test_out_of_memory_everywhere_shrinks_at_once_without_waiting_for_a_down_card():
    hero = task(HERO)
    p = policy(hero, min_scale=0.5)
    farm = [worker("g0", 32, (Role.primary,)), worker("g6", 48, up=False)]
    d = p.on_failure(hero, "g0", OutOfMemory("oom"), workers=farm, now=0)
    oom = OOM_REFUSAL.format(kind="hero")
    assert d.actions[:3] == (
        Refuse("g0", HERO, oom),
        Unrefuse("g0", HERO),
        Shrink(hero.id, 0.75, "out of memory on every worker that could take it"),
    )
    assert p.scale(hero.id) == 0.75 and p.view(hero).cost_s == pytest.approx(45.0)
    # Again and again: 0.75 -> 0.5625, then below min_scale the hero goes without.
    p.on_failure(hero, "g0", OutOfMemory("oom"), workers=farm, now=1)
    assert p.scale(hero.id) == pytest.approx(0.5625)
    last = p.on_failure(hero, "g0", OutOfMemory("oom"), workers=farm, now=2).actions[-1]
    assert isinstance(last, Skip) and "even at 56% of its size" in last.why


def test_a_clip_that_cannot_be_shrunk_further_fails_the_run():
    clip = task(CLIP)
    p = policy(clip, min_scale=0.9)
    d = p.on_failure(clip, "g1", OutOfMemory("oom"), workers=[worker("g1")], now=0)
    assert isinstance(d.actions[-1], FailRun) and "clip s01" in d.actions[-1].why


def test_a_task_under_which_two_servers_went_down_is_shrunk():
    hero = task(HERO)
    p = policy(hero)
    gone = BackendUnavailable("cannot reach ComfyUI at http://g0")
    d1 = p.on_failure(hero, "g0", gone, workers=FARM, now=0, ran=True)
    assert d1.verdict.reason.startswith("g0's server went away while running it: ")
    assert not any(isinstance(a, Shrink) for a in d1.actions)
    d2 = p.on_failure(hero, "g1", BackendTimeout("g1 hung"), workers=FARM, now=1, ran=True)
    assert d2.verdict.reason == "g1 hung"  # a hang: the server is still there
    assert Shrink(hero.id, 0.75, "the servers of g0, g1 went down running it") in d2.actions
    # A server that went down while the task only waited in its queue does not count.
    clip = task(CLIP)
    q = policy(clip)
    for i, w in enumerate(("g1", "g2", "g0")):
        d = q.on_failure(clip, w, gone, workers=FARM, now=i, ran=False)
        assert not any(isinstance(a, Shrink) for a in d.actions)


def test_a_hero_goes_without_where_another_task_would_fail_the_run():
    hero, clip = task(HERO), task(CLIP, "s02")
    p = policy(hero, clip)
    d = p.on_failure(hero, "g0", WorkflowError("no binding"), workers=FARM, now=0)
    assert d.actions == (Skip(hero.id, "hero s01: no binding"),)
    d = p.on_failure(clip, "g1", WorkflowError("no binding"), workers=FARM, now=0)
    assert d.actions == (FailRun("clip s02: no binding"),)


def test_a_corrupt_file_refused_by_the_assembly_is_made_again():
    asm = task(ASM, None)
    d = policy(asm).on_failure(asm, None, MediaError("corrupt", path="/r/clips/s01.mp4"),
                               workers=FARM, now=0)  # fmt: skip
    assert d.actions[0].path.name == "s01.mp4" and isinstance(d.actions[0], Redo)
    assert isinstance(d.actions[-1], Retry)


# -- ready tasks no worker can take ----------------------------------------------------------------


def test_a_task_waits_only_while_a_worker_that_could_take_it_is_down():
    clip = task(CLIP)
    p = policy(clip, no_worker_timeout_s=300)
    down = [worker("g1", up=False, why_down="gone"), worker("g5", 16)]
    assert p.on_tick([clip], down, 0.0, other_gpu_work_left=True) == []
    assert p.on_tick([clip], down, 299.0, other_gpu_work_left=True) == []
    (fail,) = p.on_tick([clip], down, 300.0, other_gpu_work_left=True)
    assert isinstance(fail, FailRun)
    assert "g1 down (gone)" in fail.why and "g5 has 16 GB, needs 20" in fail.why
    # Nobody down who could take it: nothing will change, it fails at once.
    q = policy(clip)
    (fail,) = q.on_tick([clip], [worker("g5", 16)], 0.0, other_gpu_work_left=True)
    assert isinstance(fail, FailRun)


def test_a_stuck_hero_waits_for_the_film_then_hero_wait_s_then_goes_without():
    hero = task(HERO)
    p = policy(hero, hero_wait_s=120)
    farm = [worker("g0", 32, (Role.primary,), up=False, why_down="killed"), worker("g1")]
    assert p.on_tick([hero], farm, 0.0, other_gpu_work_left=True) == []
    assert p.on_tick([hero], farm, 500.0, other_gpu_work_left=True) == []  # clips still render
    assert p.on_tick([hero], farm, 501.0, other_gpu_work_left=False) == []  # now it holds back
    assert p.on_tick([hero], farm, 620.0, other_gpu_work_left=False) == []
    (skip,) = p.on_tick([hero], farm, 621.0, other_gpu_work_left=False)
    assert skip == Skip(hero.id, skip.why)
    assert skip.why.startswith("no worker could take hero s01 for 120 s: g0 down (killed)")
    # No card that could take it at all: it goes without at once, whatever is left to do.
    q = policy(hero)
    (skip,) = q.on_tick([hero], [worker("g1")], 0.0, other_gpu_work_left=True)
    assert isinstance(skip, Skip) and "g1 has 24 GB, needs 28" in skip.why


def test_strict_roles_count_in_the_reasons():
    key = task(KEY)
    p = Policy(DispatchConfig(), {key.id: key}, {key.id: 1.0}, strict=True)
    (fail,) = p.on_tick([key], [worker("g1")], 0.0, other_gpu_work_left=True)
    assert "g1 is not a control GPU" in fail.why
