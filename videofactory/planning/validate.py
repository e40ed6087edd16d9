"""Checks on what a user asks for, before any planning: one clear message each."""

from __future__ import annotations

import math
import unicodedata

from videofactory.constants import MAX_DURATION_SECONDS, MIN_SHOT_SECONDS
from videofactory.errors import ConfigError

__all__ = ["MAX_CONCEPT_CHARS", "check_concept", "check_duration"]

#: A concept is a sentence or a paragraph, not a book.
MAX_CONCEPT_CHARS = 2000


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
