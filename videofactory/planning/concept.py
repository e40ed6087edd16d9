"""Read a concept like a director would: what film it is, about whom, doing what, where, when.

The concept is tagged and parsed by spaCy (``nlp.py``); the film is read off the parse:

* the **subject** is a noun with its modifiers ("red running shoe", "lighthouse keeper", "two
  knights", "pour-over coffee"), found through the words that only frame it: "a day in the
  life of *a lighthouse keeper*", "product teaser for *a red running shoe*", "a travel film
  about *Lisbon*";
* the **action** is its verb with the verb's objects ("executes an instruction", "chasing
  butterflies"); the **setting** a place the subject or the action is in, on, through...
  ("mystical forest", "streets of Kyoto"); the **time** a time of day or a weather ("at dawn",
  "in the rain");
* the **film kind** comes from the parse and a few cue words: a question ("how a CPU executes
  an instruction", "how to brew coffee") or "explainer" is an explainer; "teaser", "ad",
  "commercial" a product teaser; "tour", "travel", a city or a country as subject a travel
  film; "montage", "moments", or a thing or weather on its own ("sunrise") a montage; anything
  else a story of its subject. "A day (a night, a year) in the life of" gives a story that
  runs through that span of time (``arc``).

What is not understood is kept as written, never dropped: the concept itself is in the shot list.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Literal

from videofactory.planning.inflect import ing, third_person
from videofactory.planning.lexicon import (
    ANIMALS,
    CREATURES,
    MACHINES,
    PEOPLE,
    PERSON_SUFFIXES,
    THEMES,
)

if typing.TYPE_CHECKING:
    from spacy.tokens import Doc, Token

__all__ = ["FILM_KINDS", "Concept", "FilmKind", "parse_concept", "split_concept"]

#: The kinds of film the rules planner makes, each with its own beats and narration.
FilmKind = Literal["story", "explainer", "teaser", "travel", "montage"]
FILM_KINDS: tuple[FilmKind, ...] = ("story", "explainer", "teaser", "travel", "montage")

# -- cue words: which kind of film a framing word asks for -----------------------------------

_EXPLAINER_CUES = frozenset(
    "explainer explanation tutorial lesson introduction intro primer basics guide howto "
    "how-to science breakdown walkthrough".split()
)
_TEASER_CUES = frozenset(
    "teaser ad advert advertisement commercial promo promotion launch product brand spot "
    "unboxing showcase campaign reveal".split()
)
_TRAVEL_CUES = frozenset(
    "travel tour trip walk visit travelogue vacation holiday getaway postcard stroll "
    "journey weekend".split()
)
_MONTAGE_CUES = frozenset(
    "montage collage compilation moment scene glimpse sight snapshot impression vignette mood "
    "face season".split()
)
#: Words that frame the subject rather than being it: the parse is followed through them.
_FRAMES = (
    _EXPLAINER_CUES
    | _TEASER_CUES
    | _TRAVEL_CUES
    | _MONTAGE_CUES
    | frozenset(
        "day night week year life story tale portrait film video movie documentary short clip "
        "history making look celebration ode tribute hour trailer".split()
    )
)
#: Prepositions that lead from a framing word to what it frames ("teaser for", "life of").
_FRAME_PREPOSITIONS = frozenset(
    "of for about on through to around across in into along from".split()
)
#: Spans of time "in the life of" can cover: the story runs through them.
_ARCS = {"day": "day", "hour": "day", "night": "night", "year": "year", "season": "year"}
#: Verbs of a traveller: "a backpacker exploring Lisbon" is a travel film.
_TRAVEL_VERBS = frozenset("explore visit tour wander roam travel discover hike cycle".split())
#: Nouns of places a film can travel through ("a fishing village at dawn").
_PLACE_NOUNS = frozenset(
    """city town village hamlet island islands coast coastline harbour harbor port market garden
    bazaar street streets alley alleys neighbourhood neighborhood district quarter capital
    metropolis countryside valley canyon desert jungle rainforest mountains lake river park
    beach shore bay fjord glacier archipelago oasis savanna""".split()
)
#: Parts of a place: "the streets of Kyoto" is about Kyoto.
_PLACE_PARTS = frozenset(
    "streets street alleys roads canals rooftops markets heart edge outskirts shores "
    "waters skies skyline ruins coast banks".split()
)
_GROUPS = frozenset(
    "pack group band flock herd crowd pair family team crew swarm school army couple".split()
)
_LOCATIVE = frozenset(
    """in inside at on through across under beneath among amid within over along near
    beyond above below between around by atop throughout""".split()
)
#: Times of day and weathers: "at dawn", "in the rain" set the light, not the place.
_TIME_NOUNS = frozenset(
    """dawn dusk night nightfall midnight sunrise sunset noon twilight daybreak morning evening
    afternoon rain snow fog mist storm thunderstorm blizzard dark darkness moonlight starlight
    winter summer autumn spring hour""".split()
)
#: Places that take no article ("at home").
_BARE_PLACES = frozenset("home school work church college camp sea".split())
_QUANTIFIERS = frozenset(
    "two three four five six seven eight nine ten twelve several many some few countless "
    "dozens hundreds thousands both".split()
)
_WH = frozenset({"how", "why", "what", "where", "when"})
#: Objects, complements and particles that belong to the action ("executes an instruction").
_ACTION_PARTS = frozenset(
    "dobj obj prt acomp attr dative oprd xcomp ccomp agent advmod npadvmod neg".split()
)
_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Concept:
    """A concept read as a film: its kind, subject, action, setting and time (as written)."""

    text: str
    #: The subject without its article: "lighthouse keeper", "two knights", "my cat", "CPU".
    subject: str
    #: Its last noun: "keeper", "knights", "cat".
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
    #: The kind of film: story | explainer | teaser | travel | montage.
    film: FilmKind = "story"
    #: The span of time a story runs through: "day" (dawn to night), "night", "year", or "".
    arc: str = ""
    #: The action's verb (its lemma: "execute"), and what follows it ("an instruction").
    verb: str = ""
    rest: str = ""
    #: The question word of an explainer ("how", "why"); "how to" concepts have no subject
    #: doing the action (``doer`` False: "How do you brew coffee?").
    wh: str = ""
    doer: bool = True
    #: The subject is the place itself (a travel film about "Tokyo").
    place: bool = False
    #: The subject takes no article: "how bees make honey" is about bees, not "the bees".
    bare: bool = False

    @property
    def animate(self) -> bool:
        """True for a character that can walk, look and act; False for a thing or a place."""
        return self.kind != "thing"

    def the_subject(self) -> str:
        """The subject as narration names it: "the warrior", "my cat", "Sherlock Holmes"."""
        if self.proper or self.bare or _possessive(self.subject):
            return self.subject
        return f"the {self.subject}"

    def statement(self) -> str:
        """What the concept says happens, as a clause: "the CPU executes an instruction"."""
        if not self.verb:
            return self.the_subject()
        if self.verb == "be":
            form = "are" if self.plural else "is"
        else:
            form = self.verb if self.plural else third_person(self.verb)
        who = self.the_subject() if self.doer else "you"
        if not self.doer:
            form = self.verb
        return " ".join(w for w in (who, form, self.rest) if w)

    def question(self) -> str:
        """The explainer's question: "How does the CPU execute an instruction?"."""
        wh = (self.wh or "how").capitalize()
        if not self.verb:
            return f"{wh} does {self.the_subject()} work?"
        if self.verb == "be":
            be = "are" if self.plural else "is"
            return f"{wh} {be} {self.the_subject()} {self.rest}".strip() + "?"
        if not self.doer:
            return f"{wh} do you {self.verb} {self.rest}".strip() + "?"
        do = "do" if self.plural else "does"
        return f"{wh} {do} {self.the_subject()} {self.verb} {self.rest}".strip() + "?"


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
    return " ".join(first.split()[:24]).strip(" .!?")


