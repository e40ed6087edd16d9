"""Preview first, as a user meets it: `generate --preview` makes an animatic of the keyframes,
then `render RUN` of that preview renders the film and takes every keyframe and narration from
the artifact cache (the built-in simulated farm, real subprocesses, real ffmpeg, real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from subprocs import run_cli

pytestmark = pytest.mark.slow

#: 3 shots of about 2 s at 160x90: 3 keyframes, 3 narrations; the film adds 3 clips, 2 heroes.
GENERATE = ("generate", "warrior in mystical forest", "-d", "6", "--clip-seconds", "2",
            "--width", "160", "--height", "90", "--json", "-w", "w")  # fmt: skip


def run(*args: str, cwd: Path, timeout: float = 240):
    return run_cli(args, cwd=cwd, timeout=timeout)


def last(res) -> dict:
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def by_kind(tasks: list[dict], kind: str) -> list[dict]:
    return [t for t in tasks if t["kind"] == kind]


def test_a_preview_then_the_film_reuses_its_keyframes(tmp_path):
    import av

    preview = last(run(*GENERATE, "--preview", cwd=tmp_path))
    run_id = preview["run_id"]
    assert preview["preview"] is True and preview["tasks_reused"] == 0
    video = Path(tmp_path / preview["final"])
    assert video.name == "preview.mp4" and not (video.parent / "final.mp4").exists()
    shown = last(run("show", run_id, "--json", "-w", "w", cwd=tmp_path))
    assert shown["preview"] is True and shown["state"] == "done"
    kinds = {t["kind"] for t in shown["tasks"]}
    assert kinds == {"look", "keyframe", "speech", "assemble"}  # no clip, no hero pass
    keyframes = by_kind(shown["tasks"], "keyframe")
    assert len(keyframes) == 3 and {t["worker"] for t in keyframes} == {"gpu5"}  # control GPU
    spoken = len(by_kind(shown["tasks"], "speech"))
    looks = len(by_kind(shown["tasks"], "look"))
    assert looks == 2 and {t["worker"] for t in by_kind(shown["tasks"], "look")} == {"gpu5"}
    assert preview["tasks_rendered"] == looks + 3 + spoken

    # The animatic: the plan's length within a frame, with sound, at the plan's size.
    plan_s = sum(s["duration"] for s in shown["shots"])
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        seconds = float(stream.duration * stream.time_base)
        assert abs(seconds - plan_s) <= 1 / 24 + 1e-6
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 90)
        assert container.streams.audio, "the animatic has no audio stream"
    assert (video.parent / "preview.srt").is_file()
    assert last(run("runs", "--json", "-w", "w", cwd=tmp_path))[0]["preview"] is True
    refused = run("assemble", run_id, "-w", "w", cwd=tmp_path)  # no clips to assemble
    assert refused.returncode == 1 and f"`videofactory render {run_id}`" in refused.stderr

    # A redo of a preview is a preview: only the changed shot's keyframe is made again.
    redo = last(run("redo", run_id, "s02", "--prompt", "the warrior kneels by a silver river",
                    "--json", "-w", "w", cwd=tmp_path))  # fmt: skip
    assert redo["preview"] is True and Path(redo["final"]).name == "preview.mp4", redo
    assert (redo["tasks_rendered"], redo["tasks_reused"]) == (1, looks + 2 + spoken), redo
    redone = last(run("show", redo["run_id"], "--json", "-w", "w", cwd=tmp_path))
    assert {t["kind"] for t in redone["tasks"]} == kinds
    made = [
        a["task_id"] for a in redone["attempts"] if not a["reused"] and "keyframe" in a["task_id"]
    ]
    assert made == [f"{redo['run_id']}/s02/keyframe"], made

    # What the film would render: every keyframe and narration comes from the cache.
    dry = last(run("render", run_id, "--dry-run", "--json", "-w", "w", cwd=tmp_path))
    assert dry["preview"] is False and dry["tasks_reused"] == looks + 3 + spoken
    assert {w.split("/")[1] for w in dry["will_run"]} == {"clip", "hero"}

    film = last(run("render", run_id, "--json", "-w", "w", cwd=tmp_path))
    assert film["preview"] is False and Path(film["final"]).name == "final.mp4"
    assert (film["tasks_reused"], film["tasks_rendered"]) == (looks + 3 + spoken, 5)
    done = last(run("show", film["run_id"], "--json", "-w", "w", cwd=tmp_path))
    assert done["preview"] is False
    kind_of = {t["id"]: t["kind"] for t in done["tasks"]}
    rendered = {"look": 0, "keyframe": 0, "speech": 0, "clip": 0, "hero": 0, "assemble": 0}
    reused = dict.fromkeys(rendered, 0)
    for a in done["attempts"]:
        (reused if a["reused"] else rendered)[kind_of[a["task_id"]]] += 1
    assert (rendered["keyframe"], reused["keyframe"]) == (0, 3)  # every keyframe reused
    assert (rendered["look"], reused["look"]) == (0, looks)  # and the look they edit
    assert (rendered["speech"], reused["speech"]) == (0, spoken)
    assert (rendered["clip"], rendered["hero"]) == (3, 2)  # the clips were rendered


def test_render_of_something_neither_a_file_nor_a_run_is_one_line(tmp_path):
    (tmp_path / "w").mkdir()
    res = run("render", "no-such-run", "-w", "w", cwd=tmp_path, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "no-such-run is neither a shot list file nor a run in w" in res.stderr, res.stderr
