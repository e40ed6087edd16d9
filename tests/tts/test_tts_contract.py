"""Contract: what every speech backend promises (videofactory/tts/base.py), run over each one.

eSpeak NG and Piper speak for real; Chatterbox and OpenAI-compatible servers are local stand-ins
over real loopback HTTP that answer in the real APIs' shapes (tests/standins.py) with a
440 Hz tone as long as the text they were given. Each engine: speaks a sentence into a 16-bit
mono WAV of a plausible length at its rate, atomically, creating the folder; gives a short
silence for text with nothing speakable (a server is not even asked); speaks long text whole
(a server gets it in pieces of at most ``max_chars``, at sentence ends, joined in order);
speaks hostile text without running or leaving anything; says what it is (``describe``,
``speak``); a server that is down fails with a ``SpeechServerError`` naming it, and a request
that fails in passing is sent again on its own (not the pieces already spoken).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from standins import (
    SECONDS_PER_CHAR,
    AppThread,
    chatterbox_app,
    free_port_url,
    openai_speech_app,
    scripted_speech_app,
    spoken_texts,
)

from videofactory.errors import FactoryError, SpeechServerError
from videofactory.tts import (
    BACKENDS,
    ChatterboxSpeech,
    EspeakSpeech,
    OpenAISpeech,
    PiperSpeech,
    SpeechBackend,
    get_backend,
    split_text,
)
from videofactory.tts.audio import JOIN_GAP_S
from videofactory.tts.local import SILENCE_S, clean_text

SENTENCE = "The warrior walks slowly into the mystical forest at dawn."  # 10 words
#: Four sentences, 60 words: more than twice the pieces' limit below.
LONG = (
    "The forest was old long before anyone named it, and its paths turned back on themselves. "
    "Travellers learned to follow the light instead of the road. On the seventh night the "
    "warrior reached the clearing where the stones stood in a ring. Nobody had told her what "
    "waited there, only that it had waited for a very long time."
)
#: The longest piece a server engine is sent here.
MAX_CHARS = 120
HOSTILE = [
    "He said \"hi\" — $(rm -rf /); `ls` & echo 'x' | touch pwned > pwned",
    "Emoji 🎬🔥👩‍👩‍👧 and flags 🇫🇷 in a line",
    "Back\\slash: colon; semi, <b>tags</b> &amp; %s %n {0}",
    "Control\x00chars\x07and\x1b[31m escapes\u200b here",
    "Ünïcödé façade, naïve café — 123 €",
    "line one\nline two\r\n\tline three",
]
NOTHING_TO_SAY = ["", "   ", "🎬🔥", "...", "\x00", "\n\t "]


def _have_piper() -> bool:
    try:
        PiperSpeech().check()
    except FactoryError:
        return False
    return True


@dataclass
class Engine:
    """A backend under contract, and what it should sound like."""

    backend: SpeechBackend
    #: The sample rate of what it writes.
    rate: int
    #: Substrings ``describe()`` must hold.
    describes: tuple[str, ...]
    #: The stand-in server it speaks to (None: a local engine).
    server: AppThread | None = None
    #: Seconds an answer may differ from its tone's length (MP3 pads each piece a little).
    slack_s: float = 0.01

    def texts(self) -> list[str]:
        """What the stand-in server was asked to speak, piece by piece."""
        return spoken_texts(self.server) if self.server is not None else []

    def plausible(self, text: str, seconds: float) -> bool:
        """Whether ``seconds`` of speech is right for ``text``: a person's pace for a real
        voice (0.25 to 0.6 s a word), the stand-in's tone length (with the pauses between
        pieces) for a server."""
        if self.server is None:
            words = len(text.split())
            return 0.25 * words <= seconds <= 0.6 * words + 0.5
        pieces = self.texts()
        want = sum(len(p) for p in pieces) * SECONDS_PER_CHAR + JOIN_GAP_S * (len(pieces) - 1)
        return abs(seconds - want) <= self.slack_s * len(pieces)


def _server_engine(name: str, server: AppThread) -> Engine:
    if name == "openai":
        backend: SpeechBackend = OpenAISpeech(server.url, max_chars=MAX_CHARS)
        describes = (f"OpenAI-compatible speech server at {server.url}", "model tts-1", "alloy")
    else:
        backend = ChatterboxSpeech(server.url, max_chars=MAX_CHARS)
        describes = (f"Chatterbox server at {server.url}",)
    slack = 0.2 if name == "chatterbox-mp3" else 0.01
    return Engine(backend, 24000, describes, server, slack)


ENGINES = ["espeak", "piper", "chatterbox", "chatterbox-mp3", "openai"]
SERVERS = ["chatterbox", "openai"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each backend in turn (a server engine with its stand-in running)."""
    name = request.param
    if name == "espeak":
        yield Engine(EspeakSpeech(), 22050, ("espeak-ng 1.", "voice en-us", "160 wpm"))
    elif name == "piper":
        if not _have_piper():
            pytest.skip("Piper is not installed (a main dependency: pip install . brings it)")
        yield Engine(PiperSpeech(), 22050, ("Piper", "en_US-joe-medium"))
    else:
        apps = {
            "chatterbox": lambda: chatterbox_app("wav"),
            "chatterbox-mp3": lambda: chatterbox_app("mp3"),
            "openai": openai_speech_app,
        }
        with apps[name]() as server:
            yield _server_engine(name, server)