# -- reading the parse ---------------------------------------------------------------------------


def _lemma(tok: Token) -> str:
    return str(tok.lemma_ or tok.text).lower()


def _span_text(doc: Doc, start: int, end: int) -> str:
    """Words ``start``..``end`` (inclusive) as written, without a leading article."""
    words = doc[start : end + 1]
    while len(words) and words[0].lower_ in ("a", "an", "the") and len(words) > 1:
        words = words[1:]
    return words.text.strip(" ,")


def _noun_phrase(tok: Token, *, with_conj: bool = True) -> tuple[int, int]:
    """Where the noun phrase headed by ``tok`` starts and ends: its modifiers on the left
    ("red running shoe"), "of" after a group ("a pack of wolves") or a place part ("streets
    of Kyoto"), and what it is coordinated with ("a boy and his dog")."""
    left = [c for c in tok.lefts if c.dep_ not in ("det", "predet", "punct", "cc", "case")]
    start = min([tok.i] + [c.left_edge.i for c in left])
    end = tok.i
    for child in tok.rights:
        if child.dep_ == "prep" and child.lower_ == "of" and _lemma(tok) in _GROUPS | _PLACE_PARTS:
            obj = _object(child)
            if obj is not None:
                end = max(end, _noun_phrase(obj, with_conj=False)[1])
        if with_conj and child.dep_ == "conj" and child.pos_ in ("NOUN", "PROPN"):
            end = max(end, _noun_phrase(child, with_conj=False)[1])
        if child.dep_ == "compound" or (child.dep_ == "punct" and child.text == "-"):
            end = max(end, child.right_edge.i)
    return start, end


