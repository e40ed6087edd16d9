"""The automatic score of a take's clip, and the contact sheet of a shot's takes.

The score ranks the takes of one shot (same keyframe, same prompt, different seeds), so it
measures what a different seed spoils, from the clip's own frames (PyAV and numpy; no model):

- **sharpness**: the variance of the Laplacian of the luma, averaged over a few frames spread
  across the clip, at a fixed analysis width (so that a larger clip is not "sharper" for its
  size). A soft, smeared or out-of-focus take scores low.
- **flicker**: the mean change of the frame's average brightness from one frame to the next,
  in 8-bit levels. Video models flicker; a camera move barely changes it.
- **judder**: how irregular the motion is: the spread of the frame-to-frame pixel difference
  against its mean. Steady motion (or a still shot) has none; a stutter (repeated frames
  between jumps) or a glitchy frame has much.
- **clipped**: the share of pixels crushed to black (<= 2) or blown to white (>= 253).

``score = ln(1 + sharpness) * (1 - clipped) / ((1 + flicker / 4) * (1 + judder))``: higher is
better; a sharp, steady, well-exposed take wins. It says nothing of whether the take shows what
the prompt asks: that is what ``videofactory pick`` is for.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from videofactory.errors import MediaError

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "ANALYSIS_WIDTH",
    "SCORE_MEANS",
    "SheetTake",
    "TakeScore",
    "laplacian_variance",
    "score_clip",
    "score_frames",
    "take_sheet",
]

#: Width the frames are scored at (their height keeps the clip's shape).
ANALYSIS_WIDTH = 256
#: Frames spread over the clip whose sharpness and clipping are measured.
SHARPNESS_SAMPLES = 5
#: A mean brightness jump of this many levels per frame halves the score.
FLICKER_LEVELS = 4.0
#: Luma at or below / at or above which a pixel counts as clipped.
CRUSHED, BLOWN = 2, 253
#: One line for ``show`` and the docs: what the score measures.
SCORE_MEANS = (
    "sharpness (variance of the Laplacian), less flicker (frame-to-frame brightness jumps), "
    "judder (irregular motion) and clipped shadows/highlights; higher is better"
)


@dataclass(frozen=True)
class TakeScore:
    """The automatic score of one take's clip and what it is made of."""

    score: float
    sharpness: float
    flicker: float
    judder: float
    clipped: float
    frames: int

    def measures(self) -> dict[str, Any]:
        """What the score is made of, rounded for people and JSON."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def laplacian_variance(gray: np.ndarray) -> float:
    """The variance of the 4-neighbour Laplacian of a luma picture: high where edges are
    crisp, low where the picture is soft."""
    g = gray.astype(np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def score_frames(frames: Sequence[np.ndarray]) -> TakeScore:
    """The score of a clip from its luma frames (2-D uint8 arrays, in order)."""
    if not frames:
        raise ValueError("no frames to score")
    picks = np.linspace(0, len(frames) - 1, min(SHARPNESS_SAMPLES, len(frames))).round()
    sample = [frames[int(i)] for i in dict.fromkeys(picks)]
    sharpness = float(np.mean([laplacian_variance(f) for f in sample]))
    clipped = float(np.mean([((f <= CRUSHED) | (f >= BLOWN)).mean() for f in sample]))
    flicker = judder = 0.0
    if len(frames) > 1:
        means = np.array([float(f.mean()) for f in frames])
        flicker = float(np.abs(np.diff(means)).mean())
        steps = np.array(
            [
                float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean())
                for a, b in zip(frames, frames[1:], strict=False)
            ]
        )
        judder = float(steps.std() / (steps.mean() + 1.0))
    spoilt = (1 + flicker / FLICKER_LEVELS) * (1 + judder)
    score = math.log1p(sharpness) * (1.0 - clipped) / spoilt
    return TakeScore(round(score, 4), sharpness, flicker, judder, clipped, len(frames))


def _frames(path: Path, width: int, fmt: str) -> list[np.ndarray]:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            height = None
            out = []
            for frame in container.decode(stream):
                if height is None:
                    height = max(2, round(frame.height * width / max(1, frame.width) / 2) * 2)
                out.append(frame.reformat(width=width, height=height, format=fmt).to_ndarray())
            return out
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise MediaError(f"cannot read the frames of {path}: {exc}") from exc


def score_clip(path: Path) -> TakeScore:
    """The score of a clip file (every frame decoded at ``ANALYSIS_WIDTH``).

    Raises:
        MediaError: the file has no readable video frames.
    """
    frames = _frames(Path(path), ANALYSIS_WIDTH, "gray")
    if not frames:
        raise MediaError(f"{path} has no video frames to score")
    return score_frames(frames)


@dataclass(frozen=True)
class SheetTake:
    """One take on a contact sheet: its number, clip, score and whether the film uses it
    (``chosen``: "picked", "auto" (the best score) or "")."""

    take: int
    clip: Path
    score: float | None
    chosen: str = ""


#: Contact sheet geometry: tiles per row, label band and gaps in pixels.
SHEET_COLUMNS = 4
LABEL_PX = 26
TITLE_PX = 30
GAP_PX = 6
#: The frame drawn around the take the film uses.
CHOSEN_COLOUR = (255, 196, 0)


def _middle(path: Path, width: int) -> PILImage.Image:
    from PIL import Image

    frames = _frames(path, width, "rgb24")
    if not frames:
        raise MediaError(f"{path} has no video frames")
    return Image.fromarray(frames[len(frames) // 2])


def _why(chosen: str) -> str:
    return "best score" if chosen == "auto" else chosen


def take_sheet(
    shot_id: str, takes: Sequence[SheetTake], dest: Path, *, tile_width: int = 320
) -> Path:
    """Write the contact sheet of a shot's takes to ``dest`` (JPEG): each take's middle frame,
    labelled with its number and score, the one the film uses framed and marked; a title
    line names the shot. Written whole or not at all (a temporary file renamed)."""
    from PIL import Image, ImageDraw, ImageFont

    from videofactory.assembly.subtitles import fonts_dir

    tiles = [_middle(t.clip, tile_width) for t in takes]
    tile_h = max(t.height for t in tiles)
    columns = min(SHEET_COLUMNS, len(takes))
    rows = math.ceil(len(takes) / columns)
    width = GAP_PX + columns * (tile_width + GAP_PX)
    height = TITLE_PX + rows * (tile_h + LABEL_PX + GAP_PX) + GAP_PX
    sheet = Image.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font_file = fonts_dir() / "DejaVuSans.ttf"
    font = ImageFont.truetype(str(font_file), 15)
    title = ImageFont.truetype(str(font_file), 17)
    used = next((t for t in takes if t.chosen), None)
    caption = f"shot {shot_id}: {len(takes)} takes"
    if used is not None:
        caption += f"; the film uses take {used.take} ({_why(used.chosen)})"
    draw.text((GAP_PX, 6), caption, fill=(235, 235, 235), font=title)
    for i, (take, tile) in enumerate(zip(takes, tiles, strict=True)):
        row, column = divmod(i, columns)
        x = GAP_PX + column * (tile_width + GAP_PX)
        y = TITLE_PX + row * (tile_h + LABEL_PX + GAP_PX)
        sheet.paste(tile, (x, y))
        label = f"take {take.take}"
        label += f"  score {take.score:.2f}" if take.score is not None else "  not scored"
        colour = (235, 235, 235)
        if take.chosen:
            label += f"  [{_why(take.chosen)}]"
            colour = CHOSEN_COLOUR
            box = (x - 3, y - 3, x + tile_width + 2, y + tile_h + 2)
            draw.rectangle(box, outline=colour, width=3)
        draw.text((x + 2, y + tile_h + 4), label, fill=colour, font=font)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    sheet.save(tmp, format="JPEG", quality=90)
    os.replace(tmp, dest)
    return dest
