"""The generated music bed: repeatable, different per mood, looping without a click (through
ffmpeg's -stream_loop too), and the mood a film's plan points to."""

from __future__ import annotations

import numpy as np
import pytest

from videofactory.assembly import mood as mood_module
from videofactory.assembly.audio import AudioLevels, measure_args
from videofactory.assembly.bed import MOODS, loop_seconds, render_bed, seam_jump, write_wav
from videofactory.assembly.ffmpeg import run_ffmpeg
from videofactory.assembly.mood import DEFAULT_MOOD, KIND_MOODS, choose_mood
from videofactory.assembly.soundtrack import bed_for
from videofactory.assembly.timeline import Music, OutputSpec, Timeline, TimelineShot

RATE = 48000


def test_the_same_seed_gives_the_same_bed_and_another_seed_another() -> None:
    style = MOODS["warm"]
    one, again, other = render_bed(style, 11), render_bed(style, 11), render_bed(style, 12)
    assert np.array_equal(one, again)
    assert one.shape == (round(loop_seconds(style) * RATE), 2) and one.dtype == np.float32
    assert not np.array_equal(one[: len(other)], other[: len(one)])
    assert 10 ** (-3.05 / 20) < np.abs(one).max() <= 10 ** (-2.95 / 20)  # peak -3 dBFS


def spectrum_centroid(samples: np.ndarray) -> float:
    mono = samples.mean(axis=1)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1 / RATE)
    return float((power * freqs).sum() / power.sum())


def onset_rate(samples: np.ndarray) -> float:
    """Attacks per second: 10 ms frames whose level jumps by more than 6 dB."""
    mono = samples.mean(axis=1)
    step = RATE // 100
    frames = mono[: len(mono) // step * step].reshape(-1, step)
    level = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    return float((np.diff(level) > 6).sum() / (len(mono) / RATE))


def test_each_kind_of_film_gets_its_own_sound() -> None:
    beds = {kind: MOODS[KIND_MOODS[kind]] for kind in ("story", "explainer", "teaser", "travel")}
    assert len({style.name for style in beds.values()}) == 4
    rendered = {kind: render_bed(style, 5) for kind, style in beds.items()}
    # A teaser drives (a kick on every beat, fast arpeggios); a story does not.
    assert onset_rate(rendered["teaser"]) > 2 * onset_rate(rendered["story"])
    assert beds["teaser"].bpm > beds["explainer"].bpm > beds["story"].bpm
    # Not one timbre in four keys: their spectra differ.
    centroids = sorted(spectrum_centroid(x) for x in rendered.values())
    assert all(b - a > 20 for a, b in zip(centroids, centroids[1:], strict=False))


@pytest.mark.parametrize("name", sorted(MOODS))
def test_every_mood_loops_without_a_step_at_the_seam(name: str) -> None:
    loop = render_bed(MOODS[name], 3)
    twice = np.concatenate([loop, loop])
    # The step from the loop's last sample into its first is like any other step of it.
    assert seam_jump(twice, len(loop)) < 3.0
    # Not a seam hidden in silence: the music plays on across it.
    assert np.abs(loop[0]).max() > 1e-3 and np.abs(loop[-1]).max() > 1e-3


def test_seam_jump_tells_a_click_from_a_smooth_join() -> None:
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 220 * t)
    assert seam_jump(tone, RATE // 2) < 1.5  # the middle of a sine: no seam at all
    clicked = np.concatenate([tone[:1000], tone[1100:]])  # 100 samples cut out: a step
    assert seam_jump(clicked, 1000) > 10


def test_ffmpeg_loops_the_written_bed_seamlessly_in_the_mix(
    ffmpeg_bin, media, samples_of, tmp_path
) -> None:
    # The bed as the render plays it: -stream_loop over the WAV, gain, fade-in, through the
    # measuring pass's float mix (no AAC), two and a half loops long.
    style = MOODS["driving"]
    bed = write_wav(tmp_path / "bed.wav", render_bed(style, 9), RATE)
    loop = round(loop_seconds(style) * RATE)
    total = 2.5 * loop / RATE
    timeline = Timeline(
        (TimelineShot("s", media.clip_a, total),),
        OutputSpec(320, 180, 24),
        music=Music(bed, fade_in_s=0.5, fade_out_s=0.5, seamless=True),
    )
    mix = tmp_path / "mix.wav"
    run_ffmpeg(ffmpeg_bin, measure_args(timeline, "mix", AudioLevels(), mix))
    samples = samples_of(mix)
    assert len(samples) == round(total * RATE)
    for seam in (loop, 2 * loop):
        assert seam_jump(samples, seam) < 3.0, seam
    # The written file itself: 16-bit, dithered, the same music.
    written = samples_of(bed)
    assert np.abs(written - render_bed(style, 9)).max() < 3 / 32768


def test_the_bed_is_written_once_per_plan_and_reused(tmp_path) -> None:
    plan = {"concept": "product teaser for a red running shoe", "kind": "teaser"}
    music, choice = bed_for(plan, tmp_path)
    assert choice.mood == "driving" and music.seamless and music.duck
    assert music.path.parent == tmp_path and music.path.stat().st_size > 100_000
    stamp = music.path.stat().st_mtime_ns
    again, _ = bed_for(plan, tmp_path)
    assert again.path == music.path and again.path.stat().st_mtime_ns == stamp
    other, _ = bed_for({"concept": "a quiet garden at dawn"}, tmp_path)
    assert other.path != music.path


def test_mood_comes_from_the_mood_then_the_kind_then_the_words() -> None:
    assert choose_mood({"concept": "anything", "mood": "calm", "kind": "teaser"}).mood == "calm"
    assert choose_mood({"concept": "anything", "mood": "melancholy"}).mood == "wistful"
    assert choose_mood({"concept": "anything", "kind": "teaser"}).mood == "driving"
    assert choose_mood({"concept": "anything", "kind": "how-to"}).mood == "bright"
    assert choose_mood({"concept": "anything", "kind": "Day in the life"}).mood == "warm"
    # Words: the concept's count twice the style's.
    assert choose_mood({"concept": "how a CPU executes an instruction"}).mood == "bright"
    assert choose_mood({"concept": "warrior in mystical forest"}).mood == "epic"
    assert choose_mood({"concept": "a lonely walk", "style": "neon"}).mood == "wistful"
    assert choose_mood({"concept": "a walk", "style": "neon, fast"}).mood == "driving"
    # An unknown kind or mood falls through to the words; nothing at all: the default.
    assert choose_mood({"concept": "travel to an island", "kind": "odd"}).mood == "airy"
    plain = choose_mood({"concept": "a thing"})
    assert (plain.mood, plain.reason) == (DEFAULT_MOOD, "default")
    # The same concept and mood: the same seed; another concept: another.
    assert choose_mood({"concept": "a thing"}).seed == plain.seed
    assert choose_mood({"concept": "a thing 2"}).seed != plain.seed


def test_a_field_added_to_the_plan_later_plugs_in(monkeypatch) -> None:
    readers = (("tempo", lambda v: "driving" if v == "fast" else None), *mood_module.FIELD_READERS)
    monkeypatch.setattr(mood_module, "FIELD_READERS", readers)
    choice = choose_mood({"concept": "a quiet garden", "tempo": "fast"})
    assert (choice.mood, choice.reason) == ("driving", "tempo fast")
    assert choose_mood({"concept": "a quiet garden", "tempo": "slow"}).mood == "calm"
