"""The automatic score of a take (synthetic frames, and tiny clips encoded here with PyAV) and
the contact sheet of a shot's takes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from videofactory.assembly.takes import (
    GAP_PX,
    LABEL_PX,
    TITLE_PX,
    SheetTake,
    score_clip,
    score_frames,
    take_sheet,
)
from videofactory.errors import MediaError

RNG = np.random.default_rng(7)
#: A detailed picture: shapes with hard edges over fine texture, 96x160 luma.
SCENE = np.clip(
    np.kron(RNG.integers(40, 215, (12, 20)), np.ones((8, 8))) + RNG.normal(0, 12, (96, 160)),
    0,
    255,
).astype(np.uint8)


def blur(picture: np.ndarray, radius: int = 3) -> np.ndarray:
    """A box blur (as a soft, out-of-focus take looks)."""
    out = picture.astype(np.float32)
    for axis in (0, 1):
        out = sum(np.roll(out, k, axis=axis) for k in range(-radius, radius + 1)) / (2 * radius + 1)
    return out.astype(np.uint8)


def pan(picture: np.ndarray, steps: list[int]) -> list[np.ndarray]:
    """Frames of a camera move: the picture shifted by the running sum of ``steps``."""
    return [np.roll(picture, int(s), axis=1) for s in np.cumsum([0, *steps])]


def test_a_sharp_take_outscores_a_blurred_one_of_the_same_picture():
    sharp = score_frames(pan(SCENE, [2] * 11))
    soft = score_frames(pan(blur(SCENE), [2] * 11))
    assert sharp.sharpness > 3 * soft.sharpness
    assert sharp.score > soft.score


def test_flicker_judder_and_clipping_lower_the_score():
    steady = score_frames(pan(SCENE, [2] * 11))
    flicker = [np.clip(f.astype(int) + (25 if i % 2 else -25), 0, 255).astype(np.uint8)
               for i, f in enumerate(pan(SCENE, [2] * 11))]  # fmt: skip
    flickering = score_frames(flicker)
    assert flickering.flicker > 20 * max(steady.flicker, 0.5)
    assert flickering.score < steady.score
    stutter = score_frames(pan(SCENE, [0, 4] * 5 + [0]))  # same distance, in jerks
    assert stutter.judder > steady.judder + 0.5 and stutter.score < steady.score
    blown = score_frames(pan(np.clip(SCENE.astype(int) * 3, 0, 255).astype(np.uint8), [2] * 11))
    assert blown.clipped > 0.3 and blown.score < steady.score
    still = score_frames([SCENE] * 4)  # a still shot neither flickers nor judders
    assert still.flicker == 0 and still.judder == 0
    with pytest.raises(ValueError):
        score_frames([])


def encode(path: Path, frames: list[np.ndarray]) -> Path:
    """A small H.264 clip of luma frames (grey), as a take's clip."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.options = {"crf": "12"}
        for f in frames:
            rgb = np.repeat(f[:, :, None], 3, axis=2)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    return path


def test_clips_are_scored_from_their_decoded_frames_and_drawn_on_a_sheet(tmp_path):
    sharp = encode(tmp_path / "s01.mp4", pan(SCENE, [2] * 11))
    soft = encode(tmp_path / "s01.take2.mp4", pan(blur(SCENE), [2] * 11))
    a, b = score_clip(sharp), score_clip(soft)
    assert a.frames == b.frames == 12 and a.score > b.score
    (tmp_path / "not.mp4").write_text("not a video")
    with pytest.raises(MediaError, match="not.mp4"):
        score_clip(tmp_path / "not.mp4")

    dest = tmp_path / "takes" / "s01.jpg"
    takes = [SheetTake(1, sharp, a.score, "auto"), SheetTake(2, soft, b.score)]
    assert take_sheet("s01", takes, dest, tile_width=320) == dest
    from PIL import Image

    with Image.open(dest) as sheet:
        # two 320x192 tiles side by side (the clips' 5:3), a title and a label band
        assert sheet.size == (GAP_PX + 2 * (320 + GAP_PX), TITLE_PX + 192 + LABEL_PX + 2 * GAP_PX)
        pixels = np.asarray(sheet.convert("RGB"))
    # The tile of the take the film uses is framed in the highlight colour; the other is not.
    assert pixels[TITLE_PX - 2, GAP_PX + 100].tolist() == pytest.approx([255, 196, 0], abs=40)
    assert pixels[TITLE_PX - 2, 2 * GAP_PX + 320 + 100].tolist() == pytest.approx([24] * 3, abs=20)
    assert not list(dest.parent.glob(".*partial"))
