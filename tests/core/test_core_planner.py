"""The rules planner: exact durations, shot grammar, heroes, narration that fits."""

from __future__ import annotations

import math

import pytest

from videofactory.constants import WORDS_PER_SECOND
from videofactory.errors import ConfigError
from videofactory.planning import plan_rules
from videofactory.planning.rules import shot_durations, split_concept


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
        assert len(s.narration.split()) <= s.duration * WORDS_PER_SECOND
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
