"""Fifty varied concepts, ten of each kind of film (tests/fixtures/concepts.txt): each read as
its kind, every prompt naming its subject and setting, no line twice in a film, and few lines
shared between films of different concepts. The figures are printed (``pytest -s``) and
bench/plans.py reports them with more."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from videofactory.planning import plan_rules
from videofactory.planning.concept import FILM_KINDS, parse_concept

#: The pure core (and the store): `python -m pytest -m core` runs only these, in seconds.
pytestmark = pytest.mark.core

CONCEPTS = Path(__file__).parents[1] / "fixtures" / "concepts.txt"
#: Film lengths the concepts are planned at, in turn.
DURATIONS = (15.0, 30.0, 45.0, 60.0, 90.0)
#: Most lines of a film that another film (of another concept) also says.
MAX_SHARED = 0.08


def concepts() -> list[tuple[str, str]]:
    rows = []
    for line in CONCEPTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, concept = line.split("\t")
            rows.append((kind, concept))
    return rows


@pytest.fixture(scope="module")
def films():
    return [
        (kind, plan_rules(concept, DURATIONS[i % len(DURATIONS)]))
        for i, (kind, concept) in enumerate(concepts())
    ]


def test_fifty_concepts_of_five_kinds_are_each_read_as_their_kind():
    rows = concepts()
    assert len(rows) == 50 and Counter(k for k, _ in rows) == {k: 10 for k in FILM_KINDS}
    wrong = [(kind, c, parse_concept(c).film) for kind, c in rows if parse_concept(c).film != kind]
    assert wrong == []


def test_every_prompt_names_the_subject_and_the_setting(films):
    for _kind, sl in films:
        subject = parse_concept(sl.concept)
        for shot in sl.shots:
            prompt = shot.prompt.lower()
            assert subject.subject.lower() in prompt, (sl.concept, shot.prompt)
            assert sl.setting.lower() in prompt, (sl.concept, shot.prompt)


def test_no_line_twice_in_a_film_and_few_shared_between_films(films):
    owners: dict[str, set[int]] = defaultdict(set)
    for i, (_kind, sl) in enumerate(films):
        said = [s.narration for s in sl.shots if s.narration]
        assert len(said) == len(set(said)), sl.concept
        for line in said:
            owners[line].add(i)
    lines = shared = 0
    by_kind: Counter[str] = Counter()
    for kind, sl in films:
        for shot in sl.shots:
            if shot.narration:
                lines += 1
                if len(owners[shot.narration]) > 1:
                    shared += 1
                    by_kind[kind] += 1
    common = sorted((len(o), line) for line, o in owners.items() if len(o) > 1)[::-1][:5]
    print(
        f"\n{lines} narration lines in 50 films; {shared} ({shared / lines:.1%}) also said in "
        f"another film; by kind {dict(by_kind)}; most shared {common}"
    )
    assert shared / lines <= MAX_SHARED
    assert all(len(sl.shots) == sum(1 for s in sl.shots if s.narration) for _, sl in films)
