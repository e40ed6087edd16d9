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


def _black(lines) -> bool:
    return bool(lines.mean() < 12 and lines.std() < 4)


def _bars(frame):
    """Edges of a frame that carry a black bar: a padded edge (its outer line uniform black
    where the picture a few lines in is not: a bar of 1 pixel counts), or a letterbox or
    pillarbox (a tenth of the frame uniform black on both opposite edges)."""
    h, w = frame.shape[:2]
    lines = {"top": frame[:6], "bottom": frame[::-1][:6], "left": frame[:, :6].swapaxes(0, 1),
             "right": frame[:, ::-1][:, :6].swapaxes(0, 1)}  # fmt: skip
    bars = {e for e, v in lines.items() if _black(v[0]) and v[4].mean() > v[0].mean() + 12}
    if _black(frame[: h // 10]) and _black(frame[-(h // 10) :]):
        bars |= {"top", "bottom"}
    if _black(frame[:, : w // 10]) and _black(frame[:, -(w // 10) :]):
        bars |= {"left", "right"}
    return sorted(bars)


def test_generate_vertical_is_native_not_padded(cli, tmp_path):
    """--aspect 9:16: the workflows ask for upright pictures, the keyframes, clips and hero
    passes come back upright, and the final video has no bars; its captions file keeps cues
    in the phone apps' safe area."""
    import av
    from PIL import Image

    from videofactory.assembly.reframe import needs_reframe

    res = cli(
        "generate", "a red warrior in a mystical forest", "--duration", "4",
        "--clip-seconds", "2", "--aspect", "9:16", "--width", "180", "--json",
        "--workdir", str(tmp_path / "w"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = last_json(res.stdout)
    assert (summary["width"], summary["height"]) == (180, 320)
    run_dir = tmp_path / "w" / summary["run_id"]
    assert "aspect: '9:16'" in (run_dir / "shots.yaml").read_text()
    stills = [*(run_dir / "look").iterdir(), *(run_dir / "keyframes").iterdir()]
    assert len(stills) == 4  # a character sheet, a setting plate, 2 keyframes (edits of them)
    for png in sorted(stills):
        with Image.open(png) as img:
            assert img.size == (180, 320)
            asked = json.loads(img.info["prompt"])  # the workflow as the server ran it
        painters = ("SimTextToImage", "SimImageEdit")
        node = next(n for n in asked.values() if n["class_type"] in painters)
        assert (node["inputs"]["width"], node["inputs"]["height"]) == (180, 320)
    for clip in sorted((run_dir / "clips").iterdir()):
        assert (probe(clip).width, probe(clip).height) == (180, 320)
        with av.open(str(clip)) as container:
            asked = json.loads(container.metadata["prompt"])
        node = next(n for n in asked.values() if n["class_type"] == "SimImageToVideo")
        assert (node["inputs"]["width"], node["inputs"]["height"]) == (180, 320)
    for hero in sorted((run_dir / "hero").iterdir()):
        info = probe(hero)
        assert info.height > info.width and not needs_reframe(info.width, info.height, 180, 320)
    final = run_dir / "final.mp4"
    with av.open(str(final)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert frames[0].shape == (320, 180, 3) and len(frames) == 96
    bars = {edge for frame in frames for edge in _bars(frame)}
    assert not bars, f"black bars at {sorted(bars)}"
    assert "line:76%,end" in (run_dir / "final.vtt").read_text()


def test_plan_and_render_take_an_aspect(cli, tmp_path):
    from videofactory.shotlist import load_shotlist, reshaped

    res = cli("plan", "a lighthouse keeper", "-d", "10", "--aspect", "9:16", "-o", "p.yaml")
    assert res.returncode == 0, res.stderr
    plan = load_shotlist(tmp_path / "p.yaml")
    assert (plan.aspect, plan.width, plan.height) == ("9:16", 720, 1280)
    square = reshaped(plan, "1:1")
    assert (square.aspect, square.width, square.height) == ("1:1", 720, 720)
    assert reshaped(plan, "16:9").width == 1280 and reshaped(plan, "9:16") is plan
    res = cli("plan", "x", "-d", "10", "--aspect", "9:16", "--width", "1280", "--height", "720")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "--aspect 9:16 does not match --width 1280 --height 720" in res.stderr
    res = cli("render", "p.yaml", "--aspect", "wide", "--dry-run")
    assert res.returncode == 1 and "aspect 'wide' is not a ratio" in res.stderr
    res = cli("render", "p.yaml", "--aspect", "16:9", "--dry-run", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
