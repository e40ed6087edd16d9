"""The animatic of a preview: each shot's keyframe held for the shot, moved as its camera says.

A preview renders keyframes only, so its video is a moving storyboard: every keyframe is shown
for its shot's length while a gentle camera move (the shot list's ``camera``: a pan, a push in
or a pull back; ``static`` holds the frame still) gives a feel of the clip to come. The move is
FFmpeg's ``zoompan`` over the keyframe, eased in and out (smoothstep) over the frames the shot
is on screen (a transition out of it included). Pure: the filter text only;
``graph._video_chain`` puts it in the render.

zoompan places its window on whole input pixels, and in 4:2:0 on every other one (a chroma
sample), which makes a slow move judder: on a 720p animatic a pan stepped 1 or 2 pixels a
frame. The keyframe is scaled to ``OVERSAMPLE`` times the output and kept 4:4:4 for the move,
so a step is about half an output pixel.
"""

from __future__ import annotations

from videofactory.errors import ConfigError

__all__ = ["MOVES", "OVERSAMPLE", "PAN_WINDOW", "ZOOM_NEAR", "move_filter", "moves"]

#: The camera moves an animatic makes (the shot list's ``CameraMove`` values).
MOVES = ("static", "pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out")
#: The window a pan looks through, as a share of the frame: it travels over the other 12 %.
PAN_WINDOW = 0.88
#: The window at the near end of a zoom, as a share of the frame (a 1.18x push in).
ZOOM_NEAR = 0.85
#: The keyframe is scaled to this many times the output before the move (see above).
OVERSAMPLE = 2


def moves(move: str) -> bool:
    """Whether a shot's camera moves the picture (``static`` holds it)."""
    if move not in MOVES:
        raise ConfigError(f"unknown camera move {move!r}; one of {', '.join(MOVES)}")
    return move != "static"


def _num(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def move_filter(move: str, frames: int, width: int, height: int, fps: int) -> str:
    """The filter chain that turns a keyframe (one picture) into ``frames`` frames of
    ``width`` x ``height`` at ``fps`` seen through the camera ``move``.

    The keyframe is first made to cover the output's shape (scaled, its middle cropped), at
    ``OVERSAMPLE`` times its size, in 4:4:4; zoompan then makes ``frames`` frames of it. Its
    ``zoom`` is the inverse of the window's share of the frame, ``x`` and ``y`` place the
    window: at the middle for a zoom, travelling across the spare margin for a pan
    (``pan_left``: the camera turns left, so the window slides from the right edge to the left
    one).
    """
    if frames < 1:
        raise ConfigError(f"an animatic shot needs at least one frame, got {frames}")
    moves(move)
    big_w, big_h = width * OVERSAMPLE, height * OVERSAMPLE
    cover = (
        f"scale={big_w}:{big_h}:force_original_aspect_ratio=increase,crop={big_w}:{big_h},"
        "setsar=1,format=yuv444p"
    )
    # The eased progress e of frame `on`: smoothstep of on/(frames-1), 0 for a one-frame shot.
    p = f"(on/{frames - 1})" if frames > 1 else "0"
    e = f"({p}*{p}*(3-2*{p}))"
    if move == "zoom_in":
        window = f"(1-{_num(1 - ZOOM_NEAR)}*{e})"
    elif move == "zoom_out":
        window = f"({_num(ZOOM_NEAR)}+{_num(1 - ZOOM_NEAR)}*{e})"
    elif move == "static":
        window = "1"
    else:
        window = _num(PAN_WINDOW)
    spare_x, spare_y = "(iw-iw/zoom)", "(ih-ih/zoom)"
    x, y = f"{spare_x}/2", f"{spare_y}/2"
    if move == "pan_left":
        x = f"{spare_x}*(1-{e})"
    elif move == "pan_right":
        x = f"{spare_x}*{e}"
    elif move == "pan_up":
        y = f"{spare_y}*(1-{e})"
    elif move == "pan_down":
        y = f"{spare_y}*{e}"
    # Single quotes keep the expressions whole in the graph (they hold no comma, no quote).
    zoom = f"zoompan=z='1/{window}':x='{x}':y='{y}':d={frames}:s={width}x{height}:fps={fps}"
    return f"{cover},{zoom}"