def _of(tok: Token) -> Token | None:
    """The noun after "of": "a pack of *wolves*", "the streets of *Kyoto*"."""
    for child in tok.rights:
        if child.dep_ == "prep" and child.lower_ == "of":
            return _object(child)
    return None


def _object(tok: Token) -> Token | None:
    """What a preposition leads to: its object, or the clause it opens ("on how ... work")."""
    for child in tok.children:
        if child.dep_ in ("pobj", "pcomp"):
            return child
    return None


@dataclass
class _Reading:
    """What has been read off the parse so far."""

    cues: set[str]
    setting: str = ""
    place_tok: Token | None = None
    time: str = ""
    wh: str = ""
    doer: bool = True
    verb: Token | None = None
    rest: str = ""
    arc: str = ""


def _prepositions(tok: Token, reading: _Reading, skip: Token | None = None) -> None:
    """Settings and times among the prepositional phrases on ``tok`` (and on a setting: "a
    bridge *at dawn*")."""
    for child in tok.children:
        if child.dep_ != "prep" or (skip is not None and child.i == skip.i):
            continue
        if not _is_setting(child):
            continue
        obj = _object(child)
        assert obj is not None
        if _lemma(obj) in _TIME_NOUNS or obj.ent_type_ in ("TIME", "DATE"):
            if not reading.time:
                start, end = _noun_phrase(obj, with_conj=False)
                reading.time = f"{child.lower_} {tok.doc[child.i + 1 : end + 1].text.lower()}"
        elif not reading.setting:
            start, end = _place_phrase(obj)
            reading.setting = _span_text(tok.doc, start, end)
            reading.place_tok = obj
            if obj.lower_ in _BARE_PLACES and start == obj.i:
                reading.setting = obj.text
            _prepositions(obj, reading)


def _place_phrase(tok: Token) -> tuple[int, int]:
    """A place with what follows it by "of" ("the edge of the world", "ruins of Angkor")."""
    start, end = _noun_phrase(tok, with_conj=False)
    of = _of(tok)
    if of is not None:
        end = max(end, _place_phrase(of)[1])
    return start, end


def _follow_frames(doc: Doc, reading: _Reading) -> Token:
    """From the root through the words that only frame the subject, to the subject (or the
    clause saying what happens)."""
    tok = next((t for t in doc if t.dep_ == "ROOT"), doc[0])
    # "launch ad for a smartwatch": a cue verb whose object frames the subject.
    extra: list[Token] = []
    if tok.pos_ == "VERB" and _lemma(tok) in _FRAMES:
        obj = next((c for c in tok.children if c.dep_ in ("dobj", "obj")), None)
        if obj is not None:
            reading.cues.add(_lemma(tok))
            extra = [c for c in tok.children if c.dep_ == "prep"]  # "launch ad | for a watch"
            tok = obj
    seen = 0
    while _lemma(tok) in _FRAMES and seen < 6:
        seen += 1
        reading.cues.add(_lemma(tok))
        reading.cues.update(_lemma(c) for c in tok.lefts if c.dep_ in ("compound", "amod"))
        nxt = None
        for child in [*tok.children, *extra]:
            obj = _object(child) if child.dep_ == "prep" else None
            if obj is not None and child.lower_ in _FRAME_PREPOSITIONS:
                if _lemma(tok) in _ARCS and _lemma(obj) == "life":
                    reading.arc = _ARCS[_lemma(tok)]
                if _lemma(tok) == "season":
                    reading.arc = "year"
                if _lemma(obj) in _TIME_NOUNS and child.lower_ in ("at", "in"):
                    continue  # "a walk at dawn": a time, not the subject
                nxt = (child, obj)
                break
        extra = []
        if nxt is None:
            break
        # Settings and times said of the frame ("a montage of autumn in Vermont").
        _prepositions(tok, reading, skip=nxt[0])
        tok = nxt[1]
    return tok


