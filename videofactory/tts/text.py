"""Narration text in pieces a speech server can take: split at sentence boundaries.

Chatterbox garbles text much longer than about 250 characters, and other engines slow down or
drift on long inputs, so long narration is sent as several requests and the audio is joined.
Splitting prefers, in order: sentence ends, then clause punctuation (; : , and dashes), then
spaces; only a single "word" longer than the limit (a URL, a long number) is cut inside.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["DEFAULT_MAX_CHARS", "speakable", "split_text"]

#: Longest text in one speech request (Chatterbox garbles longer text).
DEFAULT_MAX_CHARS = 250

# A sentence ends at . ! ? … (maybe followed by closing quotes/brackets) and then whitespace.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…。！？])|(?<=[.!?…。！？][\"'”’)\]]))\s+")
# Clause boundaries inside an over-long sentence: after , ; : or around dashes.
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+(?=[—–-]\s)")


def split_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars``, at the most natural boundaries.

    Short sentences are packed together up to the limit (fewer requests, natural prosody);
    whitespace is collapsed. Empty text gives an empty list.

    Raises:
        ValueError: ``max_chars`` is below 2.
    """
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, got {max_chars}")
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        pieces.extend(_fit(sentence.strip(), max_chars))
    return _pack([p for p in pieces if p], max_chars)


def _fit(sentence: str, max_chars: int) -> list[str]:
    """One sentence as pieces no longer than ``max_chars`` (clauses, then words)."""
    if len(sentence) <= max_chars:
        return [sentence]
    clauses = [c.strip() for c in _CLAUSE_END.split(sentence) if c.strip()]
    if len(clauses) > 1:
        out: list[str] = []
        for clause in _pack(clauses, max_chars):
            out.extend(_fit_words(clause, max_chars))
        return out
    return _fit_words(sentence, max_chars)


def _fit_words(text: str, max_chars: int) -> list[str]:
    """Pack words up to ``max_chars``; a word longer than that is cut into slices."""
    if len(text) <= max_chars:
        return [text]
    words: list[str] = []
    for word in text.split(" "):
        while len(word) > max_chars:
            words.append(word[:max_chars])
            word = word[max_chars:]
        if word:
            words.append(word)
    return _pack(words, max_chars)


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Join consecutive parts with spaces while the result stays within ``max_chars``."""
    packed: list[str] = []
    for part in parts:
        if packed and len(packed[-1]) + 1 + len(part) <= max_chars:
            packed[-1] = f"{packed[-1]} {part}"
        else:
            packed.append(part)
    return packed


def speakable(text: str) -> bool:
    """True when the text has a letter or a digit: punctuation alone is silence."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)
