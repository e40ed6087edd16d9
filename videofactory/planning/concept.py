"""Read a concept like a director would: who (or what), doing what, where, and when.

``parse_concept("two knights fighting on a bridge at dawn")`` gives subject "two knights"
(plural, a person), activity "fighting", setting "bridge", time "at dawn". No model is used:
a few word lists and patterns cover the concepts people type ("warrior in mystical forest",
"a cat on the moon", "robots dancing in the rain", "Tokyo at night", "sunrise"). What is not
understood is kept as written, never dropped: the concept itself is in the shot list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from videofactory.planning.lexicon import (
    ANIMALS,
    CREATURES,
    MACHINES,
    PEOPLE,
    PERSON_SUFFIXES,
    SINGULAR_S,
    THEMES,
    VERBS,
)

__all__ = ["Concept", "parse_concept", "split_concept"]

_PREPOSITIONS = (
    r"\b(in|inside|at|on|through|across|under|beneath|among|amid|within|into|over|"
    r"along|near|beyond|above|below|between|around)\b"
)
# Times and weather the concept may name; they set the light instead of being the setting.
_TIME = re.compile(
    r"\b(?:at|during|in|under|before|after)\s+(?:the\s+|a\s+)?"
    r"(?:dawn|dusk|night|nightfall|midnight|sunrise|sunset|noon|twilight|daybreak|first light|"
    r"golden hour|blue hour|morning|evening|rain|snow|fog|mist|storm|dark|darkness|"
    r"full moon|moonlight|stars|night sky|winter|summer|autumn|spring)\b",
    re.IGNORECASE,
)
_QUANTIFIERS = {
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve",
    "several", "many", "some", "few", "countless", "dozens", "hundreds", "thousands", "both",
}  # fmt: skip
_GROUPS = re.compile(
    r"^(?:a\s+)?(?:pack|group|band|flock|herd|crowd|pair|family|team|crew|swarm|school|army)\s+of\s+",
    re.IGNORECASE,
)
_IRREGULAR_PLURALS = {"children", "people", "men", "women", "mice", "geese", "oxen", "folk"}
_NOT_ACTIVITIES = {
    "king", "ring", "thing", "wing", "spring", "string", "morning", "evening", "building",
    "ceiling", "wedding", "darling", "sibling", "viking", "duckling", "ling", "sing", "swing",
    "nothing", "something", "everything", "sling", "earring", "lightning", "painting",
}  # fmt: skip
_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)
_NOUNS = PEOPLE | ANIMALS | CREATURES | MACHINES


@dataclass(frozen=True)
class Concept:
    """A concept read as subject, activity, setting and time (each as the user wrote it)."""

    text: str
    #: The subject without its article: "warrior", "two knights", "my cat", "Sherlock Holmes".
    subject: str
    #: Its last noun: "warrior", "knights", "cat".
    head: str
    #: What the subject does, as an -ing phrase ("chasing butterflies"), or "".
    activity: str
    #: The setting without its article ("mystical forest"), or "" when the concept has none.
    setting: str
    #: A time or weather phrase from the concept ("at dawn", "in the rain"), or "".
    time: str
    plural: bool
    #: The subject is a name ("Sherlock Holmes", "Tokyo"): no article before it.
    proper: bool
    #: person | animal | creature | machine | thing (a place, an object, weather, light).
    kind: str
    #: Key of ``lexicon.THEMES`` that fits the concept best ("generic" when nothing does).
    theme: str

    @property
    def animate(self) -> bool:
        """True for a character that can walk, look and act; False for a thing or a place."""
        return self.kind != "thing"

    def the_subject(self) -> str:
        """The subject as narration names it: "the warrior", "my cat", "Sherlock Holmes"."""
        if self.proper or _possessive(self.subject):
            return self.subject
        return f"the {self.subject}"


def _possessive(text: str) -> bool:
    first = text.split()[0].lower() if text else ""
    return first in {"my", "our", "your", "his", "her", "their", "its"} or first.endswith("'s")


def split_concept(concept: str) -> tuple[str, str]:
    """Split "warrior in mystical forest" into ("warrior", "mystical forest")."""
    parsed = parse_concept(concept)
    subject = parsed.subject if not parsed.activity else f"{parsed.subject} {parsed.activity}"
    return subject, parsed.setting


def _first_sentence(text: str) -> str:
    # A paragraph-long concept: the first sentence names the film; the rest stays in `concept`.
    first = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:24])


def _ing(verb: str) -> str:
    """'fights' -> 'fighting', 'dances' -> 'dancing', 'flies' -> 'flying', 'runs' -> 'running'."""
    base = VERBS.get(verb.lower(), verb.lower())
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        return base[:-1] + "ing"
    if base in {"run", "swim", "sit", "stop", "dig", "hop", "drop", "plan", "skip", "step", "shop"}:
        return base + base[-1] + "ing"
    return base + "ing"


def _split_activity(words: list[str]) -> tuple[list[str], str]:
    """Subject words and the activity (from the first -ing word or known verb on)."""
    for i, word in enumerate(words[1:], start=1):
        low = word.lower().strip(",")
        if low.endswith("ing") and len(low) > 4 and low not in _NOT_ACTIVITIES:
            return words[:i], " ".join(words[i:])
        if low in VERBS and _singular(low) not in _NOUNS and _agrees(words[i - 1], low):
            rest = " ".join(words[i + 1 :])
            return words[:i], f"{_ing(low)} {rest}".strip()
    return words, ""


def _agrees(before: str, verb: str) -> bool:
    """'knight fights', 'robots dance': a verb form that fits the word before it."""
    plural_before = _is_plural(before, before)
    return (verb != VERBS[verb]) != plural_before


def _is_plural(subject: str, head: str) -> bool:
    first = subject.split()[0].lower() if subject else ""
    if first in _QUANTIFIERS or _GROUPS.match(subject) or first.isdigit():
        return True
    low = head.lower()
    if low in _IRREGULAR_PLURALS:
        return True
    return low.endswith("s") and not low.endswith(("ss", "us", "is")) and low not in SINGULAR_S


def _singular(head: str) -> str:
    low = head.lower()
    if low in _IRREGULAR_PLURALS:
        return {"children": "child", "people": "person", "men": "man", "women": "woman"}.get(
            low, low
        )
    if low.endswith("ves") and low[:-3] + "f" in ANIMALS | PEOPLE:
        return low[:-3] + "f"
    if low.endswith("ies"):
        return low[:-3] + "y"
    if low.endswith("es") and low[:-2] in ANIMALS | PEOPLE | MACHINES | CREATURES:
        return low[:-2]
    return low[:-1] if low.endswith("s") and low not in SINGULAR_S else low


def _kind(head: str, proper: bool, has_setting: bool) -> str:
    noun = _singular(head)
    for kind, words in (
        ("person", PEOPLE),
        ("animal", ANIMALS),
        ("creature", CREATURES),
        ("machine", MACHINES),
    ):
        if noun in words:
            return kind
    if noun.endswith(PERSON_SUFFIXES):
        return "person"
    # A capitalised name with a setting is a someone ("Sherlock Holmes in London"); alone it
    # is more often a place ("Tokyo", "Venice").
    return "person" if proper and has_setting else "thing"


def _theme(*texts: str) -> str:
    words = set(re.findall(r"[a-z]+", " ".join(texts).lower()))
    best, best_hits = "generic", 0
    for name, theme in THEMES.items():
        hits = len(words & theme.keywords)
        if hits > best_hits:
            best, best_hits = name, hits
    return best


def parse_concept(concept: str) -> Concept:
    """Read a (cleaned) concept as subject, activity, setting and time."""
    text = " ".join(concept.split()).strip()
    core = _first_sentence(text).strip(" .!?")
    time = ""
    match = _TIME.search(core)
    if match and match.start() > 0:
        time = match.group(0).lower()
        core = (core[: match.start()] + core[match.end() :]).strip(" ,")
    setting = ""
    prep = re.search(_PREPOSITIONS, core, flags=re.IGNORECASE)
    if prep and prep.start() > 0:
        before, after = core[: prep.start()].strip(" ,"), core[prep.end() :].strip(" ,")
        if before and after:
            core, setting = before, _ARTICLE.sub("", after)
    words = _ARTICLE.sub("", core).split() or [core]
    subject_words, activity = _split_activity(words)
    subject = " ".join(subject_words).strip(" ,") or core
    head = re.sub(r"[^\w'-]", "", subject.split()[-1]) or subject
    proper = all(w[:1].isupper() for w in subject_words if w[:1].isalpha())
    if proper and len(subject_words) == 1 and _singular(head) in PEOPLE | ANIMALS | MACHINES:
        proper = False  # "Warrior in mystical forest": capitalised only because it comes first
    if not proper and subject[:1].isupper() and not subject.isupper():
        subject = subject[0].lower() + subject[1:]
    plural = _is_plural(subject, head) if not proper else subject.split()[0].lower() in _QUANTIFIERS
    joint = re.match(r"(.+?)\s+(?:and|&)\s+(.+)$", subject)
    if joint:
        first, second = joint.group(1), _ARTICLE.sub("", joint.group(2))
        if not setting and _theme(second) != "generic":  # "the old fisherman and the sea"
            subject, setting = first, second
            head = subject.split()[-1]
            plural = _is_plural(subject, head)
        else:  # "a boy and his dog": two of them
            head, plural = first.split()[-1], True
    kind = _kind(head, proper, bool(setting))
    return Concept(
        text=text,
        subject=subject,
        head=head,
        activity=activity,
        setting=setting,
        time=time,
        plural=plural,
        proper=proper,
        kind=kind,
        theme=_theme(setting, subject, activity, time),
    )
