"""The local eSpeak NG backend: its rate, voices, threads, the binary fallback (what every
engine promises is in test_tts_contract.py)."""

from __future__ import annotations

import os
import stat
import sys
import threading
import types
from pathlib import Path

import pytest

from videofactory import tts
from videofactory.errors import ConfigError, SpeechError
from videofactory.tts import local
from videofactory.tts.base import get_backend
from videofactory.tts.local import EspeakSpeech, clean_text

SENTENCE = "The warrior walks slowly into the mystical forest at dawn."  # 10 words


def test_rate_changes_the_length(tmp_path, wav_of) -> None:
    slow = wav_of(EspeakSpeech(words_per_minute=100).synthesize(SENTENCE, tmp_path / "slow.wav"))
    fast = wav_of(EspeakSpeech(words_per_minute=300).synthesize(SENTENCE, tmp_path / "fast.wav"))
    assert slow.duration_s > 1.8 * fast.duration_s


def test_clean_text_keeps_words_and_drops_pictographs() -> None:
    assert clean_text('Go 🎬 now!\n"Yes" ❤️') == 'Go now! "Yes"'
    assert clean_text("a\u200db\x00c") == "abc"


def test_unknown_voice_is_a_speech_error(tmp_path) -> None:
    with pytest.raises(SpeechError, match="no voice 'zz-nope'"):
        EspeakSpeech(voice="zz-nope").synthesize("hello", tmp_path / "v.wav")
    # the library is still usable afterwards: the voice is set on every call
    EspeakSpeech().synthesize("hello", tmp_path / "ok.wav")


@pytest.mark.parametrize("kwargs", [{"voice": "en; rm -rf /"}, {"words_per_minute": 5}])
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(SpeechError):
        EspeakSpeech(**kwargs)


def test_threads_share_the_library_safely(tmp_path, wav_of) -> None:
    speakers = [EspeakSpeech(words_per_minute=wpm) for wpm in (120, 240)]
    errors: list[BaseException] = []

    def speak(i: int) -> None:
        try:
            text = f"Sentence number {i} is spoken here."
            speakers[i % 2].synthesize(text, tmp_path / f"{i}.wav")
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    slow, fast = wav_of(tmp_path / "0.wav"), wav_of(tmp_path / "1.wav")
    assert slow.duration_s > 1.5 * fast.duration_s  # each call kept its own rate


def test_options_by_name_and_unknown_names() -> None:
    backend = get_backend("espeak", voice="en-gb", words_per_minute=150)
    assert "en-gb" in backend.describe() and "150 wpm" in backend.describe()
    with pytest.raises(ConfigError, match="unknown speech backend 'nope'.*espeak"):
        get_backend("nope")


def test_exports_match_all() -> None:
    assert sorted(tts.__all__) == sorted(
        n
        for n in dir(tts)
        if not n.startswith("_")
        and n != "annotations"
        and not isinstance(getattr(tts, n), types.ModuleType)  # submodules
    )


def test_falls_back_to_a_system_binary(tmp_path, monkeypatch, wav_of) -> None:
    # A stand-in espeak-ng that records its argv and stdin and writes a short WAV.
    binary = tmp_path / "bin" / "espeak-ng"
    binary.parent.mkdir()
    binary.write_text(
        f"#!{sys.executable}\n"
        "import sys, wave, pathlib\n"
        "argv = sys.argv[1:]\n"
        "pathlib.Path(argv[argv.index('-w') + 1] + '.args').write_text(repr(argv))\n"
        "text = sys.stdin.buffer.read().decode()\n"
        "with wave.open(argv[argv.index('-w') + 1], 'wb') as w:\n"
        "    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)\n"
        "    w.writeframes(b'\\x00\\x10' * 22050)\n"
        "pathlib.Path(sys.argv[0] + '.stdin').write_text(text)\n"
    )
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")

    def broken() -> None:
        raise SpeechError("libespeak-ng unavailable: test")

    monkeypatch.setattr(local, "_load_library", broken)
    out = EspeakSpeech(voice="en-gb").synthesize("Say $(this) 🎬", tmp_path / "b.wav")
    assert wav_of(out).duration_s == pytest.approx(1.0)
    assert Path(str(binary) + ".stdin").read_text() == "Say $(this)"
    argv = next(tmp_path.glob(".b.wav*.args")).read_text()
    assert "'-v', 'en-gb'" in argv and "'--stdin'" in argv and "this" not in argv