def _action_words(verb: Token, reading: _Reading) -> str:
    """What follows the action's verb: its objects, particles and complements ("executes
    *an instruction*", "learning *to paint*"), without the places and times said of it
    (those go to the setting and the time)."""
    keep: set[int] = set()
    verbs = [verb]
    for child in verb.rights:
        if (child.dep_ in _ACTION_PARTS and child.lower_ not in _WH) or (
            child.dep_ == "prep" and child.lower_ not in _LOCATIVE
        ):
            keep.update(t.i for t in child.subtree)
            verbs += [t for t in child.subtree if t.pos_ in ("VERB", "AUX") and t is not child]
            if child.pos_ in ("VERB", "AUX"):
                verbs.append(child)
    for v in verbs:  # "learning to paint in a factory": the factory is the setting
        for prep in v.children:
            if prep.dep_ == "prep" and _is_setting(prep):
                keep.difference_update(t.i for t in prep.subtree)
        if v is not verb:
            _prepositions(v, reading)
    words = [t for t in verb.doc if t.i in keep]
    return "".join(t.text_with_ws for t in words).strip(" ,")


def _is_setting(prep: Token) -> bool:
    """A prepositional phrase that says where or when ("in a factory", "at dawn")."""
    obj = _object(prep)
    if prep.lower_ not in _LOCATIVE or obj is None or obj.pos_ not in ("NOUN", "PROPN"):
        return False
    # "by gondola", "on foot": how, not where
    return not (prep.lower_ in ("by", "on") and not any(c.dep_ == "det" for c in obj.children))


def _clause(verb: Token, reading: _Reading) -> Token | None:
    """A clause ("a CPU executes an instruction", "to brew coffee"): its subject, and the
    action's verb and words."""
    reading.verb = verb
    subject = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    for child in verb.children:
        if child.tag_ in ("WRB", "WP") and child.lower_ in _WH:
            reading.wh = child.lower_
    if subject is None:
        reading.doer = not any(c.dep_ == "aux" and c.lower_ == "to" for c in verb.children)
    reading.rest = _action_words(verb, reading)
    _prepositions(verb, reading)
    if subject is None:  # "how to brew coffee": the object is what the film is about
        obj = next((c for c in verb.children if c.dep_ in ("dobj", "obj")), None)
        return obj
    return subject


def _action_of(noun: Token, reading: _Reading) -> None:
    """The action a noun does: "a cat *chasing butterflies*", "robots *dancing*"."""
    for child in noun.children:
        if child.dep_ in ("acl", "relcl") and child.pos_ in ("VERB", "AUX"):
            reading.verb = child
            reading.rest = _action_words(child, reading)
            _prepositions(child, reading)
            return


def _kind(head: Token | None, text: str, proper: bool, has_setting: bool) -> str:
    noun = (_lemma(head) if head is not None else text.split()[-1]).lower()
    for kind, words in (
        ("person", PEOPLE),
        ("animal", ANIMALS),
        ("creature", CREATURES),
        ("machine", MACHINES),
    ):
        if noun in words:
            return kind
    if head is not None and head.ent_type_ == "PERSON":
        return "person"
    if head is not None and head.ent_type_ in ("GPE", "LOC", "FAC", "ORG", "PRODUCT"):
        return "thing"
    if noun.endswith(PERSON_SUFFIXES) and noun not in _PLACE_NOUNS:
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


def _is_place(tok: Token | None, *, named: bool = False) -> bool:
    """A place: a city, a country, a region, a place noun; ``named``: any name counts
    ("exploring Marrakech", which the recogniser may take for an organisation)."""
    if tok is None:
        return False
    if named and tok.tag_ in ("NNP", "NNPS") and tok.ent_type_ not in ("PERSON", "NORP"):
        return True
    return tok.ent_type_ in ("GPE", "LOC", "FAC") or _lemma(tok) in _PLACE_NOUNS


