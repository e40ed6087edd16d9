"""Takes: the task id of a take, the take's seed, the task graph with takes, content keys per
take, the choice of the take a hero pass and the film use, and where picks and scores are kept
(pure, and the run database)."""

from __future__ import annotations

import pytest

from videofactory.farm.dag import build_tasks, input_deps
from videofactory.shotlist import parse_shotlist
from videofactory.takes import MAX_SEED, choose_take, hero_wanted, take_seed
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


# -- seeds --------------------------------------------------------------------------------------


def test_take_one_keeps_the_shot_seed_and_later_takes_get_their_own_stable_seeds():
    assert take_seed(42, 1) == 42
    seeds = [take_seed(42, t) for t in range(1, 9)]
    assert len(set(seeds)) == 8  # every take differs
    assert seeds == [take_seed(42, t) for t in range(1, 9)]  # and is the same each time
    assert all(0 <= s <= MAX_SEED for s in seeds)
    assert take_seed(43, 2) != take_seed(42, 2)  # a new shot seed, new takes
    assert take_seed(MAX_SEED, 5) <= MAX_SEED
    with pytest.raises(ValueError):
        take_seed(42, 0)


# -- the task graph -----------------------------------------------------------------------------


def _plan(takes: int = 1, **shot_takes: int):
    shots = [
        {"id": "s01", "duration": 4.0, "prompt": "a", "hero": True, "narration": "hello"},
        {"id": "s02", "duration": 4.0, "prompt": "b"},
        {"id": "s03", "duration": 2.0, "prompt": "c", "continuity": "continue"},
    ]
    for shot in shots:
        if shot["id"] in shot_takes:
            shot["takes"] = shot_takes[shot["id"]]
    return parse_shotlist({"concept": "x", "duration": 10.0, "takes": takes, "shots": shots})


def test_one_take_is_the_graph_runs_always_had():
    ids = [t.id for t in build_tasks("r", _plan())]
    assert ids == [
        "r/s01/keyframe", "r/s01/clip", "r/s01/hero", "r/s01/speech",
        "r/s02/keyframe", "r/s02/clip", "r/s03/keyframe", "r/s03/clip", "r/assemble",
    ]  # fmt: skip


def test_takes_are_clip_tasks_per_take_and_hero_or_assembly_waits_for_all():
    tasks = {t.id: t for t in build_tasks("r", _plan(takes=2, s02=3))}
    clips = [t for t in tasks.values() if t.kind is TaskKind.clip]
    assert [t.id for t in clips] == [
        "r/s01/clip", "r/s01/clip.2",
        "r/s02/clip", "r/s02/clip.2", "r/s02/clip.3",
        "r/s03/clip", "r/s03/clip.2",
    ]  # fmt: skip
    assert [t.take for t in clips] == [1, 2, 1, 2, 3, 1, 2]
    assert all(t.deps[0] == f"r/{t.shot_id}/keyframe" for t in clips)
    # Every take is a full clip: same cost and VRAM as the one clip of a run without takes.
    assert tasks["r/s02/clip.3"].cost_s == tasks["r/s02/clip"].cost_s
    # A shot that continues the one before waits for every take of it (it goes on from the
    # one the film uses, chosen when it becomes ready).
    assert tasks["r/s03/clip.2"].deps == (
        "r/s03/keyframe", "r/s02/clip", "r/s02/clip.2", "r/s02/clip.3",
    )  # fmt: skip
    assert tasks["r/s01/hero"].deps == ("r/s01/clip", "r/s01/clip.2")
    assembly = tasks["r/assemble"].deps
    assert "r/s01/hero" in assembly and "r/s01/clip" not in assembly
    assert {"r/s02/clip", "r/s02/clip.2", "r/s02/clip.3", "r/s03/clip.2"} <= set(assembly)
    # Output files are named per take; take 1 keeps the shot's name.
    assert tasks["r/s02/clip"].stem == "s02" and tasks["r/s02/clip.3"].stem == "s02.take3"


def test_a_hero_pass_reads_only_the_clip_of_the_take_it_upgrades():
    import dataclasses

    tasks = {t.id: t for t in build_tasks("r", _plan(takes=3))}
    hero = tasks["r/s01/hero"]
    assert hero.take == 1 and input_deps(hero, tasks) == ("r/s01/clip",)
    chosen = dataclasses.replace(hero, params={"take": 3})
    assert chosen.take == 3 and chosen.stem == "s01.take3"
    assert input_deps(chosen, tasks) == ("r/s01/clip.3",)
    assert input_deps(tasks["r/s03/clip.2"], tasks) == ("r/s03/keyframe", "r/s02/clip")


