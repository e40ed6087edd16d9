"""Checks on what a user asks for, before any planning: one clear message each."""

from __future__ import annotations

import math
import unicodedata

from videofactory.errors import ConfigError
from videofactory.limits import (
    MAX_CLIP_SECONDS,
    MAX_CONCEPT_CHARS,
    MAX_DURATION_SECONDS,
    MAX_STYLE_CHARS,
    MIN_CLIP_SECONDS,
    MIN_SHOT_SECONDS,
)
from videofactory.shotlist import fps_problem, size_problem

__all__ = [
    "check_clip_seconds",
    "check_concept",
    "check_duration",
    "check_format",
    "check_style",
]


def check_concept(concept: str) -> str:
    """The concept with control characters removed; refuses empty or huge ones."""
    cleaned = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in concept)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise ConfigError(
            'the concept is empty; say what the video is about, e.g. "warrior in mystical forest"'
        )
    if len(cleaned) > MAX_CONCEPT_CHARS:
        raise ConfigError(
            f"the concept is {len(cleaned):,} characters long; keep it under "
            f"{MAX_CONCEPT_CHARS:,} (a sentence or a paragraph), or write a shot list by hand"
        )
    return cleaned


def check_style(style: str) -> str:
    """A film's style (``--style``) as one clean line; refuses a blank or a long one."""
    cleaned = " ".join(
        "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in style).split()
    ).strip(" ,")
    if not cleaned:
        raise ConfigError(
            'the style is empty; describe the look, e.g. --style "watercolour, soft pastel light"'
        )
    if len(cleaned) > MAX_STYLE_CHARS:
        raise ConfigError(
            f"the style is {len(cleaned):,} characters long; keep it under {MAX_STYLE_CHARS} "
            "(it goes into every prompt): a few words on the look, the medium and the light"
        )
    return cleaned


def check_duration(duration_s: float) -> float:
    """A duration in seconds that a video can have."""
    try:
        value = float(duration_s)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"duration {duration_s!r} is not a number of seconds") from exc
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"duration must be a positive number of seconds (got {duration_s})")
    if value < MIN_SHOT_SECONDS:
        raise ConfigError(
            f"duration {value:g} s is too short; a video needs at least {MIN_SHOT_SECONDS:g} s"
        )
    if value > MAX_DURATION_SECONDS:
        raise ConfigError(
            f"duration {value:g} s is over the limit of {MAX_DURATION_SECONDS / 3600:g} hours"
        )
    return value


def check_format(width: int, height: int, fps: int) -> None:
    """A frame size and rate a video can have (the shot list's own limits, checked before
    any planning so that a bad one is one line, not a failure half-way)."""
    problems = [size_problem("width", width), size_problem("height", height), fps_problem(fps)]
    found = [p for p in problems if p]
    if found:
        raise ConfigError("; ".join(found))


def check_clip_seconds(clip_s: float) -> float:
    """A clip length in seconds, in the range a farm file's ``clip_seconds`` allows."""
    if not (math.isfinite(clip_s) and MIN_CLIP_SECONDS <= clip_s <= MAX_CLIP_SECONDS):
        raise ConfigError(
            f"clip length {clip_s:g} s is out of range; use {MIN_CLIP_SECONDS:g} to "
            f"{MAX_CLIP_SECONDS:g} seconds (the length of one clip your scene workflow makes, "
            "e.g. 5 for Wan 2.2)"
        )
    return float(clip_s)