def _film(
    reading: _Reading, kind: str, proper_place: bool, doc: Doc, head: Token | None
) -> FilmKind:
    cues = reading.cues
    first = doc[0].lower_ if len(doc) else ""
    if reading.wh in ("how", "why") or first in ("how", "why") or cues & _EXPLAINER_CUES:
        # "a guide to Lisbon" is a travel film; "a guide to baking bread" an explainer
        if not (cues & {"guide"} and proper_place and not reading.wh):
            return "explainer"
    if cues & _TEASER_CUES:
        return "teaser"
    if cues & _MONTAGE_CUES:
        return "montage"
    travel_cue = cues & (_TRAVEL_CUES - {"journey"}) or ("journey" in cues and proper_place)
    traveller = (
        kind != "thing"
        and reading.verb is not None
        and _lemma(reading.verb) in _TRAVEL_VERBS
        and _is_place(reading.place_tok, named=True)
    )
    if travel_cue or traveller or (proper_place and kind == "thing"):
        return "travel"
    if reading.arc or kind != "thing":
        return "story"
    if head is not None and _lemma(head) in _TIME_NOUNS and reading.verb is None:
        return "montage"  # "rain on a city window": weather and light, in images
    if reading.verb is not None or reading.setting:
        return "story"
    return "montage"


def _lowercased(core: str, doc: Doc) -> bool:
    """True when the first word is capitalised only because it comes first ("Warrior in
    mystical forest"): no name the entity recogniser knows, the next word in lower case."""
    first = doc[0]
    words = core.split()
    return (
        first.is_title
        and not first.ent_type_
        and len(words) > 1
        and not words[1][:1].isupper()
        and first.lower_ not in _WH
    )


def _animate_word(tok: Token) -> bool:
    word = tok.lower_
    return (
        word in PEOPLE | ANIMALS | CREATURES | MACHINES
        or _lemma(tok) in PEOPLE | ANIMALS | CREATURES | MACHINES
        or (word.endswith(PERSON_SUFFIXES) and len(word) > 4)
    )


def _misread_action(doc: Doc, parse: typing.Callable[[str], Doc]) -> Doc | None:
    """The parse again, when it took "a fox *hunting*" or "a fisherman *mending* nets" for a
    compound noun ("fox hunting") or an adjective: said as "a fox who is hunting", the
    action comes out as the fox's."""
    for tok in doc[1:]:
        before = doc[tok.i - 1]
        ing_word = tok.tag_ == "VBG" or (tok.pos_ == "NOUN" and tok.lower_.endswith("ing"))
        if not ing_word or tok.dep_ in ("acl", "relcl") or not _animate_word(before):
            continue
        words = [t.text_with_ws for t in doc]
        words.insert(tok.i, "who is ")
        again = parse("".join(words))
        acting = again[tok.i + 2]
        if acting.dep_ == "relcl" and acting.head.i == before.i:
            return again
        return None
    return None


def _headline(doc: Doc) -> bool:
    """True for a concept written like a headline that the parser took for an order: a bare
    verb first, with no subject and no object ("knight on a bridge")."""
    first = doc[0]
    return (
        first.tag_ == "VB"
        and first.dep_ == "ROOT"
        and not any(c.dep_ in ("nsubj", "dobj", "obj", "aux", "advmod") for c in first.children)
    )


