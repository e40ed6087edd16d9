"""How long a narration line takes to say, at the rate of the engine that will say it. Pure.

Words are a poor measure ("CPU" is three syllables, "Tokyo" three), so a line is measured in
syllables (vowel groups, letters of an acronym, digits of a number), plus the pauses an
engine makes at commas and between sentences, plus the silence around the voice. Each engine's
figures were measured on the planner's own narration lines (110 of them, 2-25 words):

* eSpeak NG at 160 words per minute (its default, and videofactory's default voice) speaks 5.47
  syllables a second, and in proportion at other rates (7.32 at 220); 0.40 s at a comma, 0.31 s
  between sentences, 0.37 s of silence around the voice;
* Piper's ``en_US-joe-medium`` (the ``[piper]`` extra) speaks 5.59 syllables a second at its
  ``length_scale`` 1.0, and in proportion to 1/``length_scale``;
* a speech server (Chatterbox, an OpenAI-compatible server) is not measured: it is taken to
  speak at ``WORDS_PER_SECOND`` (2.5, a calm narrator) times 1.6 syllables a word, 4.0
  syllables a second, scaled by the OpenAI ``speed`` setting.

The estimate errs long: ``SpeakingRate.seconds`` adds a tenth and half a second to the
fitted figure, which then lies above the measured length of every line measured (the largest
miss of the fit was 0.75 s).
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass

from videofactory.constants import WORDS_PER_SECOND

if typing.TYPE_CHECKING:
    from videofactory.config import SpeechConfig

__all__ = ["DEFAULT_RATE", "SpeakingRate", "speaking_rate", "syllables"]

#: Syllables a second of eSpeak NG per word per minute of its rate (5.47 at 160 wpm).
ESPEAK_SYLLABLES_PER_WPM = 5.47 / 160
#: Piper's en_US-joe-medium at length_scale 1.0.
PIPER_SYLLABLES_PER_SECOND = 5.59
#: A speech server nobody measured: a calm narrator's 2.5 words a second, 1.6 syllables each.
SERVER_SYLLABLES_PER_SECOND = WORDS_PER_SECOND * 1.6
#: Margin on the fitted estimate: a share of it and seconds.
MARGIN_SHARE = 0.1
MARGIN_S = 0.5

_WORD = re.compile(r"[A-Za-z0-9'’-]+")


def syllables(text: str) -> int:
    """Syllables in ``text``, counted the way a speech engine will say them (about)."""
    total = 0
    for word in _WORD.findall(text):
        total += _word_syllables(word)
    return total


def _word_syllables(word: str) -> int:
    if word.isdigit():
        # "1999": nineteen ninety-nine; about one and a half syllables a digit
        return max(1, math.ceil(len(word) * 1.5))
    letters = re.sub(r"[^A-Za-z]", "", word)
    if not letters:
        return 0
    if letters.isupper() and 1 < len(letters) <= 5:
        # An acronym is spelt out: C-P-U; "W" is three syllables
        return sum(3 if c == "W" else 1 for c in letters)
    low = letters.lower()
    count = len(re.findall(r"[aeiouy]+", low))
    if low.endswith("e") and not low.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1  # a silent final e: "shoe" stays one, "minute" is two
    if low.endswith("ed") and not low.endswith(("ted", "ded")) and count > 1:
        count -= 1  # "walked"
    return max(1, count)


@dataclass(frozen=True)
class SpeakingRate:
    """An engine's speed: syllables a second, pauses, and the silence around its voice."""

    syllables_per_second: float
    comma_s: float = 0.40
    sentence_s: float = 0.31
    silence_s: float = 0.37
    #: Which engine the figures are for, for people ("espeak at 160 wpm").
    engine: str = "espeak at 160 wpm"

    def seconds(self, text: str) -> float:
        """How long ``text`` takes to say, erring long (0.0 for no text)."""
        if not text.strip():
            return 0.0
        commas = len(re.findall(r"[,;:\u2014\u2013]", text))
        sentences = len(re.findall(r"[.!?](?=\s+\S)", text))
        fitted = (
            syllables(text) / self.syllables_per_second
            + commas * self.comma_s
            + sentences * self.sentence_s
            + self.silence_s
        )
        return fitted * (1 + MARGIN_SHARE) + MARGIN_S


#: The default voice: eSpeak NG at its 160 words per minute.
DEFAULT_RATE = SpeakingRate(ESPEAK_SYLLABLES_PER_WPM * 160)


def speaking_rate(speech: SpeechConfig | None = None) -> SpeakingRate:
    """The rate of the engine a farm file's ``speech`` section names (none named: the best
    local voice installed, Piper, else eSpeak NG: what ``tts.build.default_local`` picks)."""
    if speech is None:
        from videofactory.config import SpeechConfig

        speech = SpeechConfig()
    options = speech.options or {}
    backend = speech.backend or ("piper" if _piper_installed() else "espeak")
    if backend == "espeak":
        wpm = _number(options.get("words_per_minute"), 160.0)
        return SpeakingRate(ESPEAK_SYLLABLES_PER_WPM * wpm, engine=f"espeak at {wpm:g} wpm")
    if backend == "piper":
        scale = _number(options.get("length_scale"), 1.0)
        return SpeakingRate(
            PIPER_SYLLABLES_PER_SECOND / scale,
            comma_s=0.36,
            sentence_s=0.22,
            silence_s=0.41,
            engine=f"piper at length_scale {scale:g}",
        )
    speed = float(getattr(speech, "speed", 1.0) or 1.0) if speech.backend == "openai" else 1.0
    return SpeakingRate(
        SERVER_SYLLABLES_PER_SECOND * speed,
        comma_s=0.40 / speed,
        sentence_s=0.40 / speed,
        silence_s=0.40,
        engine=f"{speech.backend} (about {WORDS_PER_SECOND * speed:g} words a second)",
    )


def _piper_installed() -> bool:
    """Whether Piper and its bundled voice are installed (found, not imported: planning stays
    fast, and a broken install is the speech engine's to report)."""
    from importlib.util import find_spec

    return find_spec("piper") is not None


def _number(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) and number > 0 else default
