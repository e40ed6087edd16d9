"""The rules planner: exact durations, shot grammar, heroes, narration that fits."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from videofactory.errors import ConfigError
from videofactory.planning import plan_rules
from videofactory.planning.concept import parse_concept
from videofactory.planning.lines import NARRATION
from videofactory.planning.rules import shot_durations, split_concept
from videofactory.planning.speech import DEFAULT_RATE
from videofactory.planning.timing import normalise_durations, shot_grammar

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


def _fits(shot) -> bool:
    """The shot lasts as long as its narration takes the default voice to say."""
    return DEFAULT_RATE.seconds(shot.narration) <= shot.duration


def test_warrior_storyboard():
    sl = plan_rules("warrior in mystical forest", 30)
    assert len(sl.shots) == 6
    assert math.isclose(sum(s.duration for s in sl.shots), 30.0, abs_tol=1e-9)
    types = [s.shot_type.value for s in sl.shots]
    assert types[0] == "establishing" and types[-1] == "closing" and "action" in types
    heroes = [i for i, s in enumerate(sl.shots) if s.hero]
    assert heroes[0] == 0 and types[heroes[1]] == "action" and len(heroes) == 2
    for s in sl.shots:
        assert "mystical forest" in s.prompt and sl.style in s.prompt  # one film, one look
        assert s.narration and _fits(s)
    moves = [s.camera for s in sl.shots]
    assert all(a != b for a, b in zip(moves, moves[1:], strict=False))


def test_deterministic_for_a_seed():
    assert plan_rules("a cat on the moon", 20, seed=3) == plan_rules(
        "a cat on the moon", 20, seed=3
    )
    assert plan_rules("a cat on the moon", 20, seed=3) != plan_rules(
        "a cat on the moon", 20, seed=4
    )


@pytest.mark.parametrize("duration", [2.0, 6.0, 7.3, 30.0, 301.7, 3600.0])
def test_durations_sum_exactly(duration):
    sl = plan_rules("x in y", duration)
    assert abs(sum(s.duration for s in sl.shots) - duration) < 1e-6
    assert all(s.duration > 0 for s in sl.shots)


def test_frame_aligned_durations():
    assert shot_durations(6.0, 3, 24) == [2.0, 2.0, 2.0]
    d = shot_durations(10.0, 3, 24)
    assert [round(x * 24) for x in d] == [80, 80, 80] and d == [3.333, 3.333, 3.334]


def test_split_concept():
    assert split_concept("warrior in mystical forest") == ("warrior", "mystical forest")
    assert split_concept("A knight on the bridge") == ("knight", "bridge")
    assert split_concept("sunrise") == ("sunrise", "")


@pytest.mark.parametrize(
    "concept,duration,match",
    [
        ("", 30, "concept is empty"),
        ("   \n\t ", 30, "concept is empty"),
        ("x" * 100_000, 30, "100,000 characters"),
        ("ok", 0, "positive"),
        ("ok", -5, "positive"),
        ("ok", float("nan"), "positive"),
        ("ok", 4 * 3600, "over the limit"),
        ("ok", "abc", "not a number"),
    ],
)
def test_bad_input(concept, duration, match):
    with pytest.raises(ConfigError, match=match):
        plan_rules(concept, duration)


def test_hostile_concept_is_kept_as_text():
    concept = 'dragon "$(rm -rf /)"; `ls` | tee 🐉 in Zürich\x00'
    sl = plan_rules(concept, 10)
    assert "$(rm -rf /)" in sl.concept and "\x00" not in sl.concept


# -- reading concepts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "concept,subject,activity,setting,time,plural,kind",
    [
        ("warrior in mystical forest", "warrior", "", "mystical forest", "", False, "person"),
        ("two knights fighting on a bridge at dawn", "two knights", "fighting", "bridge",
         "at dawn", True, "person"),
        ("a cat chasing butterflies in a garden", "cat", "chasing butterflies", "garden", "",
         False, "animal"),
        ("robots dancing in the rain", "robots", "dancing", "", "in the rain", True, "machine"),
        ("knight fights dragon on a bridge", "knight", "fighting dragon", "bridge", "", False,
         "person"),
        ("wolves in the snow", "wolves", "", "", "in the snow", True, "animal"),
        ("children in a meadow", "children", "", "meadow", "", True, "person"),
        ("Sherlock Holmes in London", "Sherlock Holmes", "", "London", "", False, "person"),
        ("sunrise", "sunrise", "", "", "", False, "thing"),
        ("The old fisherman and the sea", "old fisherman", "", "sea", "", False, "person"),
        ("a boy and his dog", "boy and his dog", "", "", "", True, "person"),
        ("an octopus under the sea", "octopus", "", "sea", "", False, "animal"),
    ],
)  # fmt: skip
def test_parse_concept(concept, subject, activity, setting, time, plural, kind):
    c = parse_concept(concept)
    assert (c.subject, c.activity, c.setting, c.time, c.plural, c.kind) == (
        subject, activity, setting, time, plural, kind,
    )  # fmt: skip


def test_singular_and_plural_narration_agree():
    one = plan_rules("knight on a bridge", 60)
    many = plan_rules("two knights on a bridge", 60)
    text_one = " ".join(s.narration for s in one.shots)
    text_many = " ".join(s.narration for s in many.shots)
    for wrong in ("knight have", "knight are", "knight walk ", "knight follow "):
        assert wrong not in text_one
    for wrong in ("knights has", "knights is", "knights walks", "knights follows"):
        assert wrong not in text_many
    assert one.character.startswith("a lone knight") and many.character.startswith("two knights")


def test_no_setting_gets_a_place_of_its_theme():
    sl = plan_rules("wolves in the snow", 20)
    assert sl.setting.startswith("the ") and "in the snow" in sl.shots[0].prompt
    assert all(sl.setting in s.prompt for s in sl.shots)
    thing = plan_rules("sunrise", 15)
    assert thing.character == "the sunrise" and all("the sunrise" in s.prompt for s in thing.shots)
    place = plan_rules("Tokyo at night", 15)
    assert place.setting == "Tokyo" and all("Tokyo" in s.prompt for s in place.shots)


def test_the_activity_is_shown():
    sl = plan_rules("a cat chasing butterflies in a garden", 30)
    shown = [s for s in sl.shots if "chasing butterflies" in s.prompt]
    assert {s.shot_type.value for s in shown} >= {"establishing", "action"}


@pytest.mark.parametrize(
    "concept", ["warrior in mystical forest", "an old lighthouse in a storm", "Tokyo at night",
                "robots dancing in the rain", "a cat on the moon", "sunrise"]
)  # fmt: skip
@pytest.mark.parametrize("seed", [0, 1])
def test_five_minutes_without_repeating_a_line(concept, seed):
    sl = plan_rules(concept, 300, seed=seed)
    assert len(sl.shots) == 60
    lines = Counter(s.narration for s in sl.shots)
    prompts = Counter(s.prompt for s in sl.shots)
    assert lines.most_common(1)[0][1] == 1 and prompts.most_common(1)[0][1] == 1
    assert all(s.narration for s in sl.shots)
    for s in sl.shots:
        assert _fits(s)
        prompt = s.prompt.lower()
        assert sl.character.lower() in prompt and sl.setting.lower() in prompt
        assert sl.style in s.prompt
    heroes = [s for s in sl.shots if s.hero]
    assert heroes[0] is sl.shots[0] and len(heroes) == 2


def test_short_shots_still_get_narration_that_fits():
    sl = plan_rules("warrior in mystical forest", 10, clip_s=2)
    assert len(sl.shots) == 5
    for s in sl.shots:
        assert s.narration and _fits(s)


def test_shot_count_follows_the_clip_length():
    assert len(plan_rules("x in y", 30, clip_s=5).shots) == 6
    assert len(plan_rules("x in y", 30, clip_s=3).shots) == 10
    assert len(plan_rules("x in y", 3 * 3600).shots) == 2160


def test_grammar_for_long_films():
    types = [t.value for t in shot_grammar(60)]
    assert types[0] == "establishing" and types[-1] == "closing"
    assert all(a != b for a, b in zip(types, types[1:], strict=False) if a != "close_up")
    assert {"medium", "close_up", "detail", "wide", "action"} <= set(types)


def test_normalise_durations_keeps_proportions():
    d = normalise_durations([2.0, 4.0, 3.0], 30.0, 24)
    assert sum(d) == pytest.approx(30.0, abs=1e-9) and d[1] > d[2] > d[0]
    assert all(abs(x - round(x * 24) / 24) <= 0.0005 for x in d)  # frames, to the millisecond
    with pytest.raises(ValueError):
        normalise_durations([1.0, 0.0], 10.0)


def test_aspect_follows_the_resolution():
    assert plan_rules("x", 10, width=1080, height=1920).aspect == "9:16"
    assert plan_rules("x", 10, width=512, height=512).aspect == "1:1"


def test_no_narration_line_conjugates_a_verb_for_a_place_or_a_sound() -> None:
    # "the windswept plains" and "echoes" are plural, "the mystical forest" and "the wind" are
    # not: a verb agreeing with them would be wrong for some ("The windswept plains keeps").
    # The place or sound as a clause's subject: at its start, or after "as", "only", "then"...
    starts = r"(^|[.!?:;,] |\b(?:as|while|when|until|only|then|Then) )"
    agreeing = re.compile(starts + r"\{(?:place|Place|sound|Sound)\} [a-z]+s\b")
    lines = [line for family in NARRATION.values() for kind in family.values() for line in kind]
    assert lines and not [line for line in lines if agreeing.search(line)]
