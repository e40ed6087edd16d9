"""One voice per film: whole runs on the simulated farm whose speech server (a Chatterbox stand-in
over real loopback HTTP that speaks a 440 Hz tone) fails part-way through the film.

Narration is spoken shot by shot, in shot order, one request at a time. When the server fails
for good on a shot, that shot and every shot the server spoke before are spoken by the local
fallback, so that the film has one voice; a transient failure is retried per request and the
server keeps the film. Each shot's voice is checked twice: the voice recorded with its narration
file, and the audio itself (the stand-in's tone, or speech).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mediakit import read_wav
from standins import free_port_url, scripted_speech_app, tone_share

from videofactory.errors import RunFailed
from videofactory.factory import render_shotlist, resume_run
from videofactory.planning import plan_rules
from videofactory.store import DB_NAME, Store
from videofactory.tts import ChatterboxSpeech, EspeakSpeech, OpenAISpeech

pytestmark = pytest.mark.slow


def _plan():
    """Four shots of 2 s, each with narration."""
    shots = plan_rules("lighthouse keeper at dawn", 8, width=160, height=96, clip_s=2.0)
    assert len(shots.shots) == 4 and all(s.narration for s in shots.shots)
    return shots


def _farm(tmp_path: Path, url: str, fallback: str = "espeak", api: str = "chatterbox") -> Path:
    """A simulated farm of two GPUs whose speech is the stand-in at ``url`` (the workers' URLs
    are the simulated servers', given when they start)."""
    path = tmp_path / "factory.yaml"
    path.write_text(
        "simulated: true\n"
        "workers:\n"
        "  - {id: g0, url: 'http://127.0.0.1:1', vram_gb: 32, roles: [primary, control]}\n"
        "  - {id: g1, url: 'http://127.0.0.1:1', roles: [worker]}\n"
        f"speech: {{backend: {api}, url: '{url}', retries: 1, fallback: {fallback}}}\n",
        encoding="utf-8",
    )
    return path


def _speech_files(store: Store, run_id: str) -> dict[str, dict]:
    """Shot id -> its newest speech artifact (path, and the voice recorded with it)."""
    out: dict[str, dict] = {}
    for art in store.artifacts(run_id):
        if art["kind"] == "speech":
            out[art["task_id"].split("/")[1]] = art
    return out


def _voices_heard(files: dict[str, dict]) -> dict[str, str]:
    """Shot id -> "tone" (the stand-in spoke it) or "speech", from the audio itself."""
    heard = {}
    for shot, art in files.items():
        wav = read_wav(Path(art["path"]))
        heard[shot] = "tone" if tone_share(wav.samples, wav.rate) > 0.8 else "speech"
    return heard


def _events(store: Store, run_id: str, kind: str) -> list[dict]:
    return [e for e in store.events(run_id) if e["kind"] == kind]


@pytest.mark.parametrize("api", ["chatterbox", "openai"])
def test_a_server_that_dies_mid_film_leaves_one_voice(tmp_path, api) -> None:
    # Shots 1-2 are spoken by the server; from shot 3 on it answers HTTP 500 (its GPU died).
    with scripted_speech_app(lambda n, _t: "ok" if n < 2 else "500", api=api) as server:
        farm = _farm(tmp_path, server.url, api=api)
        result = render_shotlist(_plan(), workdir=tmp_path / "runs", farm_file=farm)
    assert result.final is not None and result.final.is_file()
    server_voice = {"chatterbox": ChatterboxSpeech, "openai": OpenAISpeech}[api](
        server.url
    ).describe()
    fallback_voice = EspeakSpeech().describe()
    # shot 3 was tried twice (one retry), then never again: 2 + 2 requests in all
    assert len(server.requests) == 4
    with Store.for_workdir(tmp_path / "runs") as store:
        files = _speech_files(store, result.run_id)
        assert sorted(files) == ["s01", "s02", "s03", "s04"]
        assert {a["media"]["voice"] for a in files.values()} == {fallback_voice}
        assert set(_voices_heard(files).values()) == {"speech"}  # no shot kept the tone
        respoken = _events(store, result.run_id, "speech_respoken")
        assert [e["task_id"].split("/")[1] for e in respoken] == ["s01", "s02"]
        assert all(e["data"]["data"]["was"] == server_voice for e in respoken)
        voices = _events(store, result.run_id, "speech_voice")
        assert [v["data"]["data"]["voice"] for v in voices] == [server_voice, fallback_voice]
        last = voices[-1]["data"]["data"]
        assert last["fell_back"] and last["engine"] == "espeak"
        assert "HTTP 500: scripted 500" in last["why"]
        assert ", for every shot, as the fallback" in voices[-1]["message"]
        assert last["why"].endswith("(gave up after 2 request(s))")
        warnings = [e["message"] for e in _events(store, result.run_id, "warning")]
        switched = "shot s03: spoken by espeak (fallback) after 2 request(s)"
        assert any(switched in w for w in warnings)
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "for the whole film, as the fallback" in page and "2 shot(s) spoken again" in page
    assert "HTTP 500: scripted 500" in page


def test_transient_failures_are_retried_and_the_server_keeps_the_film(tmp_path) -> None:
    # Every other request fails once (a 503, then a dropped connection, ...): each is retried
    # on its own, and the film stays in the server's voice.
    answers = ["ok", "503", "ok", "reset"]
    with scripted_speech_app(lambda n, _t: answers[n % 4]) as server:
        farm = _farm(tmp_path, server.url)
        result = render_shotlist(_plan(), workdir=tmp_path / "runs", farm_file=farm)
    assert result.final is not None
    server_voice = ChatterboxSpeech(server.url).describe()
    # s01 ok; s02 503 then ok; s03 reset then ok; s04 503 then ok
    assert len(server.requests) == 7
    with Store.for_workdir(tmp_path / "runs") as store:
        files = _speech_files(store, result.run_id)
        assert {a["media"]["voice"] for a in files.values()} == {server_voice}
        assert set(_voices_heard(files).values()) == {"tone"}
        assert _events(store, result.run_id, "speech_respoken") == []
        (voice,) = _events(store, result.run_id, "speech_voice")
        assert not voice["data"]["data"]["fell_back"] and voice["data"]["data"]["voice"] == (
            server_voice
        )
        retried = {
            e["task_id"].split("/")[1]: e["message"]
            for e in _events(store, result.run_id, "warning")
            if "were retried" in e["message"]
        }
        assert sorted(retried) == ["s02", "s03", "s04"]
        assert "1 of 2 request(s)" in retried["s02"] and "HTTP 503: scripted 503" in retried["s02"]
        assert "dropped the request" in retried["s03"]


def test_resume_keeps_one_voice(tmp_path) -> None:
    """A run whose server died with no fallback fails after shots 1-2; resumed with a fallback
    (the server still down), it speaks shots 1-2 again: the voices are read from the run's
    records, not from the process that spoke them. Then, the film settled on the fallback, a
    later resume whose server answers again keeps the fallback's voice, and mends a shot a
    stopped run left in the server's voice."""
    with scripted_speech_app(lambda n, _t: "ok" if n < 2 else "500") as server:
        farm = _farm(tmp_path, server.url, fallback="none")
        with pytest.raises(RunFailed):
            render_shotlist(_plan(), workdir=tmp_path / "runs", farm_file=farm)
    fallback_voice = EspeakSpeech().describe()
    with Store.for_workdir(tmp_path / "runs") as store:
        (run,) = store.runs()
        run_id = run["id"]
        files = _speech_files(store, run_id)
        assert _voices_heard(files) == {"s01": "tone", "s02": "tone"}
    # The server is still down (nothing listens there now); this time there is a fallback.
    result = resume_run(
        run_id, workdir=tmp_path / "runs", farm_file=_farm(tmp_path, free_port_url(), "espeak")
    )
    assert result.final is not None
    with Store.for_workdir(tmp_path / "runs") as store:
        files = _speech_files(store, run_id)
        assert {a["media"]["voice"] for a in files.values()} == {fallback_voice}
        assert set(_voices_heard(files).values()) == {"speech"} and len(files) == 4
        respoken = _events(store, run_id, "speech_respoken")
        assert sorted(e["task_id"].split("/")[1] for e in respoken) == ["s01", "s02"]

    # A stopped run: shot 4 was being spoken, shot 1 was still in the server's voice (the run
    # stopped while speaking the shots again), the video not yet assembled. The server answers
    # again now, but the film settled on the fallback: it keeps that voice.
    with scripted_speech_app(lambda n, _t: "ok") as healthy:
        s01 = Path(files["s01"]["path"])
        spoken = ChatterboxSpeech(healthy.url).speak("An older narration.", s01)
        asked = len(healthy.requests)
        with Store.for_workdir(tmp_path / "runs") as store:
            store.add_artifact(run_id, f"{run_id}/s01/speech", "speech", s01,
                               {"voice": spoken.description, "engine": "chatterbox"})  # fmt: skip
        with sqlite3.connect(tmp_path / "runs" / DB_NAME) as db:
            db.execute("UPDATE tasks SET state='running' WHERE id=?", (f"{run_id}/s04/speech",))
            db.execute("UPDATE tasks SET state='pending' WHERE id=?", (f"{run_id}/assemble",))
            db.execute("UPDATE runs SET state='failed' WHERE id=?", (run_id,))
        again = resume_run(
            run_id, workdir=tmp_path / "runs", farm_file=_farm(tmp_path, healthy.url, "espeak")
        )
        assert len(healthy.requests) == asked  # the server was not asked for this film again
    assert again.final is not None and again.final != result.final
    with Store.for_workdir(tmp_path / "runs") as store:
        files = _speech_files(store, run_id)
        assert {a["media"]["voice"] for a in files.values()} == {fallback_voice}
        assert set(_voices_heard(files).values()) == {"speech"}
        last = _events(store, run_id, "speech_voice")[-1]["data"]["data"]
        assert last["fell_back"] and last["voice"] == fallback_voice


def test_the_default_fallback_is_the_default_local_voice(tmp_path) -> None:
    """With no speech.fallback the whole film falls back to Piper, the default local voice."""
    with scripted_speech_app(lambda n, _t: "ok" if n < 1 else "503") as server:
        path = tmp_path / "factory.yaml"
        path.write_text(
            "simulated: true\nworkers: [{id: g0, url: 'http://127.0.0.1:1', vram_gb: 32, "
            "roles: [primary, control, worker]}]\n"
            f"speech: {{backend: chatterbox, url: '{server.url}', retries: 0}}\n",
            encoding="utf-8",
        )
        plan = plan_rules("a knight crossing a bridge", 4, width=160, height=96, clip_s=2.0)
        result = render_shotlist(plan, workdir=tmp_path / "runs", farm_file=path)
    with Store.for_workdir(tmp_path / "runs") as store:
        files = _speech_files(store, result.run_id)
        assert len(files) == 2  # both shots are narrated: the second falls back
        assert {a["media"]["engine"] for a in files.values()} == {"piper"}
        assert set(_voices_heard(files).values()) == {"speech"}
