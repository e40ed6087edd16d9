"""Golden ffmpeg argv and filtergraphs for 1, 2 and 12 shots, every transition kind, sound."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videofactory.assembly.audio import (
    AudioLevels,
    LoudnessMeasurement,
    audio_graph,
    limited,
    linear_gain_db,
    mixed_audio_graph,
)
from videofactory.assembly.graph import build_ffmpeg_args, picture_frames, video_graph
from videofactory.assembly.timeline import (
    ClipFormat,
    Music,
    OutputSpec,
    Timeline,
    TimelineShot,
    Transition,
)

SPEC = OutputSpec(640, 360, 24)
FMT = "aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo"
LIMITER = (
    "lowpass=f=19000,alimiter=limit=0.794328:attack=5:release=60:level=0,"
    f"atrim=start_sample=240,asetpts=PTS-STARTPTS,{FMT}"
)
PAD = (
    "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2:color=black"
)


def chain(index: int, frames: int) -> str:
    return (
        f"[{index}:v:0]setpts=PTS-STARTPTS,fps=24:eof_action=pass,{PAD},setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop={frames},trim=end_frame={frames},setpts=PTS-STARTPTS[v{index}]"
    )


def trim(label: str, start: int, end: int, out: str) -> str:
    return (
        f"[{label}]trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS,"
        f"format=yuv420p[{out}]"
    )


def encode(total: str) -> list[str]:
    return [
        "-map", "[vout]", "-map", "[aout]", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "20", "-pix_fmt", "yuv420p", "-r", "24", "-c:a", "aac", "-b:a", "192k",
        "-ar", "48000", "-ac", "2", "-movflags", "+faststart", "-t", total, "file:out/final.mp4",
    ]  # fmt: skip


def test_golden_one_shot_silent_no_loudness() -> None:
    timeline = Timeline((TimelineShot("s1", Path("clips/s1.mp4"), 2.0),), SPEC, loudness=None)
    graph = ";".join(
        [
            chain(0, 48),
            "[v0]null[vout]",
            f"anullsrc=r=48000:cl=stereo,{FMT},atrim=end_sample=96000[bed]",
            "[bed]anull[speech]",
            "[speech]apad=whole_len=96000,atrim=end_sample=96000[levelled]",
            *room_tone(96000),
        ]
    )
    args = build_ffmpeg_args(timeline, Path("out/final.mp4"))
    assert args == ["-i", "file:clips/s1.mp4", "-filter_complex", graph, *encode("2")]
    # Without room tone the mix is the video's sound as it is.
    quiet = Timeline(timeline.shots, SPEC, loudness=None, room_tone_dbfs=None)
    assert audio_graph(quiet, 1, None, "aout")[-1] == (
        "[speech]apad=whole_len=96000,atrim=end_sample=96000[aout]"
    )


def room_tone(samples: int) -> list[str]:
    """Pink noise at -60 dBFS RMS (amplitude 1 measures -15.1), mixed under the levelled mix."""
    return [
        f"anoisesrc=r=48000:c=pink:a=0.00568853:seed=1618,lowpass=f=6000,{FMT},"
        f"atrim=end_sample={samples}[tone]",
        "[levelled][tone]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
        f"{FMT}[aout]",
    ]


def two_shots(kind: str) -> Timeline:
    return Timeline(
        (
            TimelineShot("s1", Path("clips/s1.mp4"), 2.0),
            TimelineShot("s2", Path("clips/s2.mp4"), 1.5, Path("speech/s2.wav"), "Hi"),
        ),
        SPEC,
        transition=Transition(kind, 0.5),
    )


def test_golden_two_shots_cut() -> None:
    assert video_graph(two_shots("cut"), "vout") == [
        chain(0, 48),
        chain(1, 36),
        "[v0][v1]concat=n=2:v=1:a=0,setpts=N/(24*TB)[vout]",
    ]


@pytest.mark.parametrize(
    "name, kind", [("crossfade", "fade"), ("fadeblack", "fadeblack"), ("wipeleft", "wipeleft")]
)
def test_golden_two_shots_transition(name: str, kind: str) -> None:
    # Shot 1 (48 frames) is rendered 12 frames longer; its tail blends with shot 2's head.
    assert video_graph(two_shots(name), "vout") == [
        chain(0, 60),
        chain(1, 36),
        "[v0]split=2[v0m0][v0t0]",
        trim("v0m0", 0, 48, "v0m"),
        trim("v0t0", 48, 60, "v0t"),
        "[v1]split=2[v1h0][v1m0]",
        trim("v1h0", 0, 12, "v1h"),
        trim("v1m0", 12, 36, "v1m"),
        *blend(kind, 1, 12, "0.5"),
        "[v0m][x1][v1m]concat=n=3:v=1:a=0,setpts=N/(24*TB)[vout]",
    ]


def test_golden_a_last_shot_wholly_under_its_transition() -> None:
    # Shot 2 is as short as the crossfade into it: it is all head, and still blended.
    timeline = Timeline(
        (TimelineShot("s1", Path("a.mp4"), 1.0), TimelineShot("s2", Path("b.mp4"), 0.5)),
        SPEC,
        transition=Transition("crossfade", 0.5),
    )
    assert video_graph(timeline, "vout")[2:] == [
        "[v0]split=2[v0m0][v0t0]",
        trim("v0m0", 0, 24, "v0m"),
        trim("v0t0", 24, 36, "v0t"),
        "[v1]split=1[v1h0]",
        trim("v1h0", 0, 12, "v1h"),
        *blend("fade", 1, 12, "0.5"),
        "[v0m][x1]concat=n=2:v=1:a=0,setpts=N/(24*TB)[vout]",
    ]
    assert timeline.total_frames == 36


def blend(kind: str, i: int, frames: int, seconds: str) -> list[str]:
    if kind == "fade":  # a crossfade: the head fades in (alpha) over the tail, in 4:2:0
        return [
            f"[v{i}h]format=yuva420p,fade=t=in:s=0:n={frames}:alpha=1[v{i}a]",
            f"[v{i - 1}t][v{i}a]overlay=format=yuv420,format=yuv420p[x{i}]",
        ]
    return [
        f"[v{i - 1}t][v{i}h]xfade=transition={kind}:duration={seconds}:offset=0,"
        f"format=yuv420p[x{i}]"
    ]


def pieces(graph: list[str]) -> list[tuple[str, int, int]]:
    """(piece label, first frame, end frame) of every trim in a graph."""
    found = re.findall(r"\[(v\d+)[hmt]0\]trim=start_frame=(\d+):end_frame=(\d+)", ";".join(graph))
    return [(label, int(a), int(b)) for label, a, b in found]


@pytest.mark.parametrize("name", ["cut", "crossfade", "fadeblack", "circleopen", "dissolve"])
def test_twelve_shots_offsets_keep_the_total(name: str) -> None:
    durations = [5.0, 2.5, 4.0, 3.3, 5.0, 2.0, 6.0, 4.2, 3.0, 5.5, 2.2, 7.3]
    timeline = Timeline(
        tuple(TimelineShot(f"s{i:02d}", Path(f"c{i}.mp4"), d) for i, d in enumerate(durations)),
        SPEC,
        transition=Transition(name, 0.75),
    )
    graph = video_graph(timeline, "vout")
    bounds = timeline.boundaries()
    assert bounds[-1] == round(sum(durations) * 24) == timeline.total_frames == 1200
    if name == "cut":
        assert (
            graph[-1]
            == "".join(f"[v{i}]" for i in range(12)) + "concat=n=12:v=1:a=0,setpts=N/(24*TB)[vout]"
        )
        assert timeline.segment_frames() == timeline.shot_frames()
        return
    fade = 18  # 0.75 s at 24 fps
    assert timeline.transition_frames() == (fade,) * 11
    # Per shot: head (under the incoming transition), middle, tail (extension, outgoing).
    expected = []
    for i, frames in enumerate(timeline.shot_frames()):
        if i:
            expected.append((f"v{i}", 0, fade))
        expected.append((f"v{i}", fade if i else 0, frames))
        if i < 11:
            expected.append((f"v{i}", frames, frames + fade))
    assert pieces(graph) == expected
    blends = [line for i in range(1, 12) for line in blend(timeline.transition.kind, i, 18, "0.75")]
    assert [line for line in graph if line in blends] == blends  # all of them, in order
    # The concat joins middles and blends in order; pieces sum to the exact total.
    order = re.findall(r"\[(v\d+m|x\d+)\]", graph[-1])
    assert order == ["v0m"] + [p for i in range(1, 12) for p in (f"x{i}", f"v{i}m")]
    lengths = [b - a for _label, a, b in expected]
    middles_and_blends = sum(lengths) - 11 * fade  # each blend eats a head and a tail
    assert middles_and_blends == timeline.total_frames


def test_golden_pictures_and_burned_subtitles_with_a_hostile_path() -> None:
    timeline = Timeline(
        (TimelineShot("s1", Path("a.mp4"), 1.0), TimelineShot("s2", Path("b.mp4"), 1.0)),
        SPEC,
        loudness=None,
        thumbnail_s=1.75,
    )
    args = build_ffmpeg_args(
        timeline,
        Path("o.mp4"),
        subtitles_file=Path("/tmp/it's [a]: b,c;d\\e/s.ass"),
        fonts_dir=Path("/fonts"),
        pictures=Path("/runs/100% done/.pictures"),
    )
    text = args[args.index("-filter_complex") + 1]
    graph = text.split(";")
    assert "[v0][v1]concat=n=2:v=1:a=0,setpts=N/(24*TB)[vjoin]" in graph
    assert "[vjoin]split=2[smain][spics]" in graph
    assert (
        r"[smain]subtitles=filename=/tmp/it\\\'s \[a\]\\: b\,c\;d\\\\e/s.ass:fontsdir=/fonts[vout]"
        in text
    )
    # The shots' middles and the thumbnail, in frame order, each a JPEG as it passes (sheet.py);
    # a "%" in the folder's name stays literal for image2.
    assert r"[spics]select=eq(n\,12)+eq(n\,36)+eq(n\,42),scale=out_range=full[vpics]" in graph
    assert picture_frames(timeline) == [12, 36, 42]
    assert args[args.index("file:o.mp4") :] == [
        "file:o.mp4",
        "-map", "[vpics]", "-frames:v", "3", "-q:v", "2", "-fps_mode", "passthrough",
        "-start_number", "0", "-f", "image2", "file:/runs/100%% done/.pictures/%03d.jpg",
    ]  # fmt: skip


def test_golden_audio_music_ducked_under_narration_and_normalised() -> None:
    timeline = Timeline(
        (
            TimelineShot("s1", Path("a.mp4"), 2.0, Path("n1.wav"), "One"),
            TimelineShot("s2", Path("b.mp4"), 2.0),
        ),
        SPEC,
        music=Music(Path("song.mp3"), fade_out_s=1.0),
    )
    levels = AudioLevels(
        music_gain_db=-6.5,
        duck_threshold=0.05,
        mix=LoudnessMeasurement(-20.25, -4.5, 6.0, -30.5),
    )
    assert audio_graph(timeline, 2, levels, "aout") == [
        f"anullsrc=r=48000:cl=stereo,{FMT},atrim=end_sample=192000[bed]",
        f"[2:a:0]asetpts=PTS-STARTPTS,aresample=48000,{FMT},adelay=0|0[n2]",
        "[bed][n2]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
        "atrim=end_sample=192000[speechraw]",
        f"[3:a:0]asetpts=PTS-STARTPTS,aresample=48000,{FMT},atrim=end_sample=192000,"
        f"volume=-6.5dB,afade=t=out:st=3:d=1,{FMT}[music]",
        "[speechraw]asplit=2[speech][key]",
        f"[music][key]sidechaincompress=threshold=0.05:ratio=8:attack=20:release=400,{FMT}[ducked]",
        f"[speech][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,{FMT}[mix]",
        # +6.25 dB to -14 LUFS would put the peak at +1.75 dBTP: a limiter at -2 dBFS follows
        # (-1 dBTP, less the AAC's headroom and the peaks between samples), its 5 ms look-ahead
        # (240 samples) trimmed off.
        f"[mix]volume=6.25dB,{LIMITER},apad=whole_len=192000,atrim=end_sample=192000[levelled]",
        *room_tone(192000),
    ]
    args = build_ffmpeg_args(timeline, Path("o.mp4"), levels=levels)
    # Clips first, then narration, then the music, looped forever (the graph trims it).
    assert args[:8] == [
        "-i", "file:a.mp4", "-i", "file:b.mp4", "-i", "file:n1.wav",
        "-stream_loop", "-1",
    ]  # fmt: skip
    assert args[8:10] == ["-i", "file:song.mp3"]


def test_silent_mix_is_not_normalised() -> None:
    timeline = Timeline((TimelineShot("s1", Path("a.mp4"), 1.0),), SPEC)
    silent = AudioLevels(mix=LoudnessMeasurement(float("-inf"), float("-inf"), 0, -70))
    graph = ";".join(audio_graph(timeline, 1, silent, "aout"))
    assert "volume" not in graph and "alimiter" not in graph
    assert "anoisesrc" in graph  # the room tone plays, at its own level


def test_one_gain_when_the_peak_allows_it_else_a_limiter_after_it() -> None:
    timeline = Timeline((TimelineShot("s1", Path("a.mp4"), 2.0, Path("n.wav")),), SPEC)
    roomy = LoudnessMeasurement(-20.0, -9.0, 5.0, -30.0)  # +6 dB puts the peak at -3 dBTP
    peaky = LoudnessMeasurement(-20.0, -4.0, 5.0, -30.0)  # +6 dB would put it at +2 dBTP
    wide = LoudnessMeasurement(-20.0, -9.0, 25.0, -30.0)  # a wide range needs no limiter
    assert linear_gain_db(timeline, roomy) == pytest.approx(6.0)
    assert linear_gain_db(timeline, peaky) is None and limited(timeline, peaky)
    assert linear_gain_db(timeline, wide) == pytest.approx(6.0)
    assert linear_gain_db(Timeline(timeline.shots, SPEC, loudness=None), roomy) is None
    # The render reads the measuring pass's mix file: gain (and limiter), length, room tone.
    assert mixed_audio_graph(timeline, 1, AudioLevels(mix=roomy), "aout") == [
        f"[1:a:0]{FMT}[mixin]",
        "[mixin]volume=6dB,apad=whole_len=96000,atrim=end_sample=96000[levelled]",
        *room_tone(96000),
    ]
    # What the limiter takes off the loudness is made up (measured by the render).
    made_up = AudioLevels(mix=peaky, makeup_db=1.5)
    assert mixed_audio_graph(timeline, 1, made_up, "aout")[1] == (
        f"[mixin]volume=7.5dB,{LIMITER},apad=whole_len=96000,atrim=end_sample=96000[levelled]"
    )
    args = build_ffmpeg_args(
        timeline, Path("o.mp4"), levels=AudioLevels(mix=roomy), mix_file=Path("m.wav")
    )
    assert args[:4] == ["-i", "file:a.mp4", "-i", "file:m.wav"]  # no narration input


def test_a_clip_already_in_the_output_format_is_not_converted() -> None:
    ready = ClipFormat(640, 360, 24.0, "yuv420p", 1.0, constant_rate=True)
    other_rate = ClipFormat(640, 360, 30.0, "yuv420p", 1.0, constant_rate=True)
    variable = ClipFormat(640, 360, 24.0, "yuv420p", 1.0, constant_rate=False)
    small = ClipFormat(320, 180, 24.0, "yuvj420p", 1.0, constant_rate=True)
    shots = tuple(
        TimelineShot(f"s{i}", Path(f"{i}.mp4"), 1.0, source=source)
        for i, source in enumerate([ready, other_rate, variable, small])
    )
    graph = video_graph(Timeline(shots, SPEC, loudness=None), "out")
    tail = "tpad=stop_mode=clone:stop=24,trim=end_frame=24,setpts=PTS-STARTPTS"
    assert graph[:4] == [
        f"[0:v:0]setpts=PTS-STARTPTS,settb=1/24,{tail}[v0]",  # the time base only
        f"[1:v:0]setpts=PTS-STARTPTS,fps=24:eof_action=pass,{tail}[v1]",
        f"[2:v:0]setpts=PTS-STARTPTS,fps=24:eof_action=pass,{tail}[v2]",
        # the same shape, smaller: scaled, nothing to pad or crop
        f"[3:v:0]setpts=PTS-STARTPTS,settb=1/24,scale=640:360,setsar=1,format=yuv420p,{tail}[v3]",
    ]
