"""A planned narration line is never cut off: spoken for real by the engine the plan was timed
for (eSpeak NG, the default voice; Piper, with its own rate), it ends within its shot."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from videofactory.config import SpeechConfig
from videofactory.planning import plan_rules
from videofactory.planning.speech import DEFAULT_RATE, speaking_rate, syllables
from videofactory.tts.local import EspeakSpeech


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def test_syllables_are_counted_as_they_are_said():
    assert syllables("CPU") == 3 and syllables("WWW") == 9
    assert syllables("the red running shoe") == 5
    assert syllables("1999") == 6  # nineteen ninety-nine, about
    assert DEFAULT_RATE.seconds("") == 0.0
    assert DEFAULT_RATE.seconds("Meet the CPU.") > DEFAULT_RATE.seconds("Meet the cat.")


@pytest.mark.parametrize(
    "concept,duration,clip_s",
    [
        ("how a CPU executes an instruction", 40, 5.0),
        ("product teaser for a red running shoe", 30, 5.0),
        ("a day in the life of a lighthouse keeper", 30, 5.0),
        ("warrior in mystical forest", 10, 2.0),  # two-second shots
    ],
)
def test_espeak_says_every_line_within_its_shot(tmp_path, concept, duration, clip_s):
    engine = EspeakSpeech()  # the default voice, at its default 160 words a minute
    sl = plan_rules(concept, duration, clip_s=clip_s, rate=speaking_rate(SpeechConfig()))
    for shot in sl.shots:
        assert shot.narration
        spoken = _seconds(engine.synthesize(shot.narration, tmp_path / f"{shot.id}.wav"))
        assert spoken <= shot.duration, (shot.id, shot.narration, spoken, shot.duration)
        assert spoken <= DEFAULT_RATE.seconds(shot.narration)  # the estimate errs long


def test_a_faster_espeak_is_planned_at_its_own_rate(tmp_path):
    fast = SpeechConfig(backend="espeak", options={"words_per_minute": 240})
    rate = speaking_rate(fast)
    assert rate.syllables_per_second > DEFAULT_RATE.syllables_per_second * 1.4
    engine = EspeakSpeech(words_per_minute=240)
    sl = plan_rules("how bees make honey", 20, rate=rate)
    for shot in sl.shots:
        spoken = _seconds(engine.synthesize(shot.narration, tmp_path / f"{shot.id}.wav"))
        assert spoken <= rate.seconds(shot.narration) <= shot.duration


def test_piper_says_every_line_within_its_shot(tmp_path):
    pytest.importorskip("piper", reason="the [piper] extra is not installed")
    from videofactory.tts.piper import PiperSpeech

    rate = speaking_rate(SpeechConfig(backend="piper"))
    engine = PiperSpeech(None)
    engine.check()
    sl = plan_rules("a walk through the streets of Kyoto", 20, rate=rate)
    for shot in sl.shots:
        spoken = _seconds(engine.synthesize(shot.narration, tmp_path / f"{shot.id}.wav"))
        assert spoken <= rate.seconds(shot.narration) <= shot.duration, shot.narration
