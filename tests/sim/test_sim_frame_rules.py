"""Every bundled video template binds a frame count its model makes, at least as long as the
shot, at the model's rate; the assembly trims the clip to the shot's exact frames; a hero pass
keeps its clip's frames and rate.

Wan and LTX-Video cannot run here (no such nodes, no weights), so their clips are made with
ffmpeg at the bound count and rate, each frame's brightness its index, and go through the real
assembly; the simulator's own templates run on a real loopback simulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from subprocs import make

from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg
from videofactory.assembly.probe import check_media, probe
from videofactory.assembly.render import assemble
from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot
from videofactory.comfy.workflow import Workflow, load_template

from .simkit import SimClient

pytestmark = pytest.mark.slow

#: The shot list's rate (the output's).
FPS = 24
DURATIONS = (2.0, 4.8, 5.0, 7.3)
#: Frames each real-model template must ask for, per shot duration (the smallest count the
#: model makes that lasts the shot, at its own rate: Wan 4n+1 at 16 fps, LTX-Video 8n+1 at 24).
EXPECTED = {
    "wan22": (16.0, 4, {2.0: 33, 4.8: 77, 5.0: 81, 7.3: 117}),
    "ltxv": (24.0, 8, {2.0: 49, 4.8: 121, 5.0: 121, 7.3: 177}),
}
#: Small and square-pixelled: the output needs no scaling, so brightness survives exactly.
W, H = 64, 48
SPEC = OutputSpec(W, H, FPS, crf=0, preset="ultrafast")


@pytest.fixture(scope="module")
def ffmpeg() -> FFmpeg:
    return find_ffmpeg()


def bound(
    wf: Workflow, duration: float, scale: float = 1.0, **params: Any
) -> tuple[dict[str, Any], Any]:
    """The graph as the dispatcher binds it for a shot (its frames and fps from the workflow)."""
    timing = wf.clip_timing(duration, FPS, scale)
    params |= {"frames": timing.frames, "fps": timing.fps, "width": W, "height": H}
    return wf.bind(params, strict=False), timing


def inputs_of(wf: Workflow, graph: dict[str, Any], name: str) -> list[Any]:
    return [graph[node]["inputs"][inp] for node, inp in wf.bindings[name].targets]


def counted_clip(ffmpeg: FFmpeg, path: Path, frames: int, fps: float) -> Path:
    """A lossless clip of ``frames`` flat frames at ``fps``: frame i has luma 16 + i."""
    return make(
        ffmpeg,
        path,
        "-f",
        "lavfi",
        "-i",
        f"color=c=black:s={W}x{H}:r={fps:g},geq=lum='16+N':cb=128:cr=128",
        "-frames:v",
        str(frames),
        "-c:v",
        "libx264",
        "-qp",
        "0",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    )


def luma_indices(path: Path) -> list[int]:
    """The source frame each decoded frame shows (its mean luma minus 16)."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            y = frame.to_ndarray()[: frame.height]  # yuv420p: the Y plane comes first
            out.append(round(float(np.mean(y))) - 16)
    return out


def assembled(clip: Path, duration: float, out: Path, ffmpeg: FFmpeg) -> list[int]:
    """Assemble one shot of ``duration`` from ``clip``; the source index of every frame."""
    timeline = Timeline((TimelineShot("s01", clip, duration),), SPEC, loudness=None)
    info = assemble(timeline, out, ffmpeg=ffmpeg)
    assert info.fps == FPS and info.frames == round(duration * FPS)
    assert info.duration_s == pytest.approx(duration, abs=1 / FPS)
    return luma_indices(out)


