"""Learned speeds: seeded from the farm file, one clock for learned and unlearned workers."""

from __future__ import annotations

import pytest

from videofactory.config import builtin_farm
from videofactory.farm.estimates import Estimates
from videofactory.vocabulary import TaskKind

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


def test_seeded_then_learned():
    est = Estimates(builtin_farm().workers)
    assert est.speed("gpu1", TaskKind.clip) == 0.55
    assert est.seconds("gpu0", TaskKind.clip, 90) == 90
    est.observe("gpu1", TaskKind.clip, 90, 90 / 0.5)  # a bit slower than the farm file said
    assert est.speed("gpu1", TaskKind.clip) == pytest.approx(0.5)
    est.observe("gpu1", TaskKind.clip, 90, 90 / 0.4)
    assert 0.4 < est.speed("gpu1", TaskKind.clip) < 0.5  # a moving average, not the last


def test_one_clock_for_a_farm_much_faster_than_modelled():
    # a simulated farm renders in a fraction of modelled GPU time: a worker nothing finished
    # on yet must be judged on that clock too, not look 100x slower than a learned one
    est = Estimates(builtin_farm().workers)
    est.observe("gpu1", TaskKind.clip, 90, 90 / 0.55 / 100)
    assert est.time_factor == pytest.approx(0.01)
    assert est.speed("gpu2", TaskKind.clip) == pytest.approx(est.speed("gpu1", TaskKind.clip))
    # another kind keeps the farm file's pace until one of its own finishes
    assert est.seconds("gpu5", TaskKind.keyframe, 6) == pytest.approx(6 / 0.7)


def test_learned_speeds_from_the_store_are_used():
    est = Estimates(builtin_farm().workers, {("gpu0", "hero"): 2.0, ("nope", "hero"): 9.0})
    assert est.speed("gpu0", TaskKind.hero) == 2.0
