"""Subtitles as long as their words: timed to the voice in the narration file, a cue per
sentence, each change at the pause where the sentence ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videofactory.assembly.render import check_sound
from videofactory.assembly.spoken import spoken_of, spoken_span
from videofactory.assembly.subtitles import (
    LINGER_S,
    MIN_CUE_S,
    sentences,
    subtitles_ass,
    subtitles_srt,
    subtitles_vtt,
)
from videofactory.assembly.timeline import OutputSpec, Spoken, Timeline, TimelineShot

SPEC = OutputSpec(640, 360, 24)


def cues(timeline: Timeline) -> list[tuple[str, str, str]]:
    """(start, end, text) of every SRT cue."""
    out = []
    for block in subtitles_srt(timeline).strip().split("\n\n"):
        _n, stamps, *text = block.split("\n")
        start, end = stamps.split(" --> ")
        out.append((start, end, "\n".join(text)))
    return out


def shot(sid: str, seconds: float, text: str, spoken: Spoken | None) -> TimelineShot:
    return TimelineShot(sid, Path(f"{sid}.mp4"), seconds, Path(f"{sid}.wav"), text, spoken=spoken)


def test_a_cue_comes_and_goes_with_its_voice_not_with_the_shot() -> None:
    timeline = Timeline(
        (
            shot("a", 5.0, "The keeper wakes.", Spoken(0.2, 1.4)),
            shot("b", 5.0, "Now!", Spoken(0.05, 0.35)),
            shot("c", 5.0, "Untimed.", None),  # no measured voice: the whole shot
        ),
        SPEC,
    )
    assert cues(timeline) == [
        ("00:00:00,200", "00:00:01,650", "The keeper wakes."),  # 0.25 s after the voice
        ("00:00:05,050", "00:00:05,850", "Now!"),  # a short word stays up 0.8 s
        ("00:00:10,000", "00:00:15,000", "Untimed."),
    ]
    assert LINGER_S == 0.25 and MIN_CUE_S == 0.8


def test_sentences_share_the_spoken_time_and_change_at_the_pauses() -> None:
    text = "He climbs the stairs. Then he lights the lamp! Night."
    # By characters alone the changes would fall at 2.07 s and 4.39 s; the voice pauses at
    # 1.6 s and 4.5 s, so they move there. A pause far from any change is not used.
    spoken = Spoken(0.0, 5.0, pauses=(0.7, 1.6, 4.5))
    timeline = Timeline((shot("s1", 6.0, text, spoken),), SPEC)
    assert cues(timeline) == [
        ("00:00:00,000", "00:00:01,600", "He climbs the stairs."),
        ("00:00:01,600", "00:00:04,500", "Then he lights the lamp!"),
        ("00:00:04,500", "00:00:05,250", "Night."),
    ]
    # No pauses: the characters decide (17, 19 and 5 spoken characters of 41).
    plain = Timeline((shot("s1", 6.0, text, Spoken(0.0, 5.0)),), SPEC)
    assert [c[:2] for c in cues(plain)] == [
        ("00:00:00,000", "00:00:02,073"),
        ("00:00:02,073", "00:00:04,390"),
        ("00:00:04,390", "00:00:05,250"),
    ]
    vtt = subtitles_vtt(timeline)
    assert "\ns1\n00:00:00.000" in vtt and "\ns1.2\n" in vtt and "\ns1.3\n" in vtt
    events = [line for line in subtitles_ass(timeline).splitlines() if line.startswith("Dia")]
    assert len(events) == 3 and events[2].startswith("Dialogue: 0,0:00:04.50,0:00:05.25,")


def test_a_voice_past_its_shot_keeps_its_cue_until_the_next_one() -> None:
    timeline = Timeline(
        (shot("a", 2.0, "A long line.", Spoken(0.0, 2.6)), shot("b", 2.0, "Next.", Spoken(0.3, 1))),
        SPEC,
    )
    assert [c[:2] for c in cues(timeline)] == [
        ("00:00:00,000", "00:00:02,300"),  # on past the cut, until the next cue
        ("00:00:02,300", "00:00:03,250"),
    ]
    last = Timeline((shot("a", 2.0, "Too long.", Spoken(0.0, 3.0)),), SPEC)
    assert cues(last)[0][1] == "00:00:02,000"  # never past the end of the video


def test_sentence_breaks_skip_abbreviations_initials_and_decimals() -> None:
    assert sentences('Dr. Smith met J. R. R. Tolkien. "Really?" she asked. It cost 3.50 now.') == [
        "Dr. Smith met J. R. R. Tolkien.",
        '"Really?" she asked.',
        "It cost 3.50 now.",
    ]
    assert sentences("He said “stop.” Then left") == ["He said “stop.”", "Then left"]
    assert sentences("No break here") == ["No break here"]
    assert sentences("Line one\nline two.") == ["Line one\nline two."]


def voice_like(rate: int, parts: list[tuple[float, float]], total: float) -> np.ndarray:
    """Syllables of a gliding tone where ``parts`` say (start, end), silence elsewhere."""
    t = np.arange(round(total * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * (150 + 30 * np.sin(2 * np.pi * 3 * t)) * t)
    gate = np.zeros_like(t)
    for start, end in parts:
        gate[(t >= start) & (t < end)] = 1.0
    return wave * gate * np.abs(np.sin(2 * np.pi * 4 * t)) ** 0.3


def test_the_voiced_span_and_its_pauses_are_measured() -> None:
    rate = 22050
    samples = voice_like(rate, [(0.3, 1.5), (1.8, 2.9)], 3.5)
    spoken = spoken_span(samples, rate)
    assert spoken is not None
    assert spoken.start_s == pytest.approx(0.3, abs=0.02)
    assert spoken.end_s == pytest.approx(2.9, abs=0.02)
    assert spoken.pauses == (pytest.approx(1.65, abs=0.03),)
    assert spoken_span(np.zeros(rate), rate) is None  # silence: no voice
    hiss = np.random.default_rng(1).normal(0, 1e-4, rate)  # -80 dBFS: no voice either
    assert spoken_span(hiss, rate) is None


def test_real_speech_sets_the_cues_and_ends_them_before_the_shot(tmp_path) -> None:
    from videofactory.tts.local import EspeakSpeech

    text = "The keeper climbs the stairs. He lights the lamp."
    wav = EspeakSpeech().speak(text, tmp_path / "s.wav").path
    spoken = spoken_of(wav)
    assert spoken is not None and spoken.end_s > 2.0 and spoken.pauses
    timeline = check_sound(
        Timeline((TimelineShot("s1", Path("unused.mp4"), 6.0, wav, text),), SPEC)
    )
    assert timeline.shots[0].spoken == spoken  # the render measures every narration
    (first, second) = cues(timeline)
    # The first sentence ends at the pause the voice makes after "stairs".
    change = _seconds(first[1])
    assert any(abs(change - p) < 0.02 for p in spoken.pauses)
    assert _seconds(second[0]) == pytest.approx(change)
    assert _seconds(second[1]) == pytest.approx(spoken.end_s + LINGER_S, abs=0.002)
    assert _seconds(second[1]) < 5.0  # the old cue stayed up to the shot's end (6 s)


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    secs, ms = rest.split(",")
    return int(hours) * 3600 + int(minutes) * 60 + int(secs) + int(ms) / 1000