@pytest.mark.parametrize("template", sorted(EXPECTED))
@pytest.mark.parametrize("duration", DURATIONS)
def test_model_template_binds_the_smallest_count_its_model_makes(template, duration) -> None:
    wf = load_template("clip", template)
    native, step, frames = EXPECTED[template]
    graph, timing = bound(wf, duration)
    (length,) = inputs_of(wf, graph, "frames")
    assert length == frames[duration]
    # what the ComfyUI node really makes of it: ((length - 1) // step) + 1 latent frames
    assert ((length - 1) // step) * step + 1 == length
    assert length / native >= duration > (length - step) / native
    # every fps input (LTX's conditioning and the encoder) gets the model's own rate
    assert set(inputs_of(wf, graph, "fps")) == {native}
    assert timing.duration_s == length / native


@pytest.mark.parametrize("template", sorted(EXPECTED))
@pytest.mark.parametrize("duration", DURATIONS)
def test_model_clip_is_trimmed_to_the_shot(template, duration, ffmpeg, tmp_path) -> None:
    wf = load_template("clip", template)
    graph, timing = bound(wf, duration)
    (length,) = inputs_of(wf, graph, "frames")
    (fps, *_) = inputs_of(wf, graph, "fps")
    clip = counted_clip(ffmpeg, tmp_path / "clip.mp4", length, fps)
    # the check after download: the clip lasts what was asked for (more than the shot)
    info = check_media(clip, kind="video", expected_duration_s=timing.duration_s)
    assert info.frames == length and info.fps == fps
    shown = assembled(clip, duration, tmp_path / "final.mp4", ffmpeg)
    assert len(shown) == round(duration * FPS)
    # retimed, not stretched: output frame n shows the clip at n / 24 s, from its first frame
    # on; the frames past the shot's end are cut
    assert shown[0] == 0
    assert all(0 <= b - a <= 1 for a, b in zip(shown, shown[1:], strict=False))
    assert all(abs(i - n * fps / FPS) <= 1 for n, i in enumerate(shown))


def keyframe(sim: SimClient) -> str:
    """A keyframe rendered by the simulator's own keyframe template, uploaded for a clip."""
    kf = load_template("keyframe", "sim")
    entry = sim.run(kf.bind({"prompt": "a lighthouse", "seed": 3, "width": W, "height": H}))
    png = sim.file(entry["outputs"]["2"]["images"][0])
    up = sim.upload("key.png", png.read_bytes(), subfolder="keys").json()
    return f"{up['subfolder']}/{up['name']}"


def run_clip(sim: SimClient, wf: Workflow, image: str, duration: float, scale: float = 1.0):
    graph, timing = bound(wf, duration, scale, input_image=image, output_prefix="rules/clip")
    entry = sim.run(graph)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (ref,) = [r for out in entry["outputs"].values() for r in out.get("images", [])]
    return sim.file(ref), timing


def test_sim_clip_template_lasts_each_shot_exactly(sim: SimClient, ffmpeg, tmp_path) -> None:
    wf = load_template("clip", "sim")
    image = keyframe(sim)
    # any count at the shot list's rate: whole frames covering the shot (7.3 s: 176, not 175)
    frames = {2.0: 48, 4.8: 116, 5.0: 120, 7.3: 176}
    for duration in DURATIONS:
        clip, timing = run_clip(sim, wf, image, duration)
        assert timing.frames == frames[duration]
        info = check_media(clip, kind="video", expected_duration_s=timing.duration_s)
        assert (info.frames, info.fps) == (timing.frames, FPS)
        out = tmp_path / f"final_{duration}.mp4"
        shown = assembled(clip, duration, out, ffmpeg)
        assert len(shown) == round(duration * FPS)


def test_sim_clip_shrunk_after_out_of_memory_still_lasts_the_shot(
    sim: SimClient, ffmpeg, tmp_path
) -> None:
    wf = load_template("clip", "sim")
    clip, timing = run_clip(sim, wf, keyframe(sim), 4.8, scale=0.75)
    assert (timing.frames, timing.fps) == (87, 18.0)  # 75 % of 116 frames, at 18 fps
    info = check_media(clip, kind="video", expected_duration_s=timing.duration_s)
    assert info.frames == 87 and info.duration_s >= 4.8
    assert len(assembled(clip, 4.8, tmp_path / "final.mp4", ffmpeg)) == round(4.8 * FPS)


def hero_graph(template: str) -> tuple[Workflow, dict[str, Any]]:
    wf = load_template("hero", template)
    graph = json.loads(json.dumps(dict(wf.graph)))
    if template == "upscale":
        # No upscale model weights here: the simulator's weight-free ImageScaleBy does what
        # ImageUpscaleWithModel does to the frames (x4 each, same count) in its place.
        assert graph["4"]["class_type"] == "ImageUpscaleWithModel"
        graph["4"] = {
            "class_type": "ImageScaleBy",
            "inputs": {"image": ["2", 0], "upscale_method": "bilinear", "scale_by": 4.0},
        }
        del graph["3"]
    return wf, graph


@pytest.mark.parametrize("template", ["sim", "upscale"])
def test_hero_template_keeps_the_clips_frames_and_rate(
    template, sim: SimClient, ffmpeg, tmp_path
) -> None:
    wf, graph = hero_graph(template)
    # nothing in the template assumes a rate: the encoder takes the clip's own
    (encoders,) = [n for n in graph.values() if n["class_type"] == "CreateVideo"]
    loader = wf.bindings["input_video"].node
    (components,) = [k for k, n in graph.items() if n["class_type"] == "GetVideoComponents"]
    assert graph[components]["inputs"]["video"] == [loader, 0]
    assert encoders["inputs"]["fps"] == [components, 2]

    clip = counted_clip(ffmpeg, tmp_path / "wan.mp4", 77, 16)  # Wan's clip of a 4.8 s shot
    name = sim.upload("wan.mp4", clip.read_bytes()).json()["name"]
    params = {"input_video": name, "width": 96, "height": 72, "output_prefix": "rules/hero"}
    entry = sim.run(Workflow(wf.name, graph, wf.bindings).bind(params, strict=False))
    assert entry["status"]["status_str"] == "success", entry["status"]
    (ref,) = [r for out in entry["outputs"].values() for r in out.get("images", [])]
    hero = sim.file(ref)
    # the dispatcher checks a hero pass against its clip's length
    info = check_media(hero, kind="video", expected_duration_s=probe(clip).duration_s)
    assert (info.frames, info.fps, info.width, info.height) == (77, 16.0, 96, 72)
    assert info.duration_s == pytest.approx(77 / 16, abs=0.01)