def test_every_backend_is_registered_and_built_by_name():
    assert set(BACKENDS) == {"espeak", "piper", "chatterbox", "openai"}
    for name, cls in BACKENDS.items():
        backend = get_backend(name)
        assert type(backend) is cls and backend.BACKEND_NAME == name


def test_speaks_a_sentence_at_a_plausible_length(engine, tmp_path, wav_of):
    out = tmp_path / "new" / "folder" / "s.wav"
    assert engine.backend.synthesize(SENTENCE, out) == out
    wav = wav_of(out)
    assert (wav.rate, wav.channels) == (engine.rate, 1)
    assert engine.plausible(SENTENCE, wav.duration_s), wav.duration_s
    assert wav.rms > 0.02
    assert [p.name for p in out.parent.iterdir()] == ["s.wav"]  # no partial file left
    if engine.server is not None:
        assert engine.texts() == [SENTENCE]


def test_speak_says_which_engine_spoke(engine, tmp_path):
    result = engine.backend.speak("Hello there.", tmp_path / "h.wav")
    description = engine.backend.describe()
    assert "\n" not in description
    assert all(part in description for part in engine.describes), description
    assert (result.path, result.engine) == (tmp_path / "h.wav", engine.backend.BACKEND_NAME)
    assert (result.description, result.fell_back, result.attempts) == (description, False, 1)
    assert result.errors == () and result.note() == ""
    assert engine.backend.voice_id() == description  # what a film keeps one of
    engine.backend.close()  # releases what it holds, and may be used again after
    assert engine.backend.synthesize("Again.", tmp_path / "a.wav").is_file()


@pytest.mark.parametrize("text", NOTHING_TO_SAY)
def test_nothing_speakable_gives_a_short_silence(engine, tmp_path, wav_of, text):
    wav = wav_of(engine.backend.synthesize(text, tmp_path / "quiet.wav"))
    assert wav.duration_s == pytest.approx(SILENCE_S, abs=0.01)
    assert wav.rms == 0.0 and wav.channels == 1
    if engine.server is not None:
        assert engine.server.requests == []  # nothing to ask a server for


def test_long_text_is_spoken_whole(engine, tmp_path, wav_of):
    wav = wav_of(engine.backend.synthesize(LONG, tmp_path / "long.wav"))
    assert engine.plausible(LONG, wav.duration_s), wav.duration_s
    if engine.server is None:
        return
    pieces = engine.texts()
    assert len(pieces) >= 3 and all(len(p) <= MAX_CHARS for p in pieces)
    assert all(p.endswith(".") for p in pieces)  # cut at sentence ends
    assert " ".join(pieces) == " ".join(LONG.split())  # nothing lost, nothing reordered
    peak = np.argmax(np.abs(np.fft.rfft(wav.samples)))
    assert abs(peak * wav.rate / len(wav.samples) - 440) < 5  # and not garbled on the way


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_still_speaks(engine, tmp_path, wav_of, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    wav = wav_of(engine.backend.synthesize(text, tmp_path / "h.wav"))
    assert wav.rms > 0.01  # speech, not the silence of nothing speakable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.wav"]  # nothing ran, nothing left
    if engine.server is None:
        assert wav.duration_s > 0.5
    else:  # sent as JSON text, cleaned of what no voice can say, and all of it spoken
        assert " ".join(engine.texts()) == clean_text(text)
        assert engine.plausible(text, wav.duration_s)


@pytest.mark.parametrize("name", SERVERS)
def test_a_server_that_is_down_fails_naming_it(name, tmp_path):
    url = free_port_url()
    backend = {"chatterbox": ChatterboxSpeech, "openai": OpenAISpeech}[name](url)
    old = tmp_path / "x.wav"
    old.write_bytes(b"an older narration")
    with pytest.raises(SpeechServerError, match="is unreachable .*start the server") as info:
        backend.synthesize("Hello.", old)
    assert info.value.url == url and url in str(info.value) and info.value.retryable
    assert old.read_bytes() == b"an older narration"  # written whole, or not at all
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


@pytest.mark.parametrize("name", SERVERS)
def test_a_request_that_fails_in_passing_is_sent_again_alone(name, tmp_path, wav_of):
    with scripted_speech_app(lambda n, _t: "503" if n == 1 else "ok", api=name) as server:
        cls = {"chatterbox": ChatterboxSpeech, "openai": OpenAISpeech}[name]
        result = cls(server.url, max_chars=MAX_CHARS, backoff_s=0).speak(LONG, tmp_path / "l.wav")
    pieces = split_text(LONG, MAX_CHARS)
    assert spoken_texts(server) == [pieces[0], *pieces[1:2], *pieces[1:]]
    assert (result.attempts, len(result.errors), result.fell_back) == (len(pieces) + 1, 1, False)
    assert "HTTP 503" in result.errors[0] and wav_of(result.path).rms > 0.02