def parse_concept(concept: str) -> Concept:
    """Read a (cleaned) concept as a film: kind, subject, action, setting and time.

    Raises:
        ConfigError: the parser (spaCy and its model) is not installed.
    """
    from videofactory.planning.nlp import parse

    text = " ".join(concept.split()).strip()
    core = _first_sentence(text) or text
    doc = parse(core)
    if _lowercased(core, doc):
        core = core[0].lower() + core[1:]
        doc = parse(core)
    if _headline(doc):
        # "knight on a bridge" reads as an order ("knight" a verb); "a knight on a bridge"
        # does not. The article is dropped again from every phrase read off the parse.
        with_article = parse(f"a {core}")
        if with_article[1].pos_ in ("NOUN", "PROPN"):
            doc = with_article
    doc = _misread_action(doc, parse) or doc
    reading = _Reading(cues=set())
    tok = _follow_frames(doc, reading)
    head: Token | None = tok
    if tok.pos_ in ("VERB", "AUX"):
        head = _clause(tok, reading)
    elif tok.pos_ not in ("NOUN", "PROPN", "PRON", "NUM"):
        head = None
    # "a pack of wolves": the wolves are who acts and what they are
    member = _of(head) if head is not None and _lemma(head) in _GROUPS else None
    if head is not None and head.pos_ in ("NOUN", "PROPN", "NUM"):
        if reading.verb is None:
            _action_of(member or head, reading)
        _prepositions(head, reading)
        if member is not None:
            _prepositions(member, reading)
    _place_object(reading)
    subject, plural, proper, setting_from_conj = _subject(head, doc, core)
    setting = reading.setting or setting_from_conj
    kind = _kind(member or head, subject, proper, bool(setting))
    proper_place = head is not None and _is_place(head) and kind == "thing"
    if head is not None and _lemma(head) in _PLACE_PARTS:
        # "a walk through the streets of Kyoto": the film is about Kyoto, along its streets
        named = [t for t in head.subtree if t.ent_type_ in ("GPE", "LOC", "FAC")]
        if named:
            place_start, place_end = _noun_phrase(named[-1], with_conj=False)
            setting = setting or subject
            subject, proper, plural = _span_text(doc, place_start, place_end), True, False
            proper_place = True
    film = _film(reading, kind, proper_place, doc, head)
    verb = _lemma(reading.verb) if reading.verb is not None else ""
    activity = f"{ing(verb)} {reading.rest}".strip() if verb and verb != "be" else ""
    if reading.verb is not None and reading.verb.tag_ == "VBN" and reading.verb.dep_ == "acl":
        activity = f"{reading.verb.lower_} {reading.rest}".strip()  # "lost", "stranded"
    determiner = head is not None and any(
        c.dep_ in ("det", "poss") or c.lower_ in _QUANTIFIERS for c in head.lefts
    )
    return Concept(
        text=text,
        subject=subject,
        head=(head.text if head is not None else subject.split()[-1]),
        activity=activity,
        setting=setting,
        time=reading.time,
        plural=plural,
        proper=proper,
        kind=kind,
        theme=_theme(setting, subject, activity, reading.time),
        film=film,
        arc=reading.arc if film in ("story", "montage") else "",
        verb=verb,
        rest=reading.rest,
        wh=reading.wh or ("how" if film == "explainer" else ""),
        doer=reading.doer,
        place=kind == "thing"
        and (proper_place or (film == "travel" and proper))
        and (film == "travel" or not setting),
        bare=(film == "explainer" and plural and not determiner and not proper)
        or (head is not None and head.pos_ == "PRON"),  # "how does it work"
    )


def _place_object(reading: _Reading) -> None:
    """A traveller's verb with a place as its object ("exploring Lisbon"): the place is the
    setting too."""
    verb = reading.verb
    if verb is None or reading.setting or _lemma(verb) not in _TRAVEL_VERBS:
        return
    obj = next((c for c in verb.children if c.dep_ in ("dobj", "obj")), None)
    if obj is not None and _is_place(obj, named=True):
        start, end = _place_phrase(obj)
        reading.setting, reading.place_tok = _span_text(obj.doc, start, end), obj


def _subject(head: Token | None, doc: Doc, core: str) -> tuple[str, bool, bool, str]:
    """The subject's words, whether it is plural, whether it is a name, and a setting it was
    coordinated with ("the old fisherman and the sea")."""
    nominal = head is not None and (
        head.pos_ in ("NOUN", "PROPN", "NUM", "PRON") or head.dep_ in ("nsubj", "nsubjpass")
    )  # "why leaves change colour": "leaves" tagged a verb, but the clause's subject
    if head is None or not nominal:
        words = _ARTICLE.sub("", core).split()
        return " ".join(words) or core, False, False, ""
    start, end = _noun_phrase(head)
    conj = next((c for c in head.children if c.dep_ == "conj"), None)
    setting = ""
    if conj is not None and end >= conj.i:
        cstart, cend = _noun_phrase(conj, with_conj=False)
        second = _span_text(doc, cstart, cend)
        if _theme(second) != "generic" and not conj.ent_type_:
            setting, end = second, _noun_phrase(head, with_conj=False)[1]
    subject = _span_text(doc, start, end)
    words = subject.split()
    proper = head.tag_ in ("NNP", "NNPS") and all(w[:1].isupper() for w in words if w[:1].isalpha())
    if head.pos_ not in ("NOUN", "PROPN", "NUM", "PRON"):  # a subject tagged as a verb
        return subject, subject.lower().endswith("s"), False, setting
    first = words[0].lower() if words else ""
    plural = (
        head.tag_ in ("NNS", "NNPS")
        or first in _QUANTIFIERS
        or first.isdigit()
        or _lemma(head) in _GROUPS
        or (conj is not None and not setting and end >= conj.i)
    )
    if proper and plural and first not in _QUANTIFIERS:
        plural = False  # "the Alps" is a name; narration says "the Alps", not "they"
    return subject, plural, proper, setting
