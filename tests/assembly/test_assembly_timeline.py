"""The pure timeline: frame arithmetic, transitions' overlap, presets and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from videofactory.assembly.timeline import (
    Loudness,
    Music,
    OutputSpec,
    Timeline,
    TimelineShot,
    Transition,
)
from videofactory.errors import ConfigError
from videofactory.presets import canonical_transition, frame_size

SPEC = OutputSpec(640, 360, 24)


def shots(*durations: float) -> tuple[TimelineShot, ...]:
    return tuple(TimelineShot(f"s{i}", Path(f"c{i}.mp4"), d) for i, d in enumerate(durations))


def test_cut_frames_round_each_boundary_once() -> None:
    # 1.3 + 2.0 + 0.7 s at 24 fps: boundaries 0, 31.2, 79.2, 96 round to 0, 31, 79, 96.
    timeline = Timeline(shots(1.3, 2.0, 0.7), SPEC)
    assert timeline.boundaries() == (0, 31, 79, 96)
    assert timeline.shot_frames() == (31, 48, 17)
    assert timeline.transition_frames() == (0, 0)
    assert timeline.segment_frames() == (31, 48, 17)
    assert timeline.total_frames == 96


def test_a_transition_overlaps_the_head_of_the_shot_it_leads_into() -> None:
    timeline = Timeline(shots(2.0, 1.5, 2.0), SPEC, transition=Transition("crossfade", 0.5))
    assert timeline.transition_frames() == (12, 12)
    # The outgoing shot is rendered 12 frames longer; the total stays the shot list's.
    assert timeline.segment_frames() == (60, 48, 48)
    assert timeline.total_frames == 132 == round(timeline.total_s * 24)
    # Contact-sheet frames sit in the middle of each shot once its transition is over.
    assert timeline.shot_middle_frames() == (24, (48 + 12 + 84) // 2, (84 + 12 + 132) // 2)


def test_transitions_are_clamped_to_the_incoming_shot_and_per_shot_overrides_win() -> None:
    clips = shots(2.0, 0.25, 2.0)
    clips = (*clips[:2], TimelineShot("s2", Path("c2.mp4"), 2.0, transition=Transition("cut")))
    timeline = Timeline(clips, SPEC, transition=Transition("wipeleft", 1.0))
    assert timeline.transition_frames() == (6, 0)  # 1 s clamped to the 6-frame shot; then a cut
    assert timeline.transition_into(1).kind == "wipeleft"
    assert timeline.transition_into(2).is_cut


def test_many_shots_do_not_drift() -> None:
    timeline = Timeline(
        tuple(TimelineShot(f"s{i}", Path("c.mp4"), 0.1) for i in range(1000)), OutputSpec(fps=30)
    )
    assert timeline.total_s == pytest.approx(100.0, abs=1e-9)
    assert timeline.starts()[500] == pytest.approx(50.0, abs=1e-9)
    assert timeline.total_frames == 3000
    assert set(timeline.shot_frames()) == {3}


@pytest.mark.parametrize(
    "name, kind",
    [
        ("cut", "cut"),
        ("crossfade", "fade"),
        ("fadeblack", "fadeblack"),
        ("fade-through-black", "fadeblack"),
        ("WipeLeft", "wipeleft"),
        ("circleopen", "circleopen"),
        ("coverleft", "coverleft"),  # ffmpeg 7+: accepted here, checked against the binary later
    ],
)
def test_transition_names(name: str, kind: str) -> None:
    assert canonical_transition(name) == kind


@pytest.mark.parametrize(
    "aspect, resolution, size",
    [
        ("16:9", "480p", (854, 480)),
        ("16:9", "720p", (1280, 720)),
        ("16:9", "1080p", (1920, 1080)),
        ("16:9", "4K", (3840, 2160)),
        ("9:16", "1080p", (1080, 1920)),
        ("9:16", "480p", (480, 854)),
        ("1:1", "720p", (720, 720)),
    ],
)
def test_presets(aspect: str, resolution: str, size: tuple[int, int]) -> None:
    assert frame_size(aspect, resolution) == size
    spec = OutputSpec.from_presets(aspect, resolution, fps=30, fit="crop")
    assert (spec.width, spec.height, spec.fps, spec.fit) == (*size, 30, "crop")


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Timeline((), SPEC), "at least one shot"),
        (lambda: TimelineShot("s", Path("c.mp4"), 0.0), "duration"),
        (lambda: TimelineShot("s", Path("c.mp4"), float("nan")), "duration"),
        (lambda: Timeline(shots(0.01), SPEC), "shorter than one frame"),
        (lambda: Timeline((*shots(1), *shots(1)), SPEC), "unique"),
        (lambda: OutputSpec(641, 360), "even"),
        (lambda: OutputSpec(fps=0), "fps"),
        (lambda: OutputSpec(crf=60), "crf"),
        (lambda: OutputSpec(fit="stretch"), "fit"),  # type: ignore[arg-type]
        (lambda: Transition("spin"), "unknown transition 'spin'; use one of: cut, crossfade"),
        (lambda: Transition("fade", -1), "transition duration"),
        (lambda: Music(Path("m.mp3"), level_lu=float("inf")), "music level"),
        (lambda: Loudness(integrated_lufs=3), "target loudness"),
        (lambda: frame_size("4:3", "720p"), "unknown aspect '4:3'; use one of: 16:9, 9:16, 1:1"),
        (lambda: frame_size("16:9", "8k"), "unknown resolution '8k'"),
        (lambda: Timeline(shots(1), SPEC, thumbnail_s=5), "thumbnail"),
    ],
)
def test_invalid_values_are_refused_with_what_to_do(make, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        make()
    assert words in str(err.value)
