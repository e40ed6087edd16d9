"""The bundled sim workflow templates run end to end and produce real media."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from .simkit import TEMPLATES, SimClient

pytestmark = pytest.mark.slow


def template(name: str) -> dict[str, Any]:
    return json.loads((TEMPLATES / f"{name}.json").read_text())


def probe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.width, stream.height),
            "rate": stream.average_rate,
            "frames": frames,
            "metadata": dict(container.metadata),
            "audio": len(container.streams.audio),
        }


def test_keyframe_clip_hero_chain(sim: SimClient, tmp_path: Path) -> None:
    kf = template("keyframe")
    kf["1"]["inputs"].update(
        width=96, height=64, seed=7, steps=3, prompt="a lone warrior in a mystical forest"
    )
    kf["2"]["inputs"]["filename_prefix"] = "run/shot01_keyframe"
    entry = sim.run(kf)
    assert entry["status"]["status_str"] == "success", entry["status"]
    ref = entry["outputs"]["2"]["images"][0]
    assert (ref["subfolder"], ref["filename"]) == ("run", "shot01_keyframe_00001_.png")
    png = sim.file(ref)
    with Image.open(png) as img:
        assert img.size == (96, 64) and img.format == "PNG"
        assert "prompt" in img.info  # the workflow is embedded like ComfyUI does
        pixels = np.asarray(img.convert("RGB"), np.float32)
    assert pixels.std() > 10  # a picture, not a flat colour

    up = sim.upload("shot01.png", png.read_bytes(), subfolder="keyframes").json()
    clip = template("clip")
    clip["1"]["inputs"]["image"] = f"{up['subfolder']}/{up['name']}"
    del clip["5"], clip["2"]["inputs"]["end_image"]  # no end frame: as bound for a plain cut
    clip["2"]["inputs"].update(
        width=96,
        height=64,
        length=12,
        camera="zoom_in",
        seed=3,
        steps=4,
        prompt="the warrior walks",
    )
    clip["3"]["inputs"]["fps"] = 12.0
    ws = sim.ws("templates")
    r = sim.submit(clip, client_id="templates")
    entry = sim.history(r.json()["prompt_id"])
    assert entry["status"]["status_str"] == "success", entry["status"]
    out = entry["outputs"]["4"]
    assert out["animated"] == [True] and out["images"][0]["filename"].endswith(".mp4")
    info = probe(sim.file(out["images"][0]))
    assert (info["codec"], info["pix_fmt"], info["size"]) == ("h264", "yuv420p", (96, 64))
    assert len(info["frames"]) == 12 and info["rate"] == 12 and info["audio"] == 0
    assert "prompt" in info["metadata"]
    frames = np.stack(info["frames"]).astype(np.float32)
    assert np.abs(frames[1:] - frames[:-1]).mean() > 0.2  # it moves
    steps = [m["data"] for m in ws.wait_done(r.json()["prompt_id"]) if m.get("type") == "progress"]
    assert [(s["value"], s["max"], s["node"]) for s in steps] == [(i, 4, "2") for i in range(1, 5)]

    video = sim.upload("shot01.mp4", sim.file(out["images"][0]).read_bytes()).json()
    hero = template("hero")
    hero["1"]["inputs"]["file"] = video["name"]
    hero["3"]["inputs"].update(width=144, height=96)  # 1.5x, as the dispatcher asks
    entry = sim.run(hero)
    assert entry["status"]["status_str"] == "success", entry["status"]
    info = probe(sim.file(entry["outputs"]["6"]["images"][0]))
    assert info["size"] == (144, 96) and len(info["frames"]) == 12 and info["rate"] == 12

    # LoadVideo straight into SaveVideo copies the streams (no re-encode), adding the prompt.
    copy = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": video["name"]}},
        "2": {
            "class_type": "SaveVideo",
            "inputs": {
                "video": ["1", 0],
                "filename_prefix": "copy",
                "format": "auto",
                "codec": "auto",
            },
        },
    }
    entry = sim.run(copy)
    info = probe(sim.file(entry["outputs"]["2"]["images"][0]))
    assert info["size"] == (96, 64) and len(info["frames"]) == 12 and "prompt" in info["metadata"]


def test_a_clip_with_an_end_frame_starts_on_its_keyframe_and_ends_on_that_picture(
    sim: SimClient,
) -> None:
    """The simulator's first-last-frame clip (WanFirstLastFrameToVideo's stand-in): it opens as
    a plain clip of its keyframe would and morphs into the end picture, covered to the frame."""
    from videofactory.sim.motion import camera_frames, cover

    start = np.zeros((64, 96, 3), np.uint8)
    start[..., 0] = 220  # red
    end = np.zeros((80, 80, 3), np.uint8)  # another shape: it is covered, centred, to the frame
    end[..., 2] = 230  # blue
    end[:, 40:] = (250, 250, 40)  # a yellow right half
    names = []
    for name, pixels in (("start.png", start), ("end.png", end)):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "PNG")
        names.append(sim.upload(name, buf.getvalue(), subfolder="flow").json())
    clip = template("clip")
    clip["1"]["inputs"]["image"] = f"flow/{names[0]['name']}"
    clip["5"]["inputs"]["image"] = f"flow/{names[1]['name']}"
    clip["2"]["inputs"].update(width=48, height=32, length=10, camera="static", seed=3, steps=2)
    entry = sim.run(clip)
    assert entry["status"]["status_str"] == "success", entry["status"]
    frames = np.stack(probe(sim.file(entry["outputs"]["4"]["images"][0]))["frames"]).astype(int)
    plain = camera_frames(start, 48, 32, 10, "static", seed=3).astype(int)
    target = cover(end, 48, 32).astype(int)
    assert np.abs(frames[0] - plain[0]).mean() < 8  # H.264 on a tiny frame
    assert np.abs(frames[-1] - target).mean() < 8
    assert np.abs(frames[-1] - plain[-1]).mean() > 60  # it did not stay on the keyframe
    distance = [np.abs(f - target).mean() for f in frames]
    assert distance[0] > distance[5] > distance[-1]  # it moves towards the end picture


@pytest.mark.parametrize(
    "camera", ["static", "pan_left", "pan_right", "pan_up", "pan_down", "zoom_out"]
)
def test_every_camera_move_renders(camera: str) -> None:
    from videofactory.sim.motion import camera_frames, crop_box
    from videofactory.sim.render import paint_keyframe

    still = paint_keyframe("a sunset over the ocean", 1, 96, 64)
    frames = camera_frames(still, 48, 32, 6, camera, seed=2, steps=3)
    assert frames.shape == (6, 32, 48, 3) and frames.dtype == np.uint8
    first, last = crop_box(96, 64, 48, 32, camera, 0.0), crop_box(96, 64, 48, 32, camera, 1.0)
    assert all(0 <= v <= 96 for v in first + last)
    assert (first == last) == (camera == "static")


def test_a_vertical_keyframe_and_clip_are_made_upright(sim: SimClient) -> None:
    """A 9:16 request gets a 9:16 keyframe and clip, composed for that shape: the character
    stands in view above the caption, which is sized by the frame's width."""
    from videofactory.sim.render import COLOURS, paint_scene

    prompt, seed = "a red warrior at night", 5
    kf = template("keyframe")
    kf["1"]["inputs"].update(width=180, height=320, seed=seed, steps=2, prompt=prompt)
    entry = sim.run(kf)
    assert entry["status"]["status_str"] == "success", entry["status"]
    with Image.open(sim.file(entry["outputs"]["2"]["images"][0])) as img:
        assert img.size == (180, 320)
        pixels = np.asarray(img.convert("RGB"))
    scene = paint_scene(prompt, seed, 180, 320)
    assert np.array_equal(pixels, scene.picture)  # the scene is the picture served
    assert scene.subject is not None
    left, top, right, bottom = (round(v) for v in scene.subject)
    assert 0 <= left < right <= 180 and 0 <= top < bottom <= 320
    body = pixels[top + (bottom - top) // 3 : bottom - 2, left + 4 : right - 4].astype(int)
    red = np.abs(body - np.array(COLOURS["red"])).max(axis=-1) < 30
    assert red.mean() > 0.6, "the character is hidden"  # not behind the caption panel
    # The caption keeps inside its panel (13%..87% of the width): no text right of it.
    panel_rows = pixels[int(320 * 0.6) : int(320 * 0.865)]
    assert (panel_rows[:, round(180 * 0.87) + 2 :].min(axis=-1) > 200).sum() == 0

    up = sim.upload("v.png", sim.file(entry["outputs"]["2"]["images"][0]).read_bytes()).json()
    clip = template("clip")
    clip["1"]["inputs"]["image"] = up["name"]
    clip["2"]["inputs"].update(width=180, height=320, length=6, steps=2, camera="pan_up")
    entry = sim.run(clip)
    assert entry["status"]["status_str"] == "success", entry["status"]
    info = probe(sim.file(entry["outputs"]["4"]["images"][0]))
    assert info["size"] == (180, 320) and len(info["frames"]) == 6


def test_the_character_stands_off_centre_as_a_subject_is_framed() -> None:
    from videofactory.sim.render import paint_scene

    centres = []
    for seed in range(40):
        scene = paint_scene("a lone warrior in a mystical forest", seed, 160, 90)
        assert scene.subject is not None
        left, _top, right, _bottom = scene.subject
        centres.append((left + right) / 2 / 160)
    assert min(centres) >= 0.19 and max(centres) <= 0.81
    assert sum(c < 0.33 for c in centres) >= 5 and sum(c > 0.67 for c in centres) >= 5
    assert paint_scene("a quiet empty valley", 1, 160, 90).subject is None  # nobody named


def test_odd_size_video_fails_like_h264(sim: SimClient) -> None:
    wf = json.loads(json.dumps(template("clip")))
    wf["2"]["inputs"].update(width=95, height=64, length=2, steps=1)
    entry = sim.run(wf)
    assert entry["status"]["messages"][-1][0] == "execution_error"
    assert entry["status"]["messages"][-1][1]["node_id"] == "4"


def test_audio_nodes(sim: SimClient) -> None:
    prompt = {
        "1": {
            "class_type": "EmptyAudio",
            "inputs": {"duration": 0.5, "sample_rate": 22050, "channels": 1},
        },
        "2": {
            "class_type": "EmptyAudio",
            "inputs": {"duration": 0.25, "sample_rate": 44100, "channels": 2},
        },
        "3": {
            "class_type": "AudioConcat",
            "inputs": {"audio1": ["1", 0], "audio2": ["2", 0], "direction": "after"},
        },
        "4": {
            "class_type": "TrimAudioDuration",
            "inputs": {"audio": ["3", 0], "start_index": 0.1, "duration": 0.5},
        },
        "5": {
            "class_type": "SaveAudioMP3",
            "inputs": {"audio": ["4", 0], "filename_prefix": "a/m", "quality": "128k"},
        },
        "6": {
            "class_type": "SaveAudioOpus",
            "inputs": {"audio": ["4", 0], "filename_prefix": "a/o", "quality": "64k"},
        },
        "7": {"class_type": "SaveAudio", "inputs": {"audio": ["4", 0], "filename_prefix": "a/f"}},
    }
    entry = sim.run(prompt)
    assert entry["status"]["status_str"] == "success", entry["status"]
    for node, ext in (("5", "mp3"), ("6", "opus"), ("7", "flac")):
        ref = entry["outputs"][node]["audio"][0]
        assert ref["filename"].endswith(f"_00001_.{ext}")
        with av.open(str(sim.file(ref))) as container:
            stream = container.streams.audio[0]
            assert stream.codec_context.channels == 2
            assert 0.4 < float(container.duration or 0) / 1e6 < 0.7
