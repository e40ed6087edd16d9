"""Random timelines of very short shots and transitions, rendered for real (fixed seeds).

Hand-written cases miss the corners: a shot as short as the transition into it, transitions
of one frame, a shot of one frame between two transitions. Each of these once broke the
graph or lost a frame; every timeline here must render to exactly its frame count.
"""

from __future__ import annotations

import random

import pytest

from videofactory.assembly.render import assemble
from videofactory.assembly.timeline import (
    Loudness,
    OutputSpec,
    Timeline,
    TimelineShot,
    Transition,
)

KINDS = ["cut", "crossfade", "fadeblack", "wipeleft", "circleopen"]


def random_timeline(rng: random.Random, media) -> Timeline:
    fps = rng.choice([12, 24])
    clips = [media.clip_a, media.clip_b, media.clip_c, media.still]

    def transition() -> Transition:
        kind = rng.choice(KINDS)
        return Transition(kind, 0 if kind == "cut" else rng.choice([1 / fps, 0.1, 0.25, 0.5]))

    shots = []
    for i in range(rng.randint(1, 5)):
        frames = rng.choice([1, 2, 3, 6, 12])
        voice = media.tone_short if rng.random() < 0.3 else None
        shots.append(
            TimelineShot(
                f"s{i}",
                rng.choice(clips),
                frames / fps,
                voice,
                "Hi." if voice else "",
                transition=transition() if rng.random() < 0.3 else None,
            )
        )
    return Timeline(
        tuple(shots),
        OutputSpec(160, 90, fps, preset="ultrafast"),
        transition=transition(),
        loudness=None if rng.random() < 0.5 else Loudness(),
    )


@pytest.mark.parametrize("seed", range(16))
def test_random_short_timelines_render_every_frame(media, ffmpeg_bin, tmp_path, seed) -> None:
    timeline = random_timeline(random.Random(seed), media)
    info = assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert info.frames == timeline.total_frames, timeline
    assert (tmp_path / "final.contact.jpg").stat().st_size > 0


def half_frame_timeline(rng: random.Random, media) -> Timeline:
    """Shots and transitions written in milliseconds that fall on half frames at 25 and 30 fps
    (and exact binary halves at 16), where round-half-to-even and the grid's halves-up differ."""
    fps, halves = rng.choice([(25, [0.06, 0.1, 0.18, 2.3]), (30, [0.05, 0.15, 0.25, 0.35]),
                              (16, [0.09375, 0.15625, 0.21875])])  # fmt: skip
    clips = [media.clip_a, media.clip_b, media.clip_c, media.still]

    def transition() -> Transition:
        kind = rng.choice(KINDS)
        return Transition(kind, 0 if kind == "cut" else rng.choice(halves))

    shots = [
        TimelineShot(
            f"s{i}",
            rng.choice(clips),
            rng.choice(halves),
            transition=transition() if rng.random() < 0.5 else None,
        )
        for i in range(rng.randint(2, 5))
    ]
    return Timeline(
        tuple(shots),
        OutputSpec(160, 90, fps, preset="ultrafast"),
        transition=transition(),
        loudness=None,
    )


@pytest.mark.parametrize("seed", range(6))
def test_half_frame_timelines_render_every_frame(media, ffmpeg_bin, tmp_path, seed) -> None:
    timeline = half_frame_timeline(random.Random(seed), media)
    # Every shot lasts an odd number of half frames: the first cut falls on a half.
    assert timeline.starts()[1] * timeline.output.fps % 1 == pytest.approx(0.5)
    info = assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert info.frames == timeline.total_frames, timeline
