"""Reframing 16:9 to 9:16: the subject is found in the pictures, the crop follows it, no bars.

The films are the simulator's own pictures (a cloaked character standing off-centre in a
landscape, seen through its camera moves), encoded as real H.264 clips and recorded as a run;
the subject is measured in the output frames by its cloak's colour, which nothing else in
those scenes has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from subprocs import cli

from videofactory.assembly.probe import probe
from videofactory.assembly.reframe import (
    CropPath,
    crop_filter,
    crop_window,
    needs_reframe,
    plan_path,
)
from videofactory.assembly.saliency import subject_centre
from videofactory.assembly.subject import sample_times
from videofactory.sim.motion import camera_frames
from videofactory.sim.render import COLOURS, paint_scene
from videofactory.store import RunState, Store

RUN = "20260101-000000-reframe-run-abcd"
FPS = 12
SHOT_S = 2.0
#: (prompt, cloak colour word, camera move) of each shot: scenes without that colour.
SHOTS = [
    ("a red knight on a snowy mountain", "red", "pan_right"),
    ("a yellow monk by the ocean", "yellow", "zoom_in"),
    ("a green wanderer in the desert dunes", "green", "static"),
]


# -- pure parts -------------------------------------------------------------------------------


def test_the_window_is_the_largest_of_the_output_shape() -> None:
    assert crop_window(1280, 720, 720, 1280) == (404, 720)  # 720 * 9/16 = 405, even
    assert crop_window(720, 1280, 1280, 720) == (720, 404)
    assert crop_window(1280, 720, 720, 720) == (720, 720)
    assert needs_reframe(1280, 720, 720, 1280) and needs_reframe(1280, 720, 720, 720)
    # a model's size step (LTX-Video: 736x1280 for 720x1280) is the same shape: filled
    assert not needs_reframe(736, 1280, 720, 1280) and not needs_reframe(480, 272, 320, 180)


def test_the_path_is_the_steadiest_that_keeps_the_subject_in_the_middle_half() -> None:
    size = 0.3
    # A subject that hardly moves: one still window, centred on it.
    still = plan_path("x", size, [(0, 0.70), (1, 0.72), (2, 0.71), (3, 0.74)])
    assert still.motion == "still" and still.keys == ((0, pytest.approx(0.72)),)
    # One that crosses the frame at a steady speed: a single pan.
    pan = plan_path("x", size, [(t, 0.2 + 0.15 * t) for t in range(5)])
    assert pan.motion == "pan" and len(pan.keys) == 2
    assert pan.centre_at(2.0) == pytest.approx(0.5) and pan.centre_at(9) == pytest.approx(0.8)
    # One that goes and comes back: a path through the measurements, never off the frame.
    back = plan_path("x", size, [(0, 0.2), (1, 0.5), (2, 0.85), (3, 0.5), (4, 0.2)])
    assert back.motion == "follow" and len(back.keys) == 5
    assert all(size / 2 <= c <= 1 - size / 2 for _t, c in back.keys)
    # A single stray measurement (a flash, a passer-by) does not move the window.
    stray = plan_path("x", size, [(0, 0.3), (1, 0.3), (2, 0.9), (3, 0.31), (4, 0.3)])
    assert stray.motion == "still" and stray.keys[0][1] == pytest.approx(0.305)
    with pytest.raises(ValueError):
        plan_path("x", size, [])


def test_the_crop_is_one_ffmpeg_expression_of_time() -> None:
    path = CropPath("x", 404 / 1280, ((0.0, 0.25), (2.0, 0.75)), "pan")
    text = crop_filter(path, 1280, 720, 720, 1280)
    assert text.startswith("crop=w=404:h=720:x=") and text.endswith(":y=0")
    assert "\\," in text and "," not in text.replace("\\,", "")  # one filter in the graph
    still = CropPath("x", 404 / 1280, ((0.0, 0.5),))
    assert crop_filter(still, 1280, 720, 720, 1280) == "crop=w=404:h=720:x=438:y=0"
    tall = CropPath("y", 404 / 720, ((0.0, 0.0),))
    assert crop_filter(tall, 720, 1280, 1280, 720) == "crop=w=720:h=404:x=0:y=0"
    assert sample_times(2.0)[0] == 0 and len(sample_times(2.0)) == 5
    assert len(sample_times(0.1)) == 3 and len(sample_times(600)) == 16


def test_the_subject_of_a_picture_is_found_where_a_centre_crop_misses_it() -> None:
    """Over pictures of every theme, the 9:16 window the saliency picks holds the whole
    character; a window in the middle misses a good share of them."""
    themes = ["forest", "night", "sunset", "ocean", "desert", "snow", "city", "storm", "mist"]
    people = ["warrior", "woman", "keeper", "monk", "explorer", "child"]
    held = centred = 0
    cases = [(p, t, seed) for seed, (p, t) in enumerate((p, t) for p in people for t in themes)]
    for person, theme, seed in cases:
        scene = paint_scene(f"a {person} in the {theme}", seed, 256, 144)
        assert scene.subject is not None
        left, _top, right, _bottom = scene.subject
        window = 81 / 256  # 144 * 9/16
        centre = subject_centre(scene.picture, "x", window)
        a, b = (centre - window / 2) * 256, (centre + window / 2) * 256
        held += a <= left and right <= b
        centred += 128 - 40.5 <= left and right <= 128 + 40.5
    print(f"subject held by the saliency window in {held}/{len(cases)}, by a centre crop in "
          f"{centred}/{len(cases)}")  # fmt: skip
    assert held == len(cases)
    assert centred <= 0.7 * len(cases)


# -- a recorded 16:9 run, re-assembled ----------------------------------------------------------


@dataclass(frozen=True)
class Film:
    work: Path
    run_dir: Path
    #: Per shot: the cloak's RGB and its area in pixels in each source frame.
    cloaks: list[tuple[np.ndarray, list[int]]]


def _cloak_mask(frame: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    return np.abs(frame.astype(np.int16) - rgb.astype(np.int16)).max(axis=-1) < 40


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _encode(path: Path, frames: np.ndarray) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "16"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _off_centre(prompt: str) -> int:
    """The first seed that stands the character well off the middle (outside 30%..70%)."""
    for seed in range(200):
        left, _t, right, _b = paint_scene(prompt, seed, 320, 180).subject or (0, 0, 0, 0)
        if abs((left + right) / 2 / 320 - 0.5) > 0.2:
            return seed
    raise AssertionError(f"no off-centre character for {prompt!r}")


@pytest.fixture(scope="module")
def film(tmp_path_factory, media) -> Film:
    """A finished 16:9 run (320x180, 12 fps) of three shots whose character stands
    off-centre, recorded in a run database as the factory records one."""
    work = tmp_path_factory.mktemp("reframe") / "runs"
    run_dir = work / RUN
    (run_dir / "clips").mkdir(parents=True)
    (run_dir / "speech").mkdir()
    shots, cloaks = [], []
    for i, (prompt, colour, camera) in enumerate(SHOTS):
        sid = f"s0{i + 1}"
        seed = _off_centre(prompt)
        still = paint_scene(prompt, seed, 320, 180).picture
        frames = camera_frames(still, 320, 180, round(SHOT_S * FPS), camera, seed)
        _encode(run_dir / "clips" / f"{sid}.mp4", frames)
        rgb = np.array(COLOURS[colour], np.int16)
        decoded = _frames(run_dir / "clips" / f"{sid}.mp4")
        areas = [int(_cloak_mask(f, rgb).sum()) for f in decoded]
        assert min(areas) > 40, "the cloak must be measurable in the source"
        cloaks.append((rgb, areas))
        shots.append({"id": sid, "duration": SHOT_S, "narration": f"Shot {i + 1}."})
    with Store.for_workdir(work) as store:
        plan = {"concept": "reframing", "duration": SHOT_S * len(SHOTS), "aspect": "16:9",
                "width": 320, "height": 180, "fps": FPS, "shots": shots}  # fmt: skip
        store.create_run(RUN, plan=plan, run_dir=run_dir, farm={})
        for shot in shots:
            sid = shot["id"]
            store.add_artifact(
                RUN, f"{RUN}/{sid}/clip", "clip", run_dir / "clips" / f"{sid}.mp4", {}
            )
            speech = run_dir / "speech" / f"{sid}.wav"
            speech.write_bytes(media.tone_short.read_bytes())
            store.add_artifact(RUN, f"{RUN}/{sid}/speech", "speech", speech, {})
        store.set_run_state(RUN, RunState.done)
    return Film(work, run_dir, cloaks)


def _assemble(film: Film, tmp_path: Path, *options: str) -> Path:
    res = cli("assemble", RUN, "--workdir", str(film.work), "--aspect", "9:16", *options,
              "--json", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return Path(json.loads(res.stdout.strip().splitlines()[-1])["final"])


def _bars(frame: np.ndarray) -> dict[str, bool]:
    """Which edges of a frame are a black bar: their outer 3 rows or columns uniform black."""
    edges = {
        "top": frame[:3],
        "bottom": frame[-3:],
        "left": frame[:, :3],
        "right": frame[:, -3:],
    }
    return {k: bool(v.mean() < 20 and v.std() < 4) for k, v in edges.items()}


def _subject_kept(film: Film, frames: list[np.ndarray]) -> list[float]:
    """Per output frame: the share of the cloak's expected area that shows (its area in the
    source frame at that time, scaled by the crop's magnification, 320/180 squared); 0 when
    the cloak touches the left or right edge (cut by the crop)."""
    scale = (320 / 180) ** 2
    per_shot = round(SHOT_S * FPS)
    shares = []
    for n, frame in enumerate(frames):
        rgb, areas = film.cloaks[min(n // per_shot, len(film.cloaks) - 1)]
        mask = _cloak_mask(frame, rgb)
        cols = np.flatnonzero(mask.any(axis=0))
        cut = cols.size and (cols[0] == 0 or cols[-1] == frame.shape[1] - 1)
        expected = areas[min(n % per_shot, len(areas) - 1)] * scale
        shares.append(0.0 if cut else float(mask.sum()) / expected)
    return shares


def test_a_16_9_run_reassembled_to_9_16_follows_its_subject_without_bars(film, tmp_path) -> None:
    final = _assemble(film, tmp_path)  # --reframe follow is the default
    info = probe(final)
    assert (info.width, info.height) == (180, 320) and info.frames == 3 * SHOT_S * FPS
    frames = _frames(final)
    bars = [edge for frame in frames for edge, bar in _bars(frame).items() if bar]
    assert not bars, f"black bars at {sorted(set(bars))}"
    kept = _subject_kept(film, frames)
    print(f"follow: subject area kept per frame min {min(kept):.2f}, mean {np.mean(kept):.2f}")
    assert min(kept) > 0.8, [round(k, 2) for k in kept]


def test_center_crop_loses_the_off_centre_subject_and_pad_keeps_the_bars(film, tmp_path) -> None:
    """The two old ways, still there as options, and why they are not the default."""
    kept = _subject_kept(film, _frames(_assemble(film, tmp_path, "--reframe", "center")))
    print(f"center: subject area kept per frame min {min(kept):.2f}, mean {np.mean(kept):.2f}")
    assert min(kept) < 0.2  # an off-centre character is cut or gone
    padded = _frames(_assemble(film, tmp_path, "--reframe", "pad"))
    assert all(_bars(frame)["top"] and _bars(frame)["bottom"] for frame in padded)
