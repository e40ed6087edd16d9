"""Verb forms the narration needs from a verb's lemma: "runs", "running", "run" (done). Pure.

The parser gives each verb's lemma ("executes" -> "execute"); a sentence about it then needs
the third person ("the CPU executes"), the -ing form ("executing an instruction") or the past
participle ("the instruction is executed"). English regular verbs follow spelling rules; the
common irregular ones are listed.
"""

from __future__ import annotations

__all__ = ["ing", "participle", "third_person"]

_IRREGULAR_PARTICIPLES = {
    "be": "been", "become": "become", "begin": "begun", "bend": "bent", "bind": "bound",
    "bite": "bitten", "blow": "blown", "break": "broken", "breed": "bred", "bring": "brought",
    "build": "built", "burn": "burnt", "buy": "bought", "catch": "caught", "choose": "chosen",
    "come": "come", "cut": "cut", "deal": "dealt", "dig": "dug", "do": "done", "draw": "drawn",
    "dream": "dreamt", "drink": "drunk", "drive": "driven", "eat": "eaten", "fall": "fallen",
    "feed": "fed", "feel": "felt", "fight": "fought", "find": "found", "fly": "flown",
    "forget": "forgotten", "freeze": "frozen", "get": "got", "give": "given", "go": "gone",
    "grind": "ground", "grow": "grown", "hang": "hung", "have": "had", "hear": "heard",
    "hide": "hidden", "hold": "held", "keep": "kept", "know": "known", "lay": "laid",
    "lead": "led", "leave": "left", "lend": "lent", "let": "let", "lie": "lain", "light": "lit",
    "lose": "lost", "make": "made", "mean": "meant", "meet": "met", "pay": "paid", "put": "put",
    "read": "read", "ride": "ridden", "ring": "rung", "rise": "risen", "run": "run",
    "say": "said", "see": "seen", "seek": "sought", "sell": "sold", "send": "sent",
    "set": "set", "sew": "sewn", "shake": "shaken", "shine": "shone", "shoot": "shot",
    "show": "shown", "shut": "shut", "sing": "sung", "sink": "sunk", "sit": "sat",
    "sleep": "slept", "slide": "slid", "speak": "spoken", "spend": "spent", "spin": "spun",
    "split": "split", "spread": "spread", "stand": "stood", "steal": "stolen", "stick": "stuck",
    "strike": "struck", "swim": "swum", "swing": "swung", "take": "taken", "teach": "taught",
    "tear": "torn", "tell": "told", "think": "thought", "throw": "thrown", "wake": "woken",
    "wear": "worn", "weave": "woven", "win": "won", "wind": "wound", "write": "written",
}  # fmt: skip
_IRREGULAR_THIRD = {"be": "is", "have": "has", "do": "does", "go": "goes"}
# One-syllable verbs ending consonant-vowel-consonant double it: "run" -> "running".
_DOUBLING = {
    "run", "swim", "sit", "stop", "dig", "hop", "drop", "plan", "skip", "step", "shop", "cut",
    "get", "set", "put", "hit", "spin", "win", "begin", "grab", "hug", "jog", "nod", "rub",
    "tap", "trim", "wrap", "chop", "ship", "slip", "stir", "blog", "plug", "map", "scan", "zip",
}  # fmt: skip


def ing(lemma: str) -> str:
    """'fight' -> 'fighting', 'dance' -> 'dancing', 'lie' -> 'lying', 'run' -> 'running'."""
    base = lemma.lower()
    if base == "be":
        return "being"
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")) and len(base) > 2:
        return base[:-1] + "ing"
    if base in _DOUBLING:
        return base + base[-1] + "ing"
    return base + "ing"


def third_person(lemma: str) -> str:
    """'execute' -> 'executes', 'watch' -> 'watches', 'fly' -> 'flies', 'be' -> 'is'."""
    base = lemma.lower()
    if base in _IRREGULAR_THIRD:
        return _IRREGULAR_THIRD[base]
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in set("aeiou"):
        return base[:-1] + "ies"
    return base + "s"


def participle(lemma: str) -> str:
    """'execute' -> 'executed', 'make' -> 'made', 'stop' -> 'stopped', 'carry' -> 'carried'."""
    base = lemma.lower()
    if base in _IRREGULAR_PARTICIPLES:
        return _IRREGULAR_PARTICIPLES[base]
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2:-1] not in set("aeiou"):
        return base[:-1] + "ied"
    if base in _DOUBLING:
        return base + base[-1] + "ed"
    return base + "ed"
