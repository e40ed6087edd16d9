"""The pure timeline: golden ffmpeg argv for 1, 2 and 3 shots, validation, subtitles."""

from __future__ import annotations

from pathlib import Path

import pytest

from videofactory.assembly.timeline import (
    OutputSpec,
    Timeline,
    TimelineShot,
    build_ffmpeg_args,
    subtitles_srt,
    subtitles_vtt,
)
from videofactory.errors import ConfigError

SPEC = OutputSpec(640, 360, 24)
FMT = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo"
PAD = (
    "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2:color=black"
)
CROP = "scale=640:360:force_original_aspect_ratio=increase,crop=640:360"


def video(index: int, fit: str, frames: int) -> str:
    return (
        f"[{index}:v:0]setpts=PTS-STARTPTS,fps=24,{fit},setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop={frames},trim=end_frame={frames},"
        f"setpts=PTS-STARTPTS[v{index}]"
    )


def speech(index: int, ms: int) -> str:
    return f"[{index}:a:0]asetpts=PTS-STARTPTS,aresample=48000,{FMT},adelay={ms}|{ms}[n{index}]"


def encode(total: str) -> list[str]:
    return [
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
        "-r",
        "24",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-movflags",
        "+faststart",
        "-t",
        total,
        "file:out/final.mp4",
    ]


def test_golden_one_shot_no_narration() -> None:
    timeline = Timeline((TimelineShot("s1", Path("clips/s1.mp4"), 2.0),), SPEC)
    graph = ";".join(
        [
            video(0, PAD, 48),
            "[v0]null[vout]",
            f"anullsrc=r=48000:cl=stereo,{FMT},atrim=end_sample=96000[bed]",
            "[bed]anull[aout]",
        ]
    )
    assert build_ffmpeg_args(timeline, Path("out/final.mp4")) == [
        "-i",
        "file:clips/s1.mp4",
        "-filter_complex",
        graph,
        *encode("2"),
    ]


def test_golden_two_shots_second_narrated() -> None:
    timeline = Timeline(
        (
            TimelineShot("s1", Path("clips/s1.mp4"), 2.0),
            TimelineShot("s2", Path("clips/s2.mp4"), 1.5, Path("speech/s2.wav"), "Hi"),
        ),
        SPEC,
    )
    graph = ";".join(
        [
            video(0, PAD, 48),
            video(1, PAD, 36),
            "[v0][v1]concat=n=2:v=1:a=0[vout]",
            f"anullsrc=r=48000:cl=stereo,{FMT},atrim=end_sample=168000[bed]",
            speech(2, 2000),
            "[bed][n2]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
            "atrim=end_sample=168000[aout]",
        ]
    )
    assert build_ffmpeg_args(timeline, Path("out/final.mp4")) == [
        "-i",
        "file:clips/s1.mp4",
        "-i",
        "file:clips/s2.mp4",
        "-i",
        "file:speech/s2.wav",
        "-filter_complex",
        graph,
        *encode("3.5"),
    ]


def test_golden_three_shots_crop_and_frame_rounding() -> None:
    # 1.3 + 2.0 + 0.7 s at 24 fps: boundaries 0, 31.2, 79.2, 96 round to 0, 31, 79, 96 frames,
    # so the shots get 31, 48 and 17 frames and the total is exactly 96 (4.0 s).
    timeline = Timeline(
        (
            TimelineShot("s1", Path("clips/s1.mp4"), 1.3, Path("speech/s1.wav"), "One"),
            TimelineShot("s2", Path("clips/s2.mp4"), 2.0),
            TimelineShot("s3", Path("clips/s3.mp4"), 0.7, Path("speech/s3.wav"), "Three"),
        ),
        OutputSpec(640, 360, 24, fit="crop"),
    )
    assert timeline.shot_frames() == (31, 48, 17)
    assert timeline.total_frames == 96
    graph = ";".join(
        [
            video(0, CROP, 31),
            video(1, CROP, 48),
            video(2, CROP, 17),
            "[v0][v1][v2]concat=n=3:v=1:a=0[vout]",
            f"anullsrc=r=48000:cl=stereo,{FMT},atrim=end_sample=192000[bed]",
            speech(3, 0),
            speech(4, 3300),
            "[bed][n3][n4]amix=inputs=3:duration=first:dropout_transition=0:normalize=0,"
            "atrim=end_sample=192000[aout]",
        ]
    )
    assert build_ffmpeg_args(timeline, Path("out/final.mp4")) == [
        "-i",
        "file:clips/s1.mp4",
        "-i",
        "file:clips/s2.mp4",
        "-i",
        "file:clips/s3.mp4",
        "-i",
        "file:speech/s1.wav",
        "-i",
        "file:speech/s3.wav",
        "-filter_complex",
        graph,
        *encode("4"),
    ]


