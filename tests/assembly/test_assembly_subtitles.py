"""Subtitles (SRT, WebVTT, ASS for burning) and reading ebur128's summary. Pure."""

from __future__ import annotations

from pathlib import Path

from videofactory.assembly.audio import levels_for, parse_ebur128
from videofactory.assembly.safearea import PHONE, caption_margins
from videofactory.assembly.subtitles import fonts_dir, subtitles_ass, subtitles_srt, subtitles_vtt
from videofactory.assembly.timeline import Music, OutputSpec, Timeline, TimelineShot

SPEC = OutputSpec(640, 360, 24)
HOSTILE = 'She said "stop" — it\'s 10:30; C:\\path\\new 🎬🔥 <i>&amp;</i> {\\b1} a --> b'


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
        'She said "stop" — it\'s 10:30; C:\\path\\new 🎬🔥 <i>&amp;</i> {\\b1} a -> b\nline 2\n'
    )


def test_vtt_cues_are_escaped_and_identified_by_shot() -> None:
    assert subtitles_vtt(narrated()) == (
        "WEBVTT\n"
        "\n"
        "intro\n00:00:00.000 --> 00:00:02.000\nHello, world.\n"
        "\n"
        "hostile\n00:00:03.500 --> 01:01:04.750\n"
        'She said "stop" — it\'s 10:30; C:\\path\\new 🎬🔥 '
        "&lt;i&gt;&amp;amp;&lt;/i&gt; {\\b1} a -&gt; b\n"
        "line 2\n"
    )


def test_ass_for_burning_neutralises_commands_and_drops_emoji() -> None:
    script = subtitles_ass(narrated())
    assert "PlayResX: 640\nPlayResY: 360\n" in script
    assert "Style: Default,DejaVu Sans,20," in script  # 5.5 % of the short side
    events = [line for line in script.splitlines() if line.startswith("Dialogue:")]
    assert events[0] == "Dialogue: 0,0:00:00.00,0:00:02.00,Default,,0,0,0,,Hello, world."
    # A word joiner after each backslash keeps "\n" and "\b1" literal; braces are escaped.
    assert events[1] == (
        "Dialogue: 0,0:00:03.50,1:01:04.75,Default,,0,0,0,,"
        'She said "stop" — it\'s 10:30; C:\\\u2060path\\\u2060new  <i>&amp;</i> '
        "\\{\\\u2060b1\\} a -> b\\Nline 2"
    )


def test_vertical_captions_sit_above_the_phone_apps_interface() -> None:
    """TikTok, Reels and Shorts cover the bottom ~22 % and a right-hand column of buttons:
    a 9:16 script keeps its captions above and left of them (in ASS margins), a WebVTT file
    says the same in cue settings; 16:9 keeps the broadcast 5 % margins."""
    assert caption_margins(1080, 1920) == (65, 162, 461)
    assert caption_margins(720, 1280) == (43, 108, 307)
    assert caption_margins(1280, 720) == (36, 36, 36)
    assert PHONE.box(1080, 1920) == (65, 211, 918, 1498)
    vertical = Timeline(narrated().shots, OutputSpec(720, 1280, 24))
    script = subtitles_ass(vertical)
    assert "PlayResX: 720\nPlayResY: 1280\n" in script
    assert "Style: Default,DejaVu Sans,40,&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000," in script
    assert script.split("Style: Default,")[1].split("\n")[0].endswith(",2,43,108,307,1")
    cues = subtitles_vtt(vertical).split("\n\n")
    assert cues[1].splitlines()[1] == (
        "00:00:00.000 --> 00:00:02.000 line:76%,end position:45.5%,center size:79% align:center"
    )
    assert "line:" not in subtitles_vtt(narrated())  # landscape: players place cues well


def test_subtitles_without_narration_are_empty_but_valid() -> None:
    timeline = Timeline((TimelineShot("s", Path("a.mp4"), 1.0, narration_text="  \n "),), SPEC)
    assert subtitles_srt(timeline) == ""
    assert subtitles_vtt(timeline) == "WEBVTT\n"
    assert "Dialogue:" not in subtitles_ass(timeline)


def test_the_font_ships_with_its_licence() -> None:
    assert (fonts_dir() / "DejaVuSans.ttf").stat().st_size > 500_000
    assert "Bitstream Vera" in (fonts_dir() / "DejaVuSans-LICENSE.txt").read_text()


# What ffmpeg 9 prints for two meters (speech first in the graph, then music); 5.1 alike.
EBUR128 = """[Parsed_ebur128_9 @ 0x55] Summary:

  Integrated loudness:
    I:         -30.2 LUFS
    Threshold: -40.9 LUFS

  Loudness range:
    LRA:         3.1 LU
    Threshold: -51.0 LUFS
    LRA low:   -32.3 LUFS
    LRA high:  -29.2 LUFS
[Parsed_ebur128_4 @ 0x7f] Summary:

  Integrated loudness:
    I:         -21.5 LUFS
    Threshold: -31.8 LUFS

  Loudness range:
    LRA:         0.0 LU
    Threshold:   0.0 LUFS
    LRA low:     0.0 LUFS
    LRA high:    0.0 LUFS

  True peak:
    Peak:       -9.0 dBFS
[out#0/null @ 0x56] video:0KiB audio:1031KiB
"""


def test_ebur128_summaries_are_read_in_graph_order() -> None:
    speech, music = parse_ebur128(EBUR128)
    assert (speech.input_i, speech.input_thresh, speech.input_lra, speech.input_tp) == (
        -21.5,
        -31.8,
        0.0,
        -9.0,
    )
    assert (music.input_i, music.input_thresh, music.input_lra, music.input_tp) == (
        -30.2,
        -40.9,
        3.1,
        99.0,  # no true peak asked: loudnorm's "not measured"
    )
    timeline = Timeline(
        (TimelineShot("s", Path("a.mp4"), 1.0, Path("n.wav")),), SPEC, music=Music(Path("m.mp3"))
    )
    levels = levels_for(timeline, speech, music)
    assert levels.music_gain_db == round(-21.5 - 8 + 30.2, 2)  # 8 LU under the narration
    assert levels.duck_threshold == 10 ** ((-21.5 - 12) / 20)


def test_silence_measures_as_silent() -> None:
    (mix,) = parse_ebur128(EBUR128.split("[Parsed_ebur128_4")[0].replace("-30.2", "-70.0"))
    assert mix.silent
