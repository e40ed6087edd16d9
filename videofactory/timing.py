"""Seconds and frames: every conversion between them, each with its rounding rule named. Pure.

A length in seconds becomes a count of frames in two ways, on purpose:

* ``frames_in``: the **nearest** frame, halves up. Used wherever a time is placed on the
  output's frame grid: the planner's frame-aligned shot lengths, the assembly's shot
  boundaries, transitions and thumbnail, the audio bed's sample count. Rounding each boundary
  once (never each shot's length) keeps a long cut from drifting, and halves go up so that the
  same time always lands on the same frame (Python's ``round`` rounds halves to even:
  ``round(2.5) == 2`` but ``round(3.5) == 4``, so half-frame shots would alternate).
* ``frames_covering``: the **fewest** frames that last at least the time. Used for what a clip
  workflow is asked to make: a clip one frame short of its shot would freeze the cut on its
  last frame, a frame too many is trimmed by the assembly.

``seconds_of`` is the way back: how long a count of frames lasts at a rate.

Products such as 4.8 s x 16 fps come out as 76.80000000000001, and a time written in
milliseconds may sit a hair off the half frame it means; a product within ``FRAME_SLACK`` of a
whole or half frame counts as on it, so a float's last bit never adds or drops a frame.
"""

from __future__ import annotations

import math

__all__ = ["FRAME_SLACK", "frames_covering", "frames_in", "seconds_of"]

#: Float slack in frames when turning seconds into frames (a millionth of a frame: far below
#: any time a person writes, far above a float's error on lengths up to hours).
FRAME_SLACK = 1e-6


def frames_in(seconds: float, fps: float) -> int:
    """The frame nearest to ``seconds`` at ``fps`` (halves up): where a time falls on the grid.

    Also the number of whole frames a length of ``seconds`` rounds to, and, with an audio
    sample rate for ``fps``, the nearest sample.
    """
    exact = seconds * fps
    whole = math.floor(exact)
    return whole + 1 if exact - whole >= 0.5 - FRAME_SLACK else whole


def frames_covering(seconds: float, fps: float) -> int:
    """The fewest frames at ``fps`` that last at least ``seconds`` (5 s at 16 fps: 80)."""
    return math.ceil(seconds * fps - FRAME_SLACK)


def seconds_of(frames: float, fps: float) -> float:
    """How long ``frames`` frames last at ``fps``."""
    return frames / fps
