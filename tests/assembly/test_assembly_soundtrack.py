"""The soundtrack by default: a bed under a real voice, room tone where nothing else plays, no
digital silence, the loudness target met; the user's music looped without a click; --music."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from subprocs import make

from videofactory.assembly.bed import seam_jump
from videofactory.assembly.ffmpeg import run_ffmpeg
from videofactory.assembly.probe import check_media
from videofactory.assembly.render import assemble
from videofactory.assembly.soundcheck import check_sound_of
from videofactory.assembly.soundtrack import (
    AUTO,
    LOOP_CROSSFADE_S,
    NONE,
    loop_for,
    loop_point,
    music_for,
    music_setting,
)
from videofactory.assembly.timeline import Music, OutputSpec, Timeline, TimelineShot
from videofactory.errors import MediaError
from videofactory.store import Store

SPEC = OutputSpec(160, 90, 24, preset="ultrafast")
RATE = 48000
#: Short lines in longer shots, as the planner writes them: most of the film has no voice.
LINES = ("The keeper wakes.", "He climbs the stairs. Then he lights the lamp!", "Night falls.")
PLAN = {"concept": "a day in the life of a lighthouse keeper", "kind": "story"}


@pytest.fixture(scope="module")
def film(media, ffmpeg_bin, tmp_path_factory):
    """Three 2.5 s shots narrated by the local voice (eSpeak NG): sparse, peaky speech."""
    from videofactory.tts.local import EspeakSpeech

    folder = tmp_path_factory.mktemp("film")
    voice = EspeakSpeech()
    clip = make(
        ffmpeg_bin, folder / "c.mp4", "-f", "lavfi", "-i", "testsrc2=s=160x90:r=24:d=2.5",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
    )  # fmt: skip
    shots = []
    for i, line in enumerate(LINES):
        speech = voice.speak(line, folder / f"s{i}.wav").path
        shots.append(TimelineShot(f"s{i}", clip, 2.5, speech, line))
    return folder, tuple(shots)


def render(film, ffmpeg_bin, name: str, **sound) -> Path:
    folder, shots = film
    out = folder / name / "final.mp4"
    assemble(Timeline(shots, SPEC, **sound), out, ffmpeg=ffmpeg_bin)
    return out


def test_the_default_bed_leaves_no_digital_silence_and_meets_the_target(film, ffmpeg_bin):
    music, _ = music_for(AUTO, PLAN, film[0] / "run")
    check = check_sound_of(render(film, ffmpeg_bin, "auto", music=music), ffmpeg=ffmpeg_bin)
    assert check.silences == ()  # not 0.1 s of digital silence anywhere
    assert check.loudness.input_i == pytest.approx(-14.0, abs=1.0)
    assert check.loudness.input_tp <= -1.0 + 0.3


def test_without_music_the_room_tone_still_fills_the_gaps(film, ffmpeg_bin):
    check = check_sound_of(render(film, ffmpeg_bin, "none"), ffmpeg=ffmpeg_bin)
    assert check.longest_silence_s < 0.5
    assert check.silence_share < 0.02
    assert check.loudness.input_i == pytest.approx(-14.0, abs=1.0)
    # What the video had before: no bed, no room tone; the voice alone, mostly silence.
    bare = check_sound_of(render(film, ffmpeg_bin, "bare", room_tone_dbfs=None))
    assert bare.longest_silence_s > 0.5 and bare.silence_share > 0.3


def band_level(samples: np.ndarray, start: float, end: float, top_hz: float) -> float:
    """RMS of the audio below ``top_hz`` between two times (one FFT of the stretch)."""
    part = samples[int(start * RATE) : int(end * RATE)].mean(axis=1)
    spectrum = np.fft.rfft(part * np.hanning(len(part)))
    freqs = np.fft.rfftfreq(len(part), 1 / RATE)
    return float(np.sqrt((np.abs(spectrum[freqs < top_hz]) ** 2).sum()))


def test_the_bed_ducks_under_the_voice(media, ffmpeg_bin, samples_of, tmp_path):
    # A "voice" of 3 kHz for the first second: below 1 kHz, all that plays is the bed.
    voice = make(ffmpeg_bin, tmp_path / "v.wav", "-f", "lavfi", "-i", "sine=f=3000:d=1")
    music, _ = music_for(AUTO, {"concept": "calm garden"}, tmp_path)
    levels = {}
    for name, narration in (("bed", None), ("mix", voice)):
        shots = (TimelineShot("a", media.clip_a, 3.0, narration, "Hello."),)
        out = tmp_path / name / "final.mp4"
        timeline = Timeline(shots, SPEC, music=music, loudness=None, room_tone_dbfs=None)
        assemble(timeline, out, ffmpeg=ffmpeg_bin)
        samples = samples_of(out)
        levels[name] = [band_level(samples, a, b, 1000) for a, b in ((0.3, 0.9), (1.8, 2.4))]
    under, after = (m / b for m, b in zip(levels["mix"], levels["bed"], strict=True))
    assert under < 0.5  # ducked by more than 6 dB while the voice speaks
    assert after == pytest.approx(1.0, abs=0.15)  # and back once it has stopped


def tone_file(ffmpeg_bin, path: Path, seconds: float) -> Path:
    # 220 Hz for a length that is no whole number of periods: looped as it is, it steps.
    return make(ffmpeg_bin, path, "-f", "lavfi", "-i", f"sine=f=220:d={seconds}:r={RATE}")


def test_a_short_music_file_loops_with_a_crossfade_not_a_click(ffmpeg_bin, samples_of, tmp_path):
    song = tone_file(ffmpeg_bin, tmp_path / "song.wav", 1.2345)
    n = round(1.2345 * RATE)
    # What -stream_loop alone does: the file's end meets its start with a step.
    naive = tmp_path / "naive.wav"
    run_ffmpeg(ffmpeg_bin, ["-stream_loop", "-1", "-i", str(song), "-t", "3", str(naive)])
    assert seam_jump(samples_of(naive), n) > 10
    # Looped for the film: its start once, then the body joined to itself where it matches.
    info = check_media(song, kind="audio")
    dest = loop_for(Music(song), info, 4.0, RATE, tmp_path / "looped.wav")
    assert dest is not None
    looped = samples_of(dest)
    assert len(looped) == 4 * RATE
    source = samples_of(song)
    loop, fade = loop_point(source, RATE)
    assert fade == round(LOOP_CROSSFADE_S * RATE) and n - RATE < loop <= n - fade
    # It starts as the file does (mono spread to both sides at -3 dB, as ffmpeg does).
    start = source[: RATE // 2, 0] * np.sqrt(0.5)
    assert np.abs(looped[: RATE // 2] - start[:, None]).max() < 3 / 32768
    # The joins: the loop point is a whole number of periods, so the crossfade is seamless.
    for seam in range(fade + loop, len(looped), loop):
        assert seam_jump(looped, seam) < 2.0, seam
    levels = np.sqrt((looped.reshape(-1, RATE // 10, 2) ** 2).mean(axis=(1, 2)))
    assert levels.min() > 0.9 * levels.max()  # no dip where the passes cross


def test_a_loop_is_made_only_when_the_music_is_shorter(ffmpeg_bin, tmp_path):
    song = tone_file(ffmpeg_bin, tmp_path / "song.wav", 2.0)
    info = check_media(song, kind="audio")
    assert loop_for(Music(song), info, 1.5, RATE, tmp_path / "a.wav") is None
    assert loop_for(Music(song, seamless=True), info, 9.0, RATE, tmp_path / "b.wav") is None
    assert not (tmp_path / "a.wav").exists() and not (tmp_path / "b.wav").exists()


def test_the_render_loops_short_music_and_leaves_no_work_files(media, ffmpeg_bin, tmp_path):
    song = tone_file(ffmpeg_bin, tmp_path / "song.wav", 0.7)
    out = tmp_path / "out" / "final.mp4"
    shots = (TimelineShot("a", media.clip_a, 1.5), TimelineShot("b", media.clip_b, 1.5))
    assemble(Timeline(shots, SPEC, music=Music(song)), out, ffmpeg=ffmpeg_bin)
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "final.contact.jpg", "final.mp4", "final.srt", "final.thumb.jpg", "final.vtt",
    ]  # fmt: skip
    assert check_sound_of(out, ffmpeg=ffmpeg_bin).silences == ()


def test_music_setting_refuses_a_bad_file_in_one_line(media, tmp_path):
    assert music_setting(None) == AUTO and music_setting("auto") == AUTO
    assert music_setting(" None ") == NONE
    assert music_setting(str(media.tone_long)) == str(media.tone_long.resolve())
    for bad in (tmp_path / "missing.mp3", media.corrupt, media.empty, media.clip_a):
        with pytest.raises(MediaError) as err:
            music_setting(str(bad))
        message = str(err.value)
        assert "--music" in message and str(bad) in message and "\n" not in message


def test_music_for_each_setting(media, tmp_path):
    bed, sound = music_for(None, PLAN, tmp_path)
    assert bed is not None and bed.path.parent == tmp_path / "music" and bed.seamless
    assert sound.startswith("generated bed, warm")
    assert music_for(NONE, PLAN, tmp_path) == (None, "no music (room tone only)")
    mine, sound = music_for(str(media.tone_long), PLAN, tmp_path)
    assert mine == Music(media.tone_long) and sound == "music long.wav"
    with pytest.raises(MediaError, match="--music"):
        music_for(str(tmp_path / "gone.mp3"), PLAN, tmp_path)


# -- the commands ---------------------------------------------------------------------------


def test_generate_refuses_bad_music_before_any_work(cli, media, tmp_path):
    work = tmp_path / "w"
    for bad in (str(media.corrupt), str(tmp_path / "nope.ogg")):
        res = cli("generate", "a red shoe", "-d", "4", "--music", bad, "--workdir", str(work))
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "--music" in lines[0] and "Traceback" not in res.stderr
    assert not work.exists()  # nothing planned, recorded or rendered


@pytest.mark.slow
def test_render_with_music_none_records_it_and_still_has_no_silence(cli, tmp_path):
    shots = tmp_path / "shots.yaml"
    res = cli(
        "plan", "a lighthouse keeper at dawn", "-d", "4", "--clip-seconds", "2",
        "--width", "160", "--height", "90", "-o", str(shots),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    work = tmp_path / "w"
    res = cli("render", str(shots), "--music", "none", "--json", "--workdir", str(work))
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    with Store.for_workdir(work) as store:
        assert store.run(summary["run_id"])["settings"]["music"] == "none"
    run_dir = Path(summary["run_dir"])
    assert not (run_dir / "music").exists()  # no bed was made
    check = check_sound_of(run_dir / "final.mp4")
    assert check.longest_silence_s < 0.5
    assert check.loudness.input_i == pytest.approx(-14.0, abs=1.0)


@pytest.mark.slow
def test_generate_scores_the_film_with_a_bed_by_default(cli, tmp_path):
    work = tmp_path / "w"
    res = cli(
        "generate", "product teaser for a red running shoe", "-d", "4", "--clip-seconds", "2",
        "--width", "160", "--height", "90", "--json", "--workdir", str(work),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    run_dir = Path(summary["run_dir"])
    beds = list((run_dir / "music").glob("bed-driving-*.wav"))  # a teaser drives
    assert len(beds) == 1
    with Store.for_workdir(work) as store:
        assert store.run(summary["run_id"])["settings"]["music"] == "auto"
        said = [e["message"] for e in store.events(summary["run_id"])]
    assert any("generated bed, driving" in message for message in said)
    check = check_sound_of(run_dir / "final.mp4")
    assert check.silences == ()
    assert check.loudness.input_i == pytest.approx(-14.0, abs=1.0)
