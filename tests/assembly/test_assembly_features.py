"""Real renders of transitions, music, ducking, loudness, burned subtitles, pictures, presets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from subprocs import make

from videofactory.assembly.audio import parse_ebur128
from videofactory.assembly.outputs import side_files
from videofactory.assembly.render import assemble
from videofactory.assembly.safearea import PHONE
from videofactory.assembly.timeline import Music, OutputSpec, Timeline, TimelineShot, Transition
from videofactory.errors import AssemblyError, MediaError

SPEC = OutputSpec(160, 90, 24, preset="ultrafast")
FRAME = 1 / 24


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def mono(path: Path) -> tuple[np.ndarray, int]:
    chunks, rate = [], 0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            chunks.append(frame.to_ndarray().astype(np.float64).mean(axis=0))
    return np.concatenate(chunks), rate


def tone(samples: np.ndarray, rate: int, hz: float, start: float, end: float) -> float:
    """Amplitude of one frequency in a stretch of audio (a one-bin Fourier transform)."""
    part = samples[int(start * rate) : int(end * rate)]
    t = np.arange(len(part)) / rate
    return float(2 * abs(np.mean(part * np.exp(-2j * np.pi * hz * t))))


def loudness(ffmpeg_bin, path: Path):
    proc = subprocess.run(
        [ffmpeg_bin.path, "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a",
         "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return parse_ebur128(proc.stderr)[-1]


@pytest.fixture(scope="module")
def extra(ffmpeg_bin, tmp_path_factory):
    """Plain-colour clips (easy to tell apart) and a short music file."""
    d = tmp_path_factory.mktemp("extra")
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    red = make(ffmpeg_bin, d / "red.mp4", "-f", "lavfi", "-i", "color=red:s=160x90:r=24:d=2", *x264)
    blue = make(ffmpeg_bin, d / "blue.mp4", "-f", "lavfi", "-i", "color=blue:s=320x180:d=2", *x264)
    white = make(ffmpeg_bin, d / "w.mp4", "-f", "lavfi", "-i", "color=white:s=90x160:d=2", *x264)
    # 1.3 s of 220 Hz: it must loop to fill the video.
    song = make(ffmpeg_bin, d / "song.m4a", "-f", "lavfi", "-i", "sine=f=220:d=1.3", "-c:a", "aac")
    return {"red": red, "blue": blue, "white": white, "song": song, "dir": d}


@pytest.mark.parametrize("kind", ["crossfade", "fadeblack", "wipeleft"])
def test_transitions_keep_the_exact_length(extra, ffmpeg_bin, tmp_path, kind) -> None:
    timeline = Timeline(
        (
            TimelineShot("r", extra["red"], 1.0),
            TimelineShot("b", extra["blue"], 1.0),
            TimelineShot("w", extra["white"], 1.0),
        ),
        SPEC,
        transition=Transition(kind, 0.5),
        loudness=None,
    )
    info = assemble(timeline, tmp_path / "t.mp4", ffmpeg=ffmpeg_bin)
    assert info.duration_s == pytest.approx(3.0, abs=FRAME)
    frames = frames_of(tmp_path / "t.mp4")
    assert len(frames) == 72 == timeline.total_frames
    red, blue = frames[10].mean(axis=(0, 1)), frames[40].mean(axis=(0, 1))
    assert red[0] > 200 > 60 > red[2] and blue[2] > 200 > 60 > blue[0]
    middle = frames[24 + 6].mean(axis=(0, 1))  # half way through red -> blue
    if kind == "crossfade":
        assert 80 < middle[0] < 180 and 80 < middle[2] < 180  # a mix of both
        # Linear, as xfade's fade: frame k of the 12 shows k/12 of the new shot.
        reds = [frames[24 + k].mean(axis=(0, 1))[0] for k in range(12)]
        assert reds == pytest.approx(
            [red[0] + (blue[0] - red[0]) * k / 12 for k in range(12)], abs=6
        )
    elif kind == "fadeblack":
        assert min(frames[n].mean(axis=(0, 1)).max() for n in range(28, 33)) < 40  # via black
    else:
        left, right = frames[30][:, :40].mean(axis=(0, 1)), frames[30][:, -40:].mean(axis=(0, 1))
        assert left[0] > 150 and right[2] > 150  # half wiped: red on one side, blue on the other
    assert frames[-1][45, 80].min() > 200  # white at the end (a pillarboxed portrait clip)


@pytest.fixture(scope="module")
def scored(media, extra, ffmpeg_bin, tmp_path_factory):
    """Narration (880 Hz from 1.0 s to 4.0 s) over looped 220 Hz music, normalised."""
    out = tmp_path_factory.mktemp("scored") / "final.mp4"
    timeline = Timeline(
        (
            TimelineShot("a", extra["red"], 1.0),
            TimelineShot("b", extra["blue"], 3.0, media.tone_long, "Over: the \\music\\ 🎵"),
            TimelineShot("c", extra["white"], 2.0),
        ),
        SPEC,
        transition=Transition("crossfade", 0.25),
        music=Music(extra["song"], fade_out_s=1.0),
        burn_subtitles=True,
    )
    return out, assemble(timeline, out, ffmpeg=ffmpeg_bin)


def test_loudness_is_normalised_with_a_true_peak_ceiling(scored, ffmpeg_bin) -> None:
    out, info = scored
    assert info.duration_s == pytest.approx(6.0, abs=FRAME)
    measured = loudness(ffmpeg_bin, out)
    assert measured.input_i == pytest.approx(-14.0, abs=1.0)
    assert measured.input_tp <= -1.0 + 0.3  # AAC may overshoot the ceiling by a hair


def test_music_loops_ducks_under_narration_and_fades_out(scored) -> None:
    samples, rate = mono(scored[0])
    before = tone(samples, rate, 220, 0.2, 0.9)
    under = tone(samples, rate, 220, 1.8, 3.8)
    after = tone(samples, rate, 220, 4.3, 4.9)  # the 1.3 s song has looped several times
    end = tone(samples, rate, 220, 5.8, 6.0)
    assert before > 0.01 and after > 0.01
    assert under < before / 2 and under < after / 2  # ducked by more than 6 dB
    assert end < after / 3  # faded out
    assert tone(samples, rate, 880, 1.8, 3.8) > 4 * under  # the narration is on top


def test_subtitles_are_burned_and_timed_to_the_shot(scored) -> None:
    frames = frames_of(scored[0])
    bottom = slice(60, 88)
    # Shot b is plain blue: white text pixels appear only while its cue is on (1.0-4.0 s).
    lit = [int((f[bottom, :, 0] > 200).sum()) for f in frames]
    assert lit[60] > 20 and lit[90] > 20
    assert lit[110] == lit[130]  # white shot c: nothing changes, no cue
    srt = scored[0].with_suffix(".srt").read_text(encoding="utf-8")
    assert srt == "1\n00:00:01,000 --> 00:00:04,000\nOver: the \\music\\ 🎵\n"


def test_thumbnail_and_contact_sheet_are_written(scored) -> None:
    sides = side_files(scored[0])
    with av.open(str(sides["thumbnail"])) as c:
        thumb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert thumb.shape == (90, 160, 3) and thumb[..., 0].mean() > 200  # middle of red shot a
    with av.open(str(sides["contact_sheet"])) as c:
        sheet = next(c.decode(video=0)).to_ndarray(format="rgb24")
    # 3 shots: 2 columns x 2 rows of 320x180 tiles, 4 px padding and margin.
    assert sheet.shape == (4 + 180 + 4 + 180 + 4, 4 + 320 + 4 + 320 + 4, 3)
    assert sheet[50, 100, 0] > 200 and sheet[50, 500, 2] > 200  # red, then blue


def test_vertical_preset_crops_or_pads(extra, ffmpeg_bin, tmp_path) -> None:
    for fit in ("crop", "pad"):
        spec = OutputSpec.from_presets("9:16", "480p", fps=12, fit=fit, preset="ultrafast")
        timeline = Timeline((TimelineShot("b", extra["blue"], 0.5),), spec, loudness=None)
        info = assemble(timeline, tmp_path / f"{fit}.mp4", ffmpeg=ffmpeg_bin)
        assert (info.width, info.height, info.frames) == (480, 854, 6)
        top = frames_of(tmp_path / f"{fit}.mp4")[0][:100].mean()
        assert (top > 20) if fit == "crop" else (top < 5)


def test_burned_captions_stay_in_the_phone_safe_area(ffmpeg_bin, tmp_path) -> None:
    """In 9:16 the burned narration, wrapped to several lines, lies wholly inside the area
    TikTok, Reels and Shorts leave free: above the bottom 22 %, left of the right 15 %."""
    grey = make(ffmpeg_bin, tmp_path / "grey.mp4", "-f", "lavfi", "-i",
                "color=gray:s=360x640:r=12:d=1", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p")  # fmt: skip
    text = "A long line of narration that wraps over several lines on a narrow phone screen."
    spec = OutputSpec(360, 640, 12, preset="ultrafast")
    timeline = Timeline(
        (TimelineShot("s", grey, 1.0, narration_text=text),),
        spec,
        loudness=None,
        burn_subtitles=True,
    )
    assemble(timeline, tmp_path / "v.mp4", ffmpeg=ffmpeg_bin)
    frame = frames_of(tmp_path / "v.mp4")[6]
    ys, xs = np.nonzero(frame.min(axis=-1) > 200)  # the white letters
    assert len(ys) > 500  # several lines of text
    left, top, right, bottom = PHONE.box(360, 640)
    print(f"captions at x {xs.min()}..{xs.max()}, y {ys.min()}..{ys.max()}; safe area "
          f"x {left}..{right}, y {top}..{bottom}")  # fmt: skip
    assert ys.max() < bottom and ys.min() > top
    assert xs.min() >= left and xs.max() <= right
    assert ys.max() - ys.min() > 2 * 20  # wrapped: more than one 20 px line


def test_music_that_is_not_audio_is_refused(media, extra, ffmpeg_bin, tmp_path) -> None:
    timeline = Timeline((TimelineShot("a", extra["red"], 1.0),), SPEC, music=Music(media.still))
    with pytest.raises(MediaError) as err:
        assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    message = str(err.value)
    assert str(media.still) in message and "no audio stream" in message and "--music" in message
    assert not (tmp_path / "final.mp4").exists()


def test_a_clip_of_the_wrong_length_is_refused_with_its_task(extra, ffmpeg_bin, tmp_path) -> None:
    timeline = Timeline(
        (TimelineShot("s3", extra["red"], 1.0, clip_duration_s=5.0),), SPEC, loudness=None
    )
    with pytest.raises(MediaError) as err:
        assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)
    assert err.value.task == "s3/clip" and "lasts 2.000 s, expected 5.000 s" in str(err.value)


def test_a_transition_the_binary_lacks_is_reported_with_how_to_get_it(
    extra, ffmpeg_bin, tmp_path, monkeypatch
) -> None:
    from videofactory.assembly import render

    monkeypatch.setattr(render, "xfade_transitions", lambda ffmpeg: frozenset({"fade"}))
    timeline = Timeline(
        (TimelineShot("a", extra["red"], 1.0), TimelineShot("b", extra["blue"], 1.0)),
        SPEC,
        transition=Transition("coverleft"),
    )
    with pytest.raises(AssemblyError, match="no xfade transition coverleft .*7.0"):
        assemble(timeline, tmp_path / "final.mp4", ffmpeg=ffmpeg_bin)


def test_a_peaky_mix_is_limited_lands_on_the_target_and_keeps_its_ceiling(
    extra, ffmpeg_bin, tmp_path
):
    # A quiet tone with loud clicks: one gain to -14 LUFS would lift the clicks far past the
    # -1 dBTP ceiling, so the render must limit them, not just amplify.
    clicks = make(
        ffmpeg_bin,
        tmp_path / "clicks.wav",
        "-f", "lavfi", "-i",
        "aevalsrc=0.1*sin(2*PI*440*t)+0.8*lt(mod(t\\,0.5)\\,0.003):s=48000:d=6",
    )  # fmt: skip
    timeline = Timeline((TimelineShot("a", extra["red"], 6.0, clicks, "Clicks."),), SPEC)
    out = tmp_path / "final.mp4"
    assemble(timeline, out, ffmpeg=ffmpeg_bin)
    measured = loudness(ffmpeg_bin, out)
    assert measured.input_tp <= -1.0 + 0.3
    # On the target although the limiter takes the clicks off: what it takes is measured and
    # made up (loudnorm's dynamic mode landed 1-2 LU under it on this mix).
    assert measured.input_i == pytest.approx(-14.0, abs=0.5)
    assert not list(tmp_path.glob(".final*"))  # the mix file and partials are gone
