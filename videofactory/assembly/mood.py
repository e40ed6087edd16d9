"""Which music bed suits a film: its mood, from the plan's fields or its words. Pure.

The plan (a shot list as a mapping) is asked, in order, by each reader of ``FIELD_READERS``:
an explicit ``mood`` wins, then the film's ``kind`` (story, explainer, teaser, travel,
montage, as the planner records it), then the words of the concept and the style. A field the
planner adds later plugs in as one more reader (a name and a function from its value to a
mood, or None to pass). A film that says nothing gets ``DEFAULT_MOOD``.

The seed comes from the concept and the mood, so the same plan always gets the same bed and
two films of one mood get different ones.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from videofactory.assembly.bed import MOODS

__all__ = ["DEFAULT_MOOD", "FIELD_READERS", "KIND_MOODS", "MoodChoice", "choose_mood"]

#: The mood of a film nothing points anywhere: unobtrusive and pleasant under any narration.
DEFAULT_MOOD = "warm"

#: The bed for each kind of film (and the names a planner or a person may use for it).
KIND_MOODS: dict[str, str] = {
    "story": "warm",
    "character": "warm",
    "day-in-the-life": "warm",
    "explainer": "bright",
    "how-to": "bright",
    "howto": "bright",
    "tutorial": "bright",
    "teaser": "driving",
    "product": "driving",
    "brand": "driving",
    "ad": "driving",
    "travel": "airy",
    "place": "airy",
    "montage": "pulse",
}

#: Other names for the moods, as a plan or a person may write them.
MOOD_ALIASES: dict[str, str] = {
    "happy": "bright",
    "upbeat": "bright",
    "cheerful": "bright",
    "energetic": "driving",
    "action": "driving",
    "sad": "wistful",
    "melancholy": "wistful",
    "nostalgic": "wistful",
    "dark": "tense",
    "suspense": "tense",
    "peaceful": "calm",
    "serene": "calm",
    "dreamy": "airy",
    "heroic": "epic",
    "rhythmic": "pulse",
}

#: Words of a concept or style that lean towards a mood (matched whole, case-folded; a
#: trailing "s" is ignored). The concept's words count twice the style's.
MOOD_WORDS: dict[str, frozenset[str]] = {
    "tense": frozenset(
        "dark noir horror eerie ominous tense thriller storm mystery mysterious haunted "
        "sinister shadow danger creepy night midnight ghost".split()
    ),
    "calm": frozenset(
        "calm serene peaceful quiet gentle meditation zen slow soft tranquil still misty "
        "morning garden lake pastel".split()
    ),
    "bright": frozenset(
        "bright cheerful happy fun playful sunny colorful colourful vibrant how explain "
        "explainer tutorial guide learn work science step kid".split()
    ),
    "driving": frozenset(
        "product teaser launch ad advert brand sport race running shoe energy fast speed "
        "action neon chase car sneaker".split()
    ),
    "epic": frozenset(
        "epic battle warrior hero legend war dragon quest mythic mystical knight kingdom "
        "army giant ancient saga".split()
    ),
    "wistful": frozenset(
        "moody melancholy nostalgic memory lonely rain autumn abandoned ruin forgotten "
        "fading lost last farewell old".split()
    ),
    "airy": frozenset(
        "travel journey landscape mountain ocean sea sky island aerial voyage wander coast "
        "desert city tour valley horizon".split()
    ),
    "warm": frozenset(
        "family home love friend village kitchen life day keeper story child grandmother "
        "craft cozy cosy".split()
    ),
    "pulse": frozenset("montage timelapse time-lapse rhythm dance festival crowd".split()),
}


@dataclass(frozen=True)
class MoodChoice:
    """The bed chosen for a film: its mood, the seed, and why (for the run's log)."""

    mood: str
    seed: int
    reason: str


def _mood_named(value: Any) -> str | None:
    """A mood the plan names outright (or one of its aliases)."""
    name = str(value).strip().lower()
    return name if name in MOODS else MOOD_ALIASES.get(name)


def _mood_of_kind(value: Any) -> str | None:
    """The mood of a kind of film ("teaser" -> driving)."""
    name = re.sub(r"[\s_]+", "-", str(value).strip().lower())
    return KIND_MOODS.get(name)


#: The plan's fields that say a mood outright, asked in order: (field, reader).
FIELD_READERS: tuple[tuple[str, Callable[[Any], str | None]], ...] = (
    ("mood", _mood_named),
    ("kind", _mood_of_kind),
)


def _words(text: str) -> list[str]:
    return [w.removesuffix("s") for w in re.findall(r"[a-z][a-z'-]*", text.lower())]


def _mood_of_words(concept: str, style: str) -> tuple[str, list[str]] | None:
    """The mood most of the words lean to (the concept's twice), and those words."""
    scores: dict[str, int] = {}
    hits: dict[str, list[str]] = {}
    for weight, text in ((2, concept), (1, style)):
        for word in _words(text):
            for mood, words in MOOD_WORDS.items():
                if word in words or word + "s" in words:
                    scores[mood] = scores.get(mood, 0) + weight
                    hits.setdefault(mood, []).append(word)
    if not scores:
        return None
    # Ties go to the order of MOOD_WORDS, so the choice never depends on set order.
    order = list(MOOD_WORDS)
    best = max(scores, key=lambda m: (scores[m], -order.index(m)))
    return best, hits[best]


def choose_mood(plan: Mapping[str, Any]) -> MoodChoice:
    """The mood and seed of a film's bed, from its plan (a shot list as a mapping)."""
    concept = str(plan.get("concept") or "")
    mood, reason = None, ""
    for name, reader in FIELD_READERS:
        value = plan.get(name)
        if value:
            mood = reader(value)
            if mood:
                reason = f"{name} {value}"
                break
    if mood is None:
        found = _mood_of_words(concept, str(plan.get("style") or ""))
        if found:
            mood, words = found
            reason = "words " + ", ".join(dict.fromkeys(words))
        else:
            mood, reason = DEFAULT_MOOD, "default"
    seed = zlib.crc32(f"{concept}\0{mood}".encode())
    return MoodChoice(mood, seed, reason)
