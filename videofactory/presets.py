"""Named choices a user makes: aspect ratios, resolutions and transitions. Pure data.

Resolutions name the short side of the frame ("1080p" is 1920x1080 at 16:9, 1080x1920 at
9:16 and 1080x1080 at 1:1), the way phones and video sites name portrait video too.
Transitions are ``cut``, ``crossfade`` (xfade's ``fade``), ``fadeblack`` (fade through black)
and every transition of ffmpeg's ``xfade`` filter by its own name.
"""

from __future__ import annotations

from videofactory.errors import ConfigError

__all__ = [
    "ASPECTS",
    "RESOLUTIONS",
    "TRANSITION_ALIASES",
    "XFADE_NEWER",
    "XFADE_TRANSITIONS",
    "canonical_transition",
    "frame_size",
    "shape_size",
]

#: Aspect ratios as (width, height) parts.
ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}

#: Short side of the frame in pixels.
RESOLUTIONS: dict[str, int] = {"480p": 480, "720p": 720, "1080p": 1080, "4k": 2160}

#: xfade transitions present in ffmpeg 5.1 (Debian 12) and every later version.
XFADE_TRANSITIONS: frozenset[str] = frozenset(
    """fade wipeleft wiperight wipeup wipedown slideleft slideright slideup slidedown circlecrop
    rectcrop distance fadeblack fadewhite radial smoothleft smoothright smoothup smoothdown
    circleopen circleclose vertopen vertclose horzopen horzclose dissolve pixelize diagtl diagtr
    diagbl diagbr hlslice hrslice vuslice vdslice hblur fadegrays wipetl wipetr wipebl wipebr
    squeezeh squeezev zoomin fadefast fadeslow""".split()
)

#: xfade transitions added after 5.1 (ffmpeg 7.0): used only when the binary lists them.
XFADE_NEWER: frozenset[str] = frozenset(
    """hlwind hrwind vuwind vdwind coverleft coverright coverup coverdown revealleft
    revealright revealup revealdown""".split()
)

#: Friendly names for the common transitions.
TRANSITION_ALIASES: dict[str, str] = {
    "cut": "cut",
    "none": "cut",
    "crossfade": "fade",
    "fade-through-black": "fadeblack",
    "black": "fadeblack",
}


def canonical_transition(name: str) -> str:
    """``cut`` or the xfade name a transition name stands for.

    Raises:
        ConfigError: not a transition we know, with the names that are.
    """
    key = name.strip().lower()
    key = TRANSITION_ALIASES.get(key, key)
    if key == "cut" or key in XFADE_TRANSITIONS or key in XFADE_NEWER:
        return key
    known = ", ".join(["cut", "crossfade", "fadeblack", *sorted(XFADE_TRANSITIONS - {"fade"})])
    raise ConfigError(f"unknown transition {name!r}; use one of: {known}")


def frame_size(aspect: str = "16:9", resolution: str = "720p") -> tuple[int, int]:
    """Width and height (both even) for an aspect preset and a resolution preset.

    Raises:
        ConfigError: an unknown preset, naming the known ones.
    """
    if aspect not in ASPECTS:
        raise ConfigError(f"unknown aspect {aspect!r}; use one of: {', '.join(ASPECTS)}")
    key = resolution.strip().lower()
    if key not in RESOLUTIONS:
        raise ConfigError(f"unknown resolution {resolution!r}; use one of: 480p, 720p, 1080p, 4K")
    return shape_size(aspect, RESOLUTIONS[key])


def shape_size(aspect: str, short: int) -> tuple[int, int]:
    """Width and height (both even) of an aspect preset whose short side is ``short`` pixels.

    Raises:
        ConfigError: an unknown aspect, naming the known ones.
    """
    if aspect not in ASPECTS:
        raise ConfigError(f"unknown aspect {aspect!r}; use one of: {', '.join(ASPECTS)}")
    a, b = ASPECTS[aspect]
    short = 2 * round(short / 2)
    # The long side rounds to an even number: 480p at 16:9 is 854x480 (853.3 rounds up).
    long = 2 * round(short * max(a, b) / min(a, b) / 2)
    return (long, short) if a >= b else (short, long)