def test_args_are_plain_strings_and_paths_with_colons_stay_files() -> None:
    timeline = Timeline((TimelineShot("a", Path("shot:1 $(x).mp4"), 1.0),), SPEC)
    args = build_ffmpeg_args(timeline, Path("o.mp4"))
    assert all(isinstance(a, str) for a in args)
    assert args[:2] == ["-i", "file:shot:1 $(x).mp4"]


def test_starts_total_and_many_shots_do_not_drift() -> None:
    shots = tuple(TimelineShot(f"s{i}", Path("c.mp4"), 0.1) for i in range(1000))
    timeline = Timeline(shots, OutputSpec(fps=30))
    assert timeline.total_s == pytest.approx(100.0, abs=1e-9)
    assert timeline.starts()[500] == pytest.approx(50.0, abs=1e-9)
    assert timeline.total_frames == 3000
    assert set(timeline.shot_frames()) == {3}


@pytest.mark.parametrize(
    "make",
    [
        lambda: Timeline((), SPEC),
        lambda: TimelineShot("s", Path("c.mp4"), 0.0),
        lambda: TimelineShot("s", Path("c.mp4"), float("nan")),
        lambda: Timeline((TimelineShot("s", Path("c.mp4"), 0.01),), SPEC),  # under one frame
        lambda: Timeline(
            (TimelineShot("s", Path("a.mp4"), 1), TimelineShot("s", Path("b.mp4"), 1)), SPEC
        ),
        lambda: OutputSpec(641, 360),
        lambda: OutputSpec(fps=0),
        lambda: OutputSpec(crf=60),
        lambda: OutputSpec(fit="stretch"),  # type: ignore[arg-type]
    ],
)
def test_invalid_values_are_refused(make) -> None:
    with pytest.raises(ConfigError):
        make()


HOSTILE = 'She said "stop" — it\'s 10:30; C:\\path\\file 🎬🔥 <i>&amp;</i> a --> b'


def narrated() -> Timeline:
    return Timeline(
        (
            TimelineShot("intro", Path("a.mp4"), 2.0, Path("a.wav"), "Hello, world."),
            TimelineShot("quiet", Path("b.mp4"), 1.5),
            TimelineShot(
                "hostile", Path("c.mp4"), 3661.25, Path("c.wav"), HOSTILE + "\r\n\r\nline 2"
            ),
        ),
        SPEC,
    )


def test_srt_cues_are_timed_to_shots_and_text_is_verbatim() -> None:
    assert subtitles_srt(narrated()) == (
        "1\n00:00:00,000 --> 00:00:02,000\nHello, world.\n"
        "\n"
        "2\n00:00:03,500 --> 01:01:04,750\n"
        'She said "stop" — it\'s 10:30; C:\\path\\file 🎬🔥 <i>&amp;</i> a -> b\nline 2\n'
    )


def test_vtt_cues_are_escaped_and_identified_by_shot() -> None:
    assert subtitles_vtt(narrated()) == (
        "WEBVTT\n"
        "\n"
        "intro\n00:00:00.000 --> 00:00:02.000\nHello, world.\n"
        "\n"
        "hostile\n00:00:03.500 --> 01:01:04.750\n"
        'She said "stop" — it\'s 10:30; C:\\path\\file 🎬🔥 '
        "&lt;i&gt;&amp;amp;&lt;/i&gt; a -&gt; b\n"
        "line 2\n"
    )


def test_subtitles_without_narration_are_empty_but_valid() -> None:
    timeline = Timeline((TimelineShot("s", Path("a.mp4"), 1.0, narration_text="  \n "),), SPEC)
    assert subtitles_srt(timeline) == ""
    assert subtitles_vtt(timeline) == "WEBVTT\n"