def test_a_continuing_clip_reads_only_the_take_it_goes_on_from():
    import dataclasses

    from videofactory.farm.dag import from_take
    from videofactory.farm.flow import previous_clip_dep

    tasks = {t.id: t for t in build_tasks("r", _plan(takes=3))}
    going_on = tasks["r/s03/clip.2"]
    # Before the choice: take 1, as a run without takes has it.
    assert from_take(going_on) == 1 and previous_clip_dep(going_on, tasks) == "r/s02/clip"
    chosen = dataclasses.replace(going_on, params={"from_take": 3})
    assert input_deps(chosen, tasks) == ("r/s03/keyframe", "r/s02/clip.3")
    assert previous_clip_dep(chosen, tasks) == "r/s02/clip.3"
    # Its own take is its id's, whatever it goes on from.
    assert chosen.take == 2 and chosen.stem == "s03.take2"
    # A clip that does not continue reads all it depends on.
    assert input_deps(tasks["r/s02/clip.3"], tasks) == ("r/s02/keyframe",)


def test_content_keys_differ_per_take_and_a_hero_key_follows_its_take():
    import dataclasses

    from videofactory.comfy.workflow import load_template
    from videofactory.farm.params import workflow_params
    from videofactory.farm.reuse import task_key

    plan = _plan(takes=2)
    tasks = {t.id: t for t in build_tasks("r", plan)}
    clip_wf, hero_wf = load_template("clip"), load_template("hero")

    def key(tid, wf):
        return task_key(tasks[tid], tasks, plan, wf, scale=1.0, sha_of=lambda d: f"sha-{d}")

    first, second = key("r/s01/clip", clip_wf), key("r/s01/clip.2", clip_wf)
    assert first and second and first != second
    assert key("r/s01/clip.2", clip_wf) == second  # stable: a re-render reuses it
    shot = plan.shot("s01")
    bound = workflow_params(TaskKind.clip, shot, plan, clip_wf, scale=1.0, prefix="p",
                            inputs={"input_image": "k.png"}, take=2)  # fmt: skip
    assert bound["seed"] == take_seed(shot.seed, 2) != shot.seed
    on_one = key("r/s01/hero", hero_wf)
    tasks["r/s01/hero"] = dataclasses.replace(tasks["r/s01/hero"], params={"take": 2})
    on_two = key("r/s01/hero", hero_wf)
    assert on_one != on_two
    # Its key holds the chosen clip's hash, not the last take's: take 1 keys as without takes.
    tasks["r/s01/hero"] = dataclasses.replace(tasks["r/s01/hero"], params={"take": 1})
    assert key("r/s01/hero", hero_wf) == on_one


def test_shot_list_takes_are_bounded_and_a_shot_says_its_own():
    from videofactory.errors import ShotListError
    from videofactory.shotlist import dump_shotlist

    plan = _plan(takes=2, s02=4)
    assert [plan.takes_of(s) for s in plan.shots] == [2, 4, 2]
    text = dump_shotlist(plan)
    assert text.count("takes:") == 2  # the list's, and s02's own (not "takes: null" per shot)
    with pytest.raises(ShotListError, match="takes"):
        _plan(takes=9)
    with pytest.raises(ShotListError, match="takes"):
        _plan(s01=0)


# -- which take ---------------------------------------------------------------------------------


def test_the_pick_wins_else_the_best_score_else_take_one():
    assert choose_take(3, 2, {1: 9.0, 2: 1.0, 3: 5.0}) == 2
    assert choose_take(3, None, {1: 1.0, 2: 9.0, 3: 5.0}) == 2
    assert choose_take(3, None, {1: 5.0, 2: 5.0, 3: 5.0}) == 1  # equals: the lowest take
    assert choose_take(3, None, {1: None, 2: None, 3: 0.5}) == 3  # unscored takes pass
    assert choose_take(3, None, {}) == 1
    assert choose_take(2, 7, {1: 1.0, 2: 2.0}) == 2  # a pick of no such take counts for nothing
    assert hero_wanted(True, False) and hero_wanted(False, True) and not hero_wanted(False, False)


