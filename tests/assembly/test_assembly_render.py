"""Real renders of small timelines: length, size, codecs, faststart, audio placement, safety."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import psutil
import pytest
from subprocs import make

from videofactory.assembly import render
from videofactory.assembly.render import assemble
from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot, Transition
from videofactory.errors import AssemblyError, MediaError

SPEC = OutputSpec(320, 180, 24, preset="ultrafast")
FRAME = 1 / 24


def four_shots(media) -> Timeline:
    """Clips of four sizes and rates; narration on shots 2 and 3 (the second runs past the end)."""
    return Timeline(
        (
            TimelineShot("a", media.clip_a, 1.0),  # 0.0 - 1.0, 320x180 @ 24
            TimelineShot("b", media.clip_b, 1.5, media.tone_short, "A square clip."),  # 1.0 - 2.5
            TimelineShot(
                "c", media.clip_c, 1.0, media.tone_long, 'Held: "last" frame 🎬'
            ),  # 2.5 - 3.5
            TimelineShot("d", media.still, 0.5),  # 3.5 - 4.0, a portrait still
        ),
        SPEC,
    )


@pytest.fixture(scope="module")
def rendered(media, ffmpeg_bin, tmp_path_factory):
    """One render shared by the checks below (keeps the suite fast)."""
    out = tmp_path_factory.mktemp("render") / "final.mp4"
    progress: list[float] = []
    info = assemble(four_shots(media), out, ffmpeg=ffmpeg_bin, on_progress=progress.append)
    return out, info, progress


def test_output_is_exactly_the_timeline(rendered) -> None:
    out, info, progress = rendered
    assert info.path == out
    assert info.duration_s == pytest.approx(4.0, abs=FRAME)
    assert (info.width, info.height, info.fps) == (320, 180, 24.0)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.frames == 96
    assert (info.audio_codec, info.sample_rate, info.channels) == ("aac", 48000, 2)
    assert progress[-1] == 1.0
    assert not list(out.parent.glob(".*partial*"))


def test_moov_comes_before_mdat(rendered, boxes_of) -> None:
    boxes = boxes_of(rendered[0])
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_narration_sits_at_its_shot_start_and_is_cut_at_the_end(rendered, rms_of) -> None:
    rms, win = rms_of(rendered[0])

    def level(start: float, end: float) -> float:
        return float(rms[int(start / win) : int(end / win)].max())

    # Both tones have lavfi's amplitude 1/8; one gain brings the whole mix to the target, so
    # they keep the same level as each other. Where nothing plays, the room tone does (-60
    # dBFS RMS, 0.001): quiet, but never digital silence.
    tone = level(1.05, 1.45)
    assert tone > 0.05

    def floor(start: float, end: float) -> tuple[float, float]:
        part = rms[int(start / win) : int(end / win)]
        return float(part.min()), float(part.max())

    for start, end in ((0.0, 0.95), (1.6, 2.45)):  # shot a: no narration; then until shot c
        low, high = floor(start, end)
        assert 5e-4 < low and high < 2e-3, (start, low, high)
    assert level(2.55, 3.95) == pytest.approx(tone, rel=0.1)  # tone_long from 2.5, cut at 4.0
    assert len(rms) * win == pytest.approx(4.0, abs=FRAME)


def frame_at(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame {index}")


def test_clips_are_fitted_and_held(rendered, media) -> None:
    out = rendered[0]
    square = frame_at(out, 40)  # in shot b: 200x200 scaled to 180x180, pillarboxed
    assert square.shape == (180, 320, 3)
    assert square[:, :60].mean() < 8 and square[:, -60:].mean() < 8
    assert square[:, 80:240].mean() > 40
    held = [frame_at(out, n) for n in (73, 82)]  # shot c's clip ends at 0.5 s: frames repeat
    assert np.abs(held[0].astype(int) - held[1].astype(int)).mean() < 2
    portrait = frame_at(out, 90)  # shot d: a 240x320 still, 135x180 in the middle
    assert portrait[:, :80].mean() < 8 and portrait[:, 100:220].mean() > 40


def test_subtitles_are_written_beside_the_video(rendered) -> None:
    out = rendered[0]
    srt = out.with_suffix(".srt").read_text(encoding="utf-8")
    # Timed to the voice: the 0.5 s tone of shot b is up for the shortest cue (0.8 s), not the
    # whole 1.5 s shot; the 3 s tone of shot c runs past its shot, and its cue with it, to the
    # end of the video (where the mix cuts it).
    assert srt == (
        "1\n00:00:01,000 --> 00:00:01,800\nA square clip.\n\n"
        '2\n00:00:02,500 --> 00:00:04,000\nHeld: "last" frame 🎬\n'
    )
    vtt = out.with_suffix(".vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\nb\n00:00:01.000 --> 00:00:01.800\n")


def test_crop_fit_fills_the_frame(media, ffmpeg_bin, tmp_path) -> None:
    timeline = Timeline(
        (TimelineShot("b", media.clip_b, 0.5),),
        OutputSpec(160, 90, 12, preset="ultrafast", fit="crop"),
    )
    info = assemble(timeline, tmp_path / "crop.mp4", ffmpeg=ffmpeg_bin)
    assert (info.width, info.height, info.fps, info.frames) == (160, 90, 12.0, 6)
    frame = frame_at(tmp_path / "crop.mp4", 0)
    assert frame[:, :10].mean() > 40  # no black bars


@pytest.mark.parametrize(
    "field, words",
    [
        ("empty", "empty"),
        ("corrupt", "cannot read"),
        ("no_streams", "no audio or video stream"),
        ("audio_only", "no video stream"),
    ],
)
def test_a_bad_clip_is_named_with_its_shot(media, ffmpeg_bin, tmp_path, field, words) -> None:
    bad = getattr(media, field)
    timeline = Timeline((TimelineShot("ok", media.clip_a, 1.0), TimelineShot("s7", bad, 1.0)), SPEC)
    with pytest.raises(MediaError) as err:
        assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert str(bad) in str(err.value) and "s7" in str(err.value) and words in str(err.value)
    assert (err.value.path, err.value.task) == (str(bad), "s7/clip")
    assert not (tmp_path / "final.mp4").exists()


def test_a_missing_narration_is_named_with_its_shot(media, ffmpeg_bin, tmp_path) -> None:
    gone = tmp_path / "gone.wav"
    timeline = Timeline((TimelineShot("s1", media.clip_a, 1.0, gone, "hi"),), SPEC)
    with pytest.raises(MediaError, match="missing") as err:
        assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert (err.value.path, err.value.task) == (str(gone), "s1/narration")


def test_ffmpeg_failure_keeps_the_old_final(media, ffmpeg_bin, tmp_path) -> None:
    final = tmp_path / "final.mp4"
    final.write_bytes(b"the good old video")
    final.with_suffix(".srt").write_text("old subtitles")
    # x264 refuses an unknown preset when it opens the encoder: a real ffmpeg failure.
    timeline = Timeline(
        (TimelineShot("s1", media.clip_a, 1.0, media.tone_short, "hi"),),
        OutputSpec(320, 180, 24, preset="no-such-preset"),
    )
    with pytest.raises(AssemblyError) as err:
        assemble(timeline, final, ffmpeg=ffmpeg_bin)
    assert err.value.returncode not in (None, 0)
    assert err.value.argv[0] == ffmpeg_bin.path and "-filter_complex" in err.value.argv
    assert "preset" in err.value.stderr_tail.lower()
    assert final.read_bytes() == b"the good old video"
    assert final.with_suffix(".srt").read_text() == "old subtitles"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.mp4", "final.srt"]


def test_a_failed_loudness_pass_is_the_error_and_leaves_nothing(
    media, ffmpeg_bin, tmp_path, monkeypatch
) -> None:
    # A failed pass is the error raised, and it leaves nothing behind: no render, no mix file,
    # no half-written picture.
    real = render.measure_args

    def broken_mix(timeline, stage, *rest):
        args = real(timeline, stage, *rest)
        return ["-i", str(tmp_path / "gone.wav"), *args] if stage == "mix" else args

    monkeypatch.setattr(render, "measure_args", broken_mix)
    final = tmp_path / "final.mp4"
    final.write_bytes(b"the good old video")
    with pytest.raises(AssemblyError, match=r"loudness measurement \(mix\)") as err:
        assemble(four_shots(media), final, ffmpeg=ffmpeg_bin)
    assert "gone.wav" in err.value.stderr_tail
    assert final.read_bytes() == b"the good old video"
    assert [p.name for p in tmp_path.iterdir()] == ["final.mp4"]  # no partial file, no mix
    assert psutil.Process().children(recursive=True) == []  # no ffmpeg left running


def test_of_several_bad_clips_the_first_is_named(media, ffmpeg_bin, tmp_path) -> None:
    # The clips are probed a few at a time; the error is still the first in shot order.
    bad = [media.empty, media.corrupt, media.truncated, media.audio_only]
    shots = [TimelineShot("ok", media.clip_a, 1.0)]
    shots += [TimelineShot(f"bad{i}", path, 1.0) for i, path in enumerate(bad)]
    timeline = Timeline(tuple(shots), SPEC, loudness=None)
    for _ in range(5):
        with pytest.raises(MediaError) as err:
            assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
        assert (err.value.task, err.value.path) == ("bad0/clip", str(media.empty))
    assert list(tmp_path.iterdir()) == []


def test_a_shot_as_short_as_its_transition(media, ffmpeg_bin, tmp_path) -> None:
    # All of shot b is under the crossfade into it; its contact-sheet tile is the last frame.
    timeline = Timeline(
        (TimelineShot("a", media.clip_a, 1.0), TimelineShot("b", media.clip_b, 0.5)),
        SPEC,
        transition=Transition("crossfade", 0.5),
        loudness=None,
    )
    info = assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert info.frames == 36 == timeline.total_frames
    assert timeline.shot_middle_frames() == (12, 35)
    with av.open(str(tmp_path / "final.contact.jpg")) as c:
        sheet = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert sheet[4 + 90, 4 + 320 + 4 + 160].max() > 40  # the second tile is not left black


@pytest.mark.parametrize("kind", ["crossfade", "fadeblack"])
def test_one_frame_shots_and_transitions_keep_every_frame(media, ffmpeg_bin, tmp_path, kind):
    # Pieces of one frame (a shot of one frame, transitions of one frame at 12 fps) once left
    # two frames with one timestamp after the concat: the encoder dropped one.
    timeline = Timeline(
        tuple(
            TimelineShot(f"s{i}", media.clip_b, d) for i, d in enumerate([2 / 12, 1.5, 1 / 12, 1.5])
        ),
        OutputSpec(320, 180, 12, preset="ultrafast"),
        transition=Transition(kind, 0.1),
        loudness=None,
    )
    assert timeline.transition_frames() == (1, 1, 1)
    info = assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert info.frames == timeline.total_frames == 39


def test_a_still_image_holds_its_shot_at_a_low_frame_rate(media, ffmpeg_bin, tmp_path) -> None:
    # A PNG is one frame of 1/25 s: at 12 fps it is shorter than half an output frame, and the
    # fps filter dropped it, leaving the shot (and a one-shot video) without a single frame.
    timeline = Timeline(
        (TimelineShot("s", media.still, 0.5),), OutputSpec(160, 90, 12), loudness=None
    )
    info = assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert info.frames == 6 == timeline.total_frames


def test_a_video_short_of_frames_is_refused_though_its_sound_is_long(ffmpeg_bin, tmp_path):
    # The container lasts as long as its longer stream: a video that lost frames still has
    # the right duration when its sound runs to the end.
    short = make(
        ffmpeg_bin, tmp_path / "short.mp4",
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=12:d=0.5",
        "-f", "lavfi", "-i", "sine=d=1",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
    )  # fmt: skip
    timeline = Timeline((TimelineShot("s", short, 1.0),), OutputSpec(160, 90, 12), loudness=None)
    with pytest.raises(AssemblyError, match="6 video frames of 12"):
        render._verify(timeline, short)
