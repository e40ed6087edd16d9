"""Plans that read like films: each kind its beats and narration, shot lengths that follow the
beats and the narration, transitions per beat, the subject and setting in every prompt."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from videofactory.assembly.runfiles import RunPieces, run_timeline
from videofactory.assembly.timeline import OutputSpec, Transition
from videofactory.config import SpeechConfig
from videofactory.errors import ConfigError, ShotListError
from videofactory.limits import MAX_SHOT_SECONDS, MIN_SHOT_SECONDS
from videofactory.planning import plan_rules, plan_shotlist
from videofactory.planning.speech import DEFAULT_RATE, speaking_rate
from videofactory.planning.timing import fit_durations, shot_limits
from videofactory.shotlist import parse_shotlist

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

KEEPER = "a day in the life of a lighthouse keeper"
CPU = "how a CPU executes an instruction"
SHOE = "product teaser for a red running shoe"


def _fits(shot, rate=DEFAULT_RATE) -> bool:
    return rate.seconds(shot.narration) <= shot.duration


@pytest.mark.parametrize(
    "concept,duration,subject",
    [(KEEPER, 15, "lighthouse keeper"), (CPU, 60, "CPU"), (SHOE, 45, "red running shoe")],
)
def test_the_issues_three_concepts_name_their_subject_and_setting(concept, duration, subject):
    sl = plan_rules(concept, duration)
    for shot in sl.shots:
        assert subject in shot.prompt and sl.setting.lower() in shot.prompt.lower()
        assert _fits(shot)
    assert subject in sl.character and "a day" not in sl.character
    assert not re.search(r"\ba how\b|\ba product teaser\b", " ".join(s.prompt for s in sl.shots))
    # not a grid: lengths differ, and not every join is a cut
    assert len({s.duration for s in sl.shots}) > 1
    assert {s.transition for s in sl.shots[1:]} - {"cut"}


def test_an_explainer_walks_its_steps_in_order():
    sl = plan_rules(CPU, 60)
    said = [s.narration for s in sl.shots]
    assert "CPU" in said[0] and said[0].rstrip().endswith(("?", "time."))  # the question
    numbers = ["one", "two", "three", "four", "five", "six", "seven", "eight"]
    found = []
    for line in said:
        step = re.search(r"\b[Ss]tep (\w+)", line)
        if step and step.group(1) in numbers:
            found.append(step.group(1))
        elif line.startswith("First"):
            found.append("one")
    assert len(found) >= 5
    assert found == numbers[: len(found)]  # one, two, three ... in order
    assert "the instruction is executed" in " ".join(said)  # the last step: the action done
    assert "how the CPU executes an instruction" in said[-1]  # the answer
    assert [s.transition for s in sl.shots[-2:]] == ["crossfade", "crossfade"]


def test_a_teaser_reveals_shows_features_and_ends_on_a_pack_shot_and_a_line():
    sl = plan_rules(SHOE, 45)
    first, reveal, last = sl.shots[0], sl.shots[1], sl.shots[-1]
    assert "darkness" in first.prompt and "red running shoe" not in first.narration
    assert (
        reveal.hero and "reveal" in reveal.prompt.lower() and "red running shoe" in reveal.narration
    )
    features = sl.shots[2:-1]
    assert len(features) >= 4 and all(s.duration < reveal.duration for s in features)
    assert last.prompt.startswith("Pack shot") and last.hero and last.transition == "fadeblack"
    assert last.narration.startswith("The red running shoe.") and last.duration == max(
        s.duration for s in sl.shots
    )


def test_a_day_in_the_life_runs_from_dawn_to_night_dissolving_between_its_parts():
    sl = plan_rules(KEEPER, 60)
    order = ["dawn", "morning", "midday", "afternoon", "dusk", "night"]
    seen = [next(p for p in order if re.search(rf"\b{p}\b", s.prompt)) for s in sl.shots]
    assert seen[0] == "dawn" and seen[-1] == "night" and seen == sorted(seen, key=order.index)
    for before, shot, phase in zip(seen, sl.shots[1:], seen[1:], strict=False):
        assert shot.transition == ("crossfade" if phase != before else "cut")
    assert all("lighthouse keeper" in s.prompt for s in sl.shots)


def test_a_travel_film_moves_through_the_place_and_into_the_night():
    sl = plan_rules("a walk through the streets of Kyoto", 40)
    assert all("Kyoto" in s.prompt for s in sl.shots)
    assert "aerial" in sl.shots[0].prompt.lower() or "road in" in sl.shots[0].prompt
    assert "evening" in sl.shots[-2].prompt and "night" in sl.shots[-1].prompt
    assert sl.shots[-1].transition == "crossfade"
    timed = plan_rules("Tokyo at night", 30)  # a time in the concept is kept throughout
    assert all("at night" in s.prompt for s in timed.shots)


def test_a_montage_varies_its_images_lengths_and_joins():
    sl = plan_rules("sunrise", 40)
    assert len({s.shot_type for s in sl.shots}) >= 5
    assert len({s.duration for s in sl.shots}) >= 5
    joins = Counter(s.transition for s in sl.shots[1:])
    assert joins["crossfade"] and joins["cut"]


def test_continuity_flows_inside_a_storys_scenes_and_cuts_where_time_or_place_change():
    for concept in ("warrior in mystical forest", KEEPER):
        sl = plan_rules(concept, 40)
        shots = sl.shots
        assert shots[-1].continuity == "cut"
        assert "flow" in {s.continuity for s in shots}, concept
        for here, after in zip(shots, shots[1:], strict=False):
            if here.continuity == "flow":  # it runs on into the next shot: no dissolve there
                assert after.transition == "cut", concept
            if after.transition != "cut":  # time passes or the place changes
                assert here.continuity == "cut" and after.continuity != "continue", concept
    # A travel film changes place at every stop; explainers, teasers and montages cut.
    for concept in ("a walk through the old town of Lisbon", CPU, SHOE):
        assert {s.continuity for s in plan_rules(concept, 40).shots} == {"cut"}, concept


def test_the_same_framing_carries_on_within_a_scene():
    from videofactory.planning.beats import Beat, continuity_for
    from videofactory.shotlist import ShotType as T

    beats = [Beat("a", T.wide, 1), Beat("b", T.medium, 1), Beat("c", T.medium, 1),
             Beat("d", T.close_up, 1, "crossfade"), Beat("e", T.detail, 1)]  # fmt: skip
    # a flows into b; c keeps b's framing: it continues from b's last frame; d comes after a
    # dissolve (a cut), then flows into e, the last shot.
    assert continuity_for("story", beats) == ["flow", "cut", "continue", "flow", "cut"]
    assert continuity_for("travel", beats) == ["cut"] * 5


@pytest.mark.parametrize("concept", [KEEPER, CPU, SHOE, "Tokyo at night", "sunrise",
                                     "warrior in mystical forest"])  # fmt: skip
@pytest.mark.parametrize("duration", [7.3, 30, 120])
def test_lengths_follow_the_narration_within_the_clip_models_limits(concept, duration):
    sl = plan_rules(concept, duration)
    assert abs(sum(s.duration for s in sl.shots) - duration) < 1e-6
    shortest, longest = shot_limits(duration, len(sl.shots), 5.0)
    for shot in sl.shots[:-1]:
        assert abs(shot.duration * 24 - round(shot.duration * 24)) < 0.025  # on a frame
    for shot in sl.shots:
        assert _fits(shot)
        assert shortest - 1 / 24 <= shot.duration <= longest + 1 / 24
        assert MIN_SHOT_SECONDS - 1 / 24 <= shot.duration <= MAX_SHOT_SECONDS
    said = [s.narration for s in sl.shots if s.narration]
    assert len(said) == len(set(said))  # no line twice in a film


def test_a_slower_voice_gets_shorter_lines_or_longer_shots():
    slow = speaking_rate(SpeechConfig(backend="espeak", options={"words_per_minute": 100}))
    assert slow.seconds("Meet the red running shoe.") > DEFAULT_RATE.seconds(
        "Meet the red running shoe."
    )
    default, slowed = plan_rules(CPU, 60), plan_rules(CPU, 60, rate=slow)
    assert all(_fits(s, slow) for s in slowed.shots)
    assert not all(_fits(s, slow) for s in default.shots)  # the default plan is too tight


def test_the_same_seed_gives_the_same_film():
    assert plan_rules(SHOE, 45, seed=7) == plan_rules(SHOE, 45, seed=7)
    assert plan_rules(SHOE, 45, seed=7) != plan_rules(SHOE, 45, seed=8)


def test_one_transition_for_every_shot_when_asked():
    for mode in ("cut", "crossfade"):
        sl = plan_shotlist(KEEPER, 30, transition=mode)
        assert {s.transition for s in sl.shots[1:]} == {mode} and sl.shots[0].transition == "cut"
    with pytest.raises(ConfigError, match="unknown transition 'wipe'"):
        plan_shotlist(KEEPER, 30, transition="wipe")


def test_fit_durations_gives_each_shot_its_narration_and_shares_the_rest():
    d = fit_durations([1.0, 1.0, 1.0], [4.0, 0.0, 0.0], 12.0, 24, shortest=2.0, longest=8.0)
    assert d is not None and sum(d) == pytest.approx(12.0) and d[0] > d[1] >= 2.0 and d[0] >= 4.0
    assert d[1] == pytest.approx(d[2], abs=0.002)
    weighted = fit_durations([2.0, 1.0], [0.0, 0.0], 9.0, 24, shortest=2.0, longest=8.0)
    assert weighted == [6.0, 3.0]
    assert fit_durations([1.0, 1.0], [6.0, 6.0], 10.0, 24) is None  # cannot both be said
    capped = fit_durations([10.0, 1.0, 1.0], [0, 0, 0], 15.0, 24, shortest=2.0, longest=6.0)
    assert capped is not None and capped[0] == 6.0


# -- the transition field and the assembly -------------------------------------------------


def _plan_data(**shot):
    base = {"id": "s01", "duration": 2.0, "prompt": "a cat"}
    return {"concept": "x", "duration": 4.0, "shots": [base, {**base, "id": "s02", **shot}]}


def test_old_shot_lists_cut_and_a_bad_transition_is_named():
    sl = parse_shotlist(_plan_data())
    assert [s.transition for s in sl.shots] == ["cut", "cut"]
    assert parse_shotlist(_plan_data(transition="Wipeleft")).shots[1].transition == "wipeleft"
    with pytest.raises(ShotListError, match=r"shot 's02', field 'transition': unknown transition"):
        parse_shotlist(_plan_data(transition="spin"))


def _pieces(sl) -> RunPieces:
    plan = sl.model_dump(mode="json")
    shots = plan["shots"]
    clips = {s["id"]: Path(f"/clips/{s['id']}.mp4") for s in shots}
    return RunPieces("run", Path("/run"), shots, pictures=clips, plan=plan)


def test_the_assembly_joins_shots_as_the_plan_says_unless_told_one_for_all():
    sl = plan_rules(KEEPER, 60, width=320, height=180)
    planned = [s.transition for s in sl.shots]
    out = OutputSpec(320, 180, 24)
    timeline = run_timeline(_pieces(sl), out, transition_s=0.75)
    kinds = [timeline.transition_into(i).kind for i in range(1, len(sl.shots))]
    assert kinds == [{"crossfade": "fade"}.get(t, t) for t in planned[1:]]
    frames = timeline.transition_frames()
    assert [f > 0 for f in frames] == [t != "cut" for t in planned[1:]]
    assert max(frames) == 18  # 0.75 s at 24 fps
    assert timeline.total_frames == 60 * 24  # dissolves overlap, the film keeps its length
    forced = run_timeline(_pieces(sl), out, transition=Transition("cut"))
    assert forced.transition_frames() == (0,) * (len(sl.shots) - 1)