def test_picks_and_scores_are_kept_in_the_run_database(tmp_path):
    from videofactory.store import Store

    with Store.for_workdir(tmp_path) as store:
        store.set_take_score("r", "s01", 2, 3.5, {"sharpness": 10.0})
        store.set_take_score("r", "s01", 1, None, {"error": "unreadable"})
        store.set_take_score("r", "s01", 2, 4.0, {"sharpness": 11.0})
        assert store.take_scores("r") == {
            "s01": {1: {"score": None, "error": "unreadable"}, 2: {"score": 4.0, "sharpness": 11.0}}
        }
        store.set_pick("r", "s01", 2, hero=False)
        store.set_pick("r", "s01", 1, hero=True)
        pick = store.picks("r")["s01"]
        assert (pick["take"], pick["hero"]) == (1, True)
        assert store.picks("other") == {} and store.take_scores("other") == {}


def test_picks_not_used_are_those_the_newest_video_did_not_use(tmp_path):
    from videofactory.factory import picks_not_used
    from videofactory.store import Store

    with Store.for_workdir(tmp_path) as store:
        store.set_pick("r", "s01", 2, hero=False)
        assert picks_not_used(store, "r") == []  # not assembled yet: its assembly reads them
        used = {"data": {"takes": {"s01": 1, "s02": 2}}}  # as the assembly records it
        store.add_event("r", "takes_used", "the film uses s01 take 1, s02 take 2", data=used)
        assert picks_not_used(store, "r") == ["s01"]
        store.set_pick("r", "s02", 2, hero=False)  # the take it uses already
        assert picks_not_used(store, "r") == ["s01"]
        used = {"data": {"takes": {"s01": 2, "s02": 2}}}  # assembled again with the pick
        store.add_event("r", "takes_used", "the film uses s01 take 2, s02 take 2", data=used)
        assert picks_not_used(store, "r") == []


def test_a_pick_moves_the_hero_pass_to_its_take_or_adds_one_when_picked_as_best(tmp_path):
    from videofactory.factory import place_hero
    from videofactory.store import Store, TaskState

    plan = _plan(takes=2)
    with Store.for_workdir(tmp_path) as store:
        store.create_run("r", plan=plan.model_dump(mode="json"), run_dir=tmp_path / "r", farm={},
                         settings={})  # fmt: skip
        store.add_tasks("r", [t.to_record() for t in build_tasks("r", plan)])
        for t in store.tasks("r"):
            store.set_task_state(t.id, TaskState.done)
        store.update_task_params("r/s01/hero", {**store.task("r/s01/hero").params, "take": 2})
        # s01 is marked hero: its pass moves to the picked take, due again
        assert place_hero(store, "r", plan, plan.shot("s01"), 1, True)
        hero = store.task("r/s01/hero")
        assert hero.params["take"] == 1 and hero.state == TaskState.pending.value
        assert not place_hero(store, "r", plan, plan.shot("s01"), 1, True)  # already there
        # s02 is not: nothing, unless it is picked as the best
        assert not place_hero(store, "r", plan, plan.shot("s02"), 2, False)
        assert "r/s02/hero" not in {t.id for t in store.tasks("r")}
        assert place_hero(store, "r", plan, plan.shot("s02"), 2, True)
        added = store.task("r/s02/hero")
        assert added.params["take"] == 2 and added.state == TaskState.pending.value
        assert added.deps == ("r/s02/clip", "r/s02/clip.2")
        assert "r/s02/hero" in store.task("r/assemble").deps


def test_ranks_do_not_depend_on_a_hero_pass_added_after_the_assembly():
    import dataclasses

    from videofactory.farm.dag import hero_task, upward_ranks

    plan = _plan(takes=2)
    tasks = build_tasks("r", plan)
    hero = hero_task("r", "s02", ("r/s02/clip", "r/s02/clip.2"), 1.0)  # what pick --hero adds
    recorded = [
        dataclasses.replace(t, deps=(*t.deps, hero.id)) if t.kind is TaskKind.assemble else t
        for t in tasks
    ] + [hero]
    ranks = upward_ranks(recorded)
    assert ranks[hero.id] == hero.cost_s + ranks["r/assemble"]
    assert ranks["r/s02/clip.2"] > ranks[hero.id]


def test_a_redo_keeps_the_other_shots_picked_as_the_best_as_heroes():
    from videofactory.factory import _with_picked_heroes

    plan = _plan(takes=2)
    assert _with_picked_heroes(plan, {}) is plan
    kept = _with_picked_heroes(plan, {"s02": {"take": 2, "hero": True},
                                      "s03": {"take": 2, "hero": False}})  # fmt: skip
    assert [s.hero for s in kept.shots] == [True, True, False]
