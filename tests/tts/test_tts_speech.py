"""Speech servers over real loopback HTTP: the request shapes of Chatterbox /generate and OpenAI
/v1/audio/speech, servers that are slow or answer something that is not audio, one request
at a time, retries and the fallback (what every engine promises: tests/tts/test_tts_contract.py)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading

import pytest
from aiohttp import web
from standins import (
    SCRIPTED_SECONDS_PER_CHAR,
    SECONDS_PER_CHAR,
    AppThread,
    chatterbox_app,
    free_port_url,
    openai_speech_app,
    scripted_speech_app,
    spoken_texts,
    tone,
    wav_bytes,
)

from videofactory.config import SpeechConfig, load_farm
from videofactory.errors import ConfigError, SpeechError, SpeechServerError
from videofactory.factory import speech_backend
from videofactory.tts import (
    ChatterboxSpeech,
    EspeakSpeech,
    FallbackSpeech,
    OpenAISpeech,
    PiperSpeech,
    build_speech,
    split_text,
)
from videofactory.tts.audio import JOIN_GAP_S
from videofactory.tts.server import MAX_BACKOFF_S

LONG = (
    "The forest was old long before anyone named it. Its paths turned back on themselves, "
    "and travellers learned to follow the light instead of the road. On the seventh night the "
    "warrior reached the clearing where the stones stood in a ring. Nobody had told her what "
    "waited there, only that it had waited for a very long time. She stepped inside the ring. "
    "The wind stopped. Somewhere far below the roots, something that had been asleep for a "
    "thousand years opened its eyes and listened. And then, very slowly, the stones began to "
    "sing, one after another, until the whole valley rang with it."
)


def test_chatterbox_request_shape(tmp_path) -> None:
    with chatterbox_app() as server:
        options = {"exaggeration": 0.6, "cfg_weight": 0.4}
        ChatterboxSpeech(server.url, voice="ref.wav", options=options).synthesize(
            "Hello there. 🐉 Again.", tmp_path / "c.wav"
        )
    (request,) = server.requests
    assert request["path"] == "/generate"
    assert json.loads(request["body"]) == {
        "exaggeration": 0.6,
        "cfg_weight": 0.4,
        "text": "Hello there. Again.",  # emoji dropped before sending
        "voice": "ref.wav",
    }


def test_one_request_at_a_time_per_server(tmp_path) -> None:
    with chatterbox_app() as server:
        errors: list[BaseException] = []

        def speak(i: int) -> None:
            try:  # separate backends, same URL: the lock is per server, not per object
                ChatterboxSpeech(server.url + "/").synthesize(LONG, tmp_path / f"{i}.wav")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=speak, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors
    assert len(server.requests) >= 9 and server.max_in_flight == 1


def test_openai_speech_request_shape_and_float_wav(tmp_path, wav_of) -> None:
    with openai_speech_app() as server:
        backend = OpenAISpeech(server.url, model="kokoro", voice="af_heart", speed=1.1)
        out = backend.synthesize("Hello there. 🐉 General Kenobi!", tmp_path / "o.wav")
        OpenAISpeech(server.url + "/v1", api_key="sk-test").synthesize("Hi.", tmp_path / "p.wav")
    first = json.loads(server.requests[0]["body"])
    assert first == {
        "model": "kokoro",
        "input": "Hello there. General Kenobi!",  # emoji dropped before sending
        "voice": "af_heart",
        "response_format": "wav",
        "speed": 1.1,
    }
    assert server.requests[1]["path"] == "/v1/audio/speech"
    assert server.requests[1]["headers"]["Authorization"] == "Bearer sk-test"
    assert json.loads(server.requests[1]["body"])["voice"] == "alloy"  # the portable default
    wav = wav_of(out)
    assert abs(wav.duration_s - len("Hello there. General Kenobi!") * SECONDS_PER_CHAR) < 0.01
    assert 0.3 < wav.rms < 0.4  # float samples converted, not misread as integers


# -- failing servers --------------------------------------------------------------------------


def _failing(kind: str) -> AppThread:
    async def handler(request: web.Request) -> web.Response:
        if kind == "slow":
            await asyncio.sleep(5)
        if kind == "html":
            return web.Response(
                text="<html><body>It works!</body></html>", content_type="text/html"
            )
        if kind == "garbage":
            return web.Response(body=b"\x00\x01not audio at all" * 20, content_type="audio/wav")
        if kind == "500":
            return web.json_response({"detail": "CUDA out of memory"}, status=500)
        if kind == "422":
            return web.json_response({"detail": "unknown voice 'zz'"}, status=422)
        return web.Response(body=wav_bytes(tone(0.1)), content_type="audio/wav")

    return AppThread([("POST", "/generate", handler)])


@pytest.mark.parametrize(
    "kind,message",
    [
        ("slow", "did not answer within 0.3 s"),
        ("html", "not audio (text/html, 35 bytes starting '<html><body>It works!"),
        ("garbage", "is not audio"),
        ("500", "HTTP 500: CUDA out of memory"),
        ("422", "HTTP 422: unknown voice 'zz'; check speech.voice"),
    ],
)
def test_failing_server_messages(tmp_path, kind, message) -> None:
    with _failing(kind) as server:
        with pytest.raises(SpeechServerError, match=message.replace("(", r"\(")) as info:
            ChatterboxSpeech(server.url, timeout_s=0.3).synthesize("Hello.", tmp_path / "x.wav")
    assert info.value.url == server.url and server.url in str(info.value)
    assert not (tmp_path / "x.wav").exists()


def test_down_server_is_retried_then_the_fallback_speaks_from_then_on(tmp_path, wav_of) -> None:
    sleeps: list[float] = []
    server = ChatterboxSpeech(free_port_url(), retries=2, sleep=sleeps.append)
    speech = FallbackSpeech(server, EspeakSpeech())
    assert speech.voice_id() == server.describe()
    result = speech.speak("The warrior walks into the forest.", tmp_path / "f.wav")
    assert (result.engine, result.fell_back, result.attempts) == ("espeak", True, 3)
    assert sleeps == [1.0, 2.0]  # exponential back-off between the tries of the request
    assert len(result.errors) == 3 and "unreachable" in result.errors[-1]
    assert "spoken by espeak (fallback) after 3 request(s)" in result.note()
    assert wav_of(result.path).rms > 0.02 and wav_of(result.path).duration_s > 1.0
    # Settled: the rest of the film is the fallback's, without asking the server again.
    assert speech.settled.endswith("(gave up after 3 request(s))") and "unreachable" in (
        speech.settled
    )
    assert speech.voice_id() == EspeakSpeech().describe()
    again = speech.speak("Shot two.", tmp_path / "g.wav")
    assert (again.engine, again.fell_back, again.attempts, again.note()) == ("espeak", True, 0, "")
    assert sleeps == [1.0, 2.0]


def _flaky(fail: dict[int, str]) -> AppThread:
    """A Chatterbox stand-in whose n-th request (from 0) fails as ``fail`` says."""
    return scripted_speech_app(lambda n, _text: fail.get(n, "ok"))


@pytest.mark.parametrize("how", ["503", "500", "reset", "429"])
def test_each_request_is_retried_on_its_own(tmp_path, wav_of, how) -> None:
    sleeps: list[float] = []
    with _flaky({1: how}) as server:
        backend = ChatterboxSpeech(server.url, max_chars=120, sleep=sleeps.append)
        result = backend.speak(LONG, tmp_path / "l.wav")
    pieces = split_text(LONG, 120)
    sent = spoken_texts(server)
    # the second piece failed once and was sent again; the first was not spoken twice
    assert len(pieces) >= 3 and sent == [pieces[0], pieces[1], *pieces[1:]]
    assert (result.engine, result.attempts, len(result.errors)) == ("chatterbox", len(sent), 1)
    assert sleeps == [1.0]  # a 429's Retry-After: 0 does not shorten the back-off
    wav = wav_of(result.path)
    per_char = SCRIPTED_SECONDS_PER_CHAR
    want = sum(len(p) for p in pieces) * per_char + JOIN_GAP_S * (len(pieces) - 1)
    assert abs(wav.duration_s - want) < 0.01 * len(pieces)  # every piece once, in order


def test_retry_after_is_waited_for_up_to_a_bound(tmp_path) -> None:
    async def busy(request: web.Request) -> web.Response:
        wait = "2.5" if len(server.requests) == 1 else "600"
        if len(server.requests) < 3:
            return web.json_response({"detail": "busy"}, status=503, headers={"Retry-After": wait})
        return web.Response(body=wav_bytes(tone(0.2)), content_type="audio/wav")

    sleeps: list[float] = []
    with AppThread([("POST", "/generate", busy)]) as server:
        backend = ChatterboxSpeech(server.url, retries=2, sleep=sleeps.append)
        backend.speak("Hi.", tmp_path / "r.wav")
    assert sleeps == [2.5, MAX_BACKOFF_S]  # the server's wish, but never past the bound


@pytest.mark.parametrize("kind", ["422", "html"])
def test_answers_that_would_come_again_are_not_retried(tmp_path, kind) -> None:
    sleeps: list[float] = []
    with _failing(kind) as server:
        primary = ChatterboxSpeech(server.url, retries=3, sleep=sleeps.append)
        result = FallbackSpeech(primary, EspeakSpeech()).speak("Hello.", tmp_path / "r.wav")
    assert len(server.requests) == 1 and sleeps == []
    assert (result.engine, result.attempts, result.fell_back) == ("espeak", 1, True)


def test_slow_server_is_retried_then_left_for_the_film(tmp_path) -> None:
    with _failing("slow") as server:
        primary = ChatterboxSpeech(server.url, timeout_s=0.2, retries=1, backoff_s=0)
        speech = FallbackSpeech(primary, EspeakSpeech())
        results = [speech.speak(f"Shot {i}.", tmp_path / f"{i}.wav") for i in range(3)]
        assert [r.attempts for r in results] == [2, 0, 0]  # one wait, not one per shot
        assert len(server.requests) == 2 and "did not answer within 0.2 s" in results[0].errors[0]
    assert all(r.engine == "espeak" for r in results)


def test_no_fallback_fails_with_the_reason(tmp_path) -> None:
    speech = FallbackSpeech(ChatterboxSpeech(free_port_url(), retries=0), None)
    with pytest.raises(SpeechError, match="no fallback is configured .*unreachable"):
        speech.speak("Hello.", tmp_path / "x.wav")
    assert speech.settled == "" and speech.voice_id() == speech.primary.describe()


# -- building from the farm file ---------------------------------------------------------------


def test_farm_file_speech_section_builds_each_backend(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MY_TTS_KEY", "sk-farm")
    farm = tmp_path / "factory.yaml"
    farm.write_text(
        "workers: [{id: g, url: 'http://127.0.0.1:8188'}]\n"
        "speech:\n  backend: openai\n  url: http://10.0.0.4:8880/v1\n  voice: af_heart\n"
        "  model: kokoro\n  retries: 1\n  api_key_env: MY_TTS_KEY\n  options: {lang_code: a}\n",
        encoding="utf-8",
    )
    speech = speech_backend(load_farm(farm).speech)
    assert isinstance(speech, FallbackSpeech) and isinstance(speech.primary, OpenAISpeech)
    assert speech.primary.retries == 1 and isinstance(speech.fallback, PiperSpeech)
    assert speech.primary._api_key == "sk-farm" and speech.primary.options == {"lang_code": "a"}
    assert "http://10.0.0.4:8880/v1" in speech.describe() and "Piper" in speech.describe()

    assert isinstance(build_speech(SpeechConfig()), PiperSpeech)  # the default local voice
    assert isinstance(build_speech(SpeechConfig(backend="espeak")), EspeakSpeech)
    seed = build_speech(SpeechConfig(backend="chatterbox", fallback="espeak"))
    assert seed.primary.url == "http://localhost:8880"  # the seed's Chatterbox
    assert isinstance(seed.fallback, EspeakSpeech) and seed.primary.retries == 2
    assert build_speech(SpeechConfig(backend="chatterbox", fallback="none")).fallback is None


def test_without_piper_the_default_voice_is_espeak_and_says_why(monkeypatch) -> None:
    """A machine where Piper cannot be installed (no onnxruntime wheel) still speaks."""
    monkeypatch.setitem(sys.modules, "piper", None)  # `import piper` fails as if not installed
    default = build_speech(SpeechConfig())
    assert isinstance(default, EspeakSpeech)
    assert "the default voice, Piper, cannot speak here" in default.reason
    assert "piper-tts is not installed" in default.reason
    server = build_speech(SpeechConfig(backend="chatterbox"))
    assert isinstance(server.fallback, EspeakSpeech)
    with pytest.raises(ConfigError, match="piper-tts is not installed; reinstall"):
        build_speech(SpeechConfig(backend="piper"))  # asked for by name: an error, not a swap
    with pytest.raises(ConfigError, match="need a speech.backend"):
        build_speech(SpeechConfig(voice="en-gb"))


@pytest.mark.parametrize(
    "speech,match",
    [
        ("{backend: coqui}", r"speech.backend: Input should be 'espeak', 'chatterbox'"),
        ("{backend: chatterbox, url: localhost:8880}", "url must start with http"),
        ("{backend: chatterbox, retries: -1}", "speech.retries"),
        ("{backend: chatterbox, voice_name: x}", "speech.voice_name: unknown field"),
    ],
)
def test_bad_speech_settings(tmp_path, speech, match) -> None:
    farm = tmp_path / "factory.yaml"
    farm.write_text(f"workers: [{{id: g, url: 'http://h:1'}}]\nspeech: {speech}\n")
    with pytest.raises(ConfigError, match=match):
        load_farm(farm)


def test_model_for_chatterbox_is_refused() -> None:
    with pytest.raises(ConfigError, match="speech.model is for OpenAI-compatible servers"):
        build_speech(SpeechConfig(backend="chatterbox", model="x"))


def test_split_text_limits() -> None:
    assert split_text("") == [] and split_text("One. Two.") == ["One. Two."]
    pieces = split_text(LONG, 250)
    assert all(len(p) <= 250 for p in pieces) and " ".join(pieces) == " ".join(LONG.split())
    run_on = "word, " * 100  # one 600-character sentence: split at commas
    assert all(len(p) <= 250 and p.endswith(",") for p in split_text(run_on, 250)[:-1])
    assert [len(p) for p in split_text("x" * 600, 250)] == [250, 250, 100]
