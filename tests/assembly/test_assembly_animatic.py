"""The animatic: a keyframe held for its shot under a camera move (zoompan), its filter text
checked by evaluating its expressions, and one tiny real render that shows the move."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videofactory.assembly.animatic import (
    MOVES,
    OVERSAMPLE,
    PAN_WINDOW,
    ZOOM_NEAR,
    move_filter,
)
from videofactory.assembly.graph import video_graph
from videofactory.assembly.timeline import OutputSpec, Timeline, TimelineShot, Transition
from videofactory.errors import ConfigError
from videofactory.shotlist import CameraMove


def _zoompan(move: str, frames: int) -> dict[str, str]:
    chain = move_filter(move, frames, 320, 180, 24)
    found = re.search(r"zoompan=(.*)$", chain)
    assert found, chain
    return dict(re.findall(r"(\w+)=('[^']*'|[^:]+)", found.group(1)))


def _window(move: str, frames: int, n: int, size=(640, 360)) -> tuple[float, float, float]:
    """zoom, x and y of output frame ``n``, as zoompan evaluates them (on the oversampled
    keyframe of ``size``)."""
    opts = _zoompan(move, frames)
    iw, ih = size
    names = {"on": n, "iw": iw, "ih": ih}

    def value(expr: str, **more: float) -> float:
        text = expr.strip("'")
        for name, v in {**names, **more}.items():
            text = re.sub(rf"\b{name}\b", repr(float(v)), text)
        assert re.fullmatch(r"[0-9.+\-*/() ]+", text), text  # arithmetic only, no comma
        return float(eval(text))  # noqa: S307 - numbers and operators, checked above

    zoom = value(opts["z"])
    return zoom, value(opts["x"], zoom=zoom), value(opts["y"], zoom=zoom)


@pytest.mark.core
def test_every_camera_move_of_a_shot_list_has_an_animatic_move():
    assert set(MOVES) == {m.value for m in CameraMove}


@pytest.mark.core
@pytest.mark.parametrize(
    ("move", "first", "last"),
    [
        # (zoom, x, y) at the first and last frame, on a 640x360 keyframe (2x a 320x180 output)
        ("zoom_in", (1.0, 0.0, 0.0), (1 / ZOOM_NEAR, 48.0, 27.0)),
        ("zoom_out", (1 / ZOOM_NEAR, 48.0, 27.0), (1.0, 0.0, 0.0)),
        ("pan_right", (1 / PAN_WINDOW, 0.0, 21.6), (1 / PAN_WINDOW, 76.8, 21.6)),
        ("pan_left", (1 / PAN_WINDOW, 76.8, 21.6), (1 / PAN_WINDOW, 0.0, 21.6)),
        ("pan_down", (1 / PAN_WINDOW, 38.4, 0.0), (1 / PAN_WINDOW, 38.4, 43.2)),
        ("pan_up", (1 / PAN_WINDOW, 38.4, 43.2), (1 / PAN_WINDOW, 38.4, 0.0)),
    ],
)
def test_each_move_starts_and_ends_where_its_camera_says(move, first, last):
    frames = 48
    assert _window(move, frames, 0) == pytest.approx(first)
    assert _window(move, frames, frames - 1) == pytest.approx(last)
    opts = _zoompan(move, frames)
    assert (opts["d"], opts["s"], opts["fps"]) == ("48", "320x180", "24")

    # Eased: the first step is far smaller than the middle one (the camera starts gently).
    def step(n: int) -> float:
        now, before = _window(move, frames, n), _window(move, frames, n - 1)
        return max(abs(a - b) for a, b in zip(now, before, strict=True))

    assert step(1) < 0.05 * step(24)


@pytest.mark.core
def test_the_keyframe_covers_the_output_oversampled_before_the_move():
    chain = move_filter("zoom_in", 10, 320, 180, 24)
    w, h = 320 * OVERSAMPLE, 180 * OVERSAMPLE
    assert chain.startswith(
        f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,"
        "format=yuv444p,zoompan="
    )
    one = _zoompan("pan_left", 1)  # a one-frame shot: no division by zero
    assert "(on/0)" not in one["x"]


@pytest.mark.core
def test_the_graph_moves_each_still_over_its_segment_and_holds_a_static_one():
    spec = OutputSpec(320, 180, 24, fit="crop")
    shots = (
        TimelineShot("s01", Path("k1.png"), 2.0, move="zoom_in"),
        TimelineShot("s02", Path("k2.png"), 1.0, move="static", transition=Transition("fade")),
        TimelineShot("s03", Path("k3.png"), 1.5, move="pan_left", transition=Transition("fade")),
    )
    timeline = Timeline(shots, spec)
    graph = video_graph(timeline, "vout")
    frames = timeline.segment_frames()  # each shot plus the transition out of it
    assert frames == (60, 36, 36)
    assert "zoompan=z=" in graph[0] and f":d={frames[0]}:s=320x180:fps=24" in graph[0]
    assert "zoompan" not in graph[1]  # static: the keyframe held
    assert f"tpad=stop_mode=clone:stop={frames[1]}" in graph[1]
    assert f":d={frames[2]}:s=320x180:fps=24" in graph[2]
    assert all(f"trim=end_frame={n}," in graph[i] for i, n in enumerate(frames))


@pytest.mark.core
def test_an_unknown_move_is_refused_by_name():
    with pytest.raises(ConfigError, match="unknown camera move 'dolly'; one of static"):
        TimelineShot("s01", Path("k.png"), 1.0, move="dolly")
    with pytest.raises(ConfigError, match="at least one frame"):
        move_filter("pan_left", 0, 320, 180, 24)


def _dot_keyframe(path: Path, size=(192, 108)) -> Path:
    """A dark keyframe with one bright square a little left of the middle."""
    img = np.full((size[1], size[0], 3), 20, np.uint8)
    img[44:64, 70:90] = 240
    Image.fromarray(img).save(path)
    return path


def _dot_x(frame: np.ndarray) -> tuple[float, float]:
    """Where the bright square is (its middle's x) and how wide it is, in pixels."""
    luma = frame.mean(axis=2)
    cols = np.nonzero(luma.max(axis=0) > 128)[0]
    return float(cols.mean()), float(cols.max() - cols.min() + 1)


def test_a_real_animatic_pans_and_zooms_over_the_keyframe(tmp_path):
    import av

    from videofactory.assembly.render import assemble

    key = _dot_keyframe(tmp_path / "key.png")
    spec = OutputSpec(96, 54, 12, fit="crop")
    shots = (
        TimelineShot("s01", key, 1.0, move="pan_right"),
        TimelineShot("s02", key, 1.0, move="zoom_in"),
    )
    timeline = Timeline(shots, spec, loudness=None, room_tone_dbfs=None)
    info = assemble(timeline, tmp_path / "preview.mp4")
    assert (info.width, info.height, info.frames) == (96, 54, 24) and info.has_audio
    with av.open(str(tmp_path / "preview.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    pan = [_dot_x(frames[i]) for i in (0, 11)]
    zoom = [_dot_x(frames[i]) for i in (12, 23)]
    # The camera pans right: the square slides left across the frame.
    assert pan[1][0] < pan[0][0] - 4
    # The camera pushes in: the square grows and moves away from the middle (it is left of it).
    assert zoom[1][1] > zoom[0][1] + 1 and zoom[1][0] < zoom[0][0]
