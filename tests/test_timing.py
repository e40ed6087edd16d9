"""Seconds and frames: the two rounding rules, and the planner and the assembly agreeing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot
from videofactory.comfy.frames import frames_for
from videofactory.planning.timing import shot_durations
from videofactory.timing import frames_covering, frames_in, seconds_of

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    ("seconds", "fps", "frames"),
    [
        (0.35, 30, 11),  # 10.5 frames: round() gives 10 (half to even), the grid 11
        (0.25, 30, 8),  # 7.5
        (10.02, 25, 251),  # 250.5
        (2.3, 25, 58),  # 57.5, computed as 57.49999999999999
        (0.58, 25, 15),  # 14.5, computed as 14.499999999999998
        (1.3, 24, 31),  # 31.2
        (0.7, 24, 17),  # 16.8
        (0.0, 24, 0),
    ],
)
def test_frames_in_is_the_nearest_frame_with_halves_up(seconds, fps, frames) -> None:
    assert frames_in(seconds, fps) == frames


def test_a_half_frame_lands_on_the_same_side_wherever_it_falls() -> None:
    # Python's round() alternates (0.5 -> 0, 1.5 -> 2, 2.5 -> 2): one half-frame shot after
    # another would get 0, 2, 0, 2 frames. On the grid every half goes up.
    halves = [frames_in(seconds_of(k + 0.5, 30), 30) for k in range(200)]
    assert halves == [k + 1 for k in range(200)]


@pytest.mark.parametrize(
    ("seconds", "fps", "frames"),
    [
        (5.0, 16, 80),
        (4.8, 16, 77),  # 76.8: the next whole frame
        (0.07, 100, 7),  # computed as 7.000000000000001: not one frame more
        (0.071, 100, 8),
        (1 / 24, 24, 1),
    ],
)
def test_frames_covering_is_the_fewest_frames_that_last_the_time(seconds, fps, frames) -> None:
    assert frames_covering(seconds, fps) == frames
    assert seconds_of(frames, fps) >= seconds - 1e-9
    assert seconds_of(frames - 1, fps) < seconds


@pytest.mark.parametrize("fps", [12, 16, 24, 25, 30, 50, 60, 120])
def test_a_whole_number_of_frames_survives_the_round_trip(fps) -> None:
    for n in range(0, 5000):
        assert frames_in(seconds_of(n, fps), fps) == n
        assert frames_covering(seconds_of(n, fps), fps) == n
        if n:
            assert frames_for(seconds_of(n, fps), fps) == n


def test_frames_in_never_goes_backwards() -> None:
    rng = random.Random(7)
    for fps in (24, 25, 30, 60):
        times = sorted(rng.randrange(0, 600_000) / 1000 for _ in range(2000))
        frames = [frames_in(t, fps) for t in times]
        assert frames == sorted(frames)


@pytest.mark.parametrize("fps", [24, 25, 30, 50, 60])
@pytest.mark.parametrize(("duration", "n"), [(7.5, 3), (10.02, 4), (30.0, 6), (61.3, 9), (3.3, 7)])
def test_planned_shots_keep_their_frames_in_the_assembly(fps, duration, n) -> None:
    """The planner's millisecond durations, cut on the assembly's grid, give back the planner's
    frame count: every shot at least one frame, the whole exactly ``frames_in(duration)``."""
    durations = shot_durations(duration, n, fps)
    shots = tuple(TimelineShot(f"s{i}", Path(f"c{i}.mp4"), d) for i, d in enumerate(durations))
    timeline = Timeline(shots, OutputSpec(640, 360, fps))
    assert timeline.total_frames == frames_in(duration, fps)
    assert sum(timeline.shot_frames()) == timeline.total_frames
    assert min(timeline.shot_frames()) >= 1
    # Every shot but the last is a whole number of frames, and the cut keeps it.
    for d, frames in zip(durations[:-1], timeline.shot_frames(), strict=False):
        assert frames == frames_in(d, fps)


def test_half_frame_shots_alternate_no_more() -> None:
    # Four shots of 1.5 frames at 16 fps (3/32 s: exact in binary), boundaries at 0, 1.5, 3,
    # 4.5 and 6 frames. round() put 1.5 up and 4.5 down: (0, 2, 3, 4, 6), shots 2, 1, 1, 2.
    shots = tuple(TimelineShot(f"s{i}", Path(f"c{i}.mp4"), 0.09375) for i in range(4))
    timeline = Timeline(shots, OutputSpec(640, 360, 16), thumbnail_s=0.28125)
    assert timeline.boundaries() == (0, 2, 3, 5, 6)
    assert timeline.shot_frames() == (2, 1, 2, 1)
    assert timeline.thumbnail_frame() == 5  # 4.5 frames in: round() gave 4
