"""The walking factory end to end: concept in, probed MP4 out, over real loopback servers."""

from __future__ import annotations

import json

import pytest

from videofactory.assembly.probe import probe

from .conftest import last_json

pytestmark = pytest.mark.slow


def _moov_before_mdat(path):
    data = path.read_bytes()
    boxes, i = [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        boxes.append(data[i + 4 : i + 8].decode("latin-1"))
        if size < 8:
            break
        i += size
    return boxes.index("moov") < boxes.index("mdat")


def test_generate_small_run(cli, tmp_path):
    res = cli(
        "generate",
        "warrior in mystical forest",
        "--duration",
        "6",
        "--clip-seconds",
        "2",
        "--width",
        "320",
        "--height",
        "180",
        "--json",
        "--workdir",
        str(tmp_path / "w"),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = last_json(res.stdout)
    assert {"run_id", "run_dir", "final", "duration_s"} <= set(summary)
    final = tmp_path / "w" / summary["run_id"] / "final.mp4"
    assert (
        str(final) == summary["final"]
        or final.resolve() == __import__("pathlib").Path(summary["final"]).resolve()
    )
    info = probe(final)
    assert abs(info.duration_s - 6.0) <= 0.1
    assert (info.width, info.height) == (320, 180)
    assert round(info.fps) == 24
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.audio_codec == "aac"
    assert _moov_before_mdat(final)
    run_dir = final.parent
    assert sorted(p.name for p in (run_dir / "keyframes").iterdir()) == [
        "s01.png",
        "s02.png",
        "s03.png",
    ]
    assert len(list((run_dir / "clips").iterdir())) == 3
    assert list((run_dir / "hero").iterdir())  # the opening and the climax
    assert (run_dir / "final.srt").read_text().count("-->") == 3

    # the store knows every task, where it ran, and its artifacts
    shown = cli("show", summary["run_id"], "--json", "--workdir", str(tmp_path / "w"))
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["state"] == "done" and len(data["shots"]) == 3
    workers = {t["kind"]: set() for t in data["tasks"]}
    for t in data["tasks"]:
        assert t["state"] == "done", t
        workers[t["kind"]].add(t["worker"])
    assert workers["keyframe"] == {"gpu5"}  # control GPU
    assert workers["hero"] == {"gpu0"}  # primary GPU
    assert workers["clip"] <= {"gpu1", "gpu2", "gpu3", "gpu4"}  # the workers, in parallel
    assert len(workers["clip"]) >= 2
    assert all(a["prompt_id"] for a in data["attempts"])
    assert {a["kind"] for a in data["artifacts"]} >= {"keyframe", "clip", "hero", "speech", "final"}

    listed = cli("runs", "--json", "--workdir", str(tmp_path / "w"))
    assert [r["id"] for r in json.loads(listed.stdout)] == [summary["run_id"]]


def test_generate_bad_input_is_one_line(cli, tmp_path):
    res = cli("generate", "", "--duration", "30", "--workdir", str(tmp_path / "w"))
    assert res.returncode == 1
    assert "concept is empty" in res.stderr and "Traceback" not in res.stderr
    res = cli("generate", "x", "--duration", "-3", "--workdir", str(tmp_path / "w"))
    assert res.returncode == 1 and "positive" in res.stderr
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())
