"""Plans benchmark: do the rules planner's plans read like films? (issue 16)

Fifty concepts, ten of each kind of film (``tests/fixtures/concepts.txt``: stories,
explainers, product teasers, travel films, montages), planned at 15, 30, 45, 60 and 90 s in
turn with the default voice's rate. Figures:

- **kinds**: concepts read as the kind they were written as;
- **subject in prompts**: share of prompts naming the concept's subject (as the parser reads
  it: "lighthouse keeper", "red running shoe", "CPU"), and the plan's setting;
- **repeats**: narration lines said twice in one film (share of lines), and lines a film
  shares with another film of another concept;
- **shot lengths**: min, 10th percentile, median, 90th percentile, max, how many distinct
  lengths, the share of shots that last exactly 5.0 s (what every shot lasted before), and a
  histogram; and the transitions used;
- **narration fits**: share of narrated shots whose line, measured at the engine's rate the
  planner used, fits the shot; and, spoken for real by eSpeak NG (the default voice), share
  whose speech ends within the shot (and the tightest margin);
- **planning time**: the first plan (it loads the parser) and the median of the rest;
- **the soundtrack** (silence share and loudness of three generated films): from
  ``bench/film_sound.py`` when it is there (its ``measure(quick)`` returns the figures); said
  to be skipped when it is not.

Run: ``python bench/plans.py [--quick]`` (about a minute on 2 cores without the soundtrack
part; ``--quick`` is passed to the soundtrack's measure). The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
import wave
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONCEPTS = ROOT / "tests" / "fixtures" / "concepts.txt"
DURATIONS = (15.0, 30.0, 45.0, 60.0, 90.0)
FILM_SOUND = Path(__file__).with_name("film_sound.py")
#: The three concepts of the issue, shown in full.
EXAMPLES = (
    ("a day in the life of a lighthouse keeper", 15.0),
    ("how a CPU executes an instruction", 60.0),
    ("product teaser for a red running shoe", 45.0),
)


def concepts() -> list[tuple[str, str]]:
    rows = []
    for line in CONCEPTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, concept = line.split("\t")
            rows.append((kind, concept))
    return rows


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spoken_lengths(lines: list[str]) -> dict[str, float]:
    """Each line spoken by eSpeak NG (the default voice), its length in seconds."""
    from videofactory.tts.local import EspeakSpeech

    engine = EspeakSpeech()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, line in enumerate(sorted(set(lines))):
            path = engine.synthesize(line, Path(tmp) / f"{i}.wav")
            with wave.open(str(path), "rb") as wav:
                out[line] = wav.getnframes() / wav.getframerate()
    return out


def film_sound(quick: bool) -> dict[str, object] | None:
    """The soundtrack figures of bench/film_sound.py (another part of issue 16), if present."""
    # -- hook: bench/film_sound.py, when it exists, exposes measure(quick: bool) -> dict -----
    if not FILM_SOUND.exists():
        return None
    spec = importlib.util.spec_from_file_location("film_sound", FILM_SOUND)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.measure(quick))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="passed to bench/film_sound.py's measure"
    )
    args = parser.parse_args()

    from videofactory.planning import plan_rules
    from videofactory.planning.concept import FILM_KINDS, parse_concept
    from videofactory.planning.speech import DEFAULT_RATE

    rows = concepts()
    films = []
    plan_s = []
    for i, (kind, concept) in enumerate(rows):
        start = time.perf_counter()
        sl = plan_rules(concept, DURATIONS[i % len(DURATIONS)])
        plan_s.append(time.perf_counter() - start)
        films.append((kind, parse_concept(concept), sl))

    kinds_right = sum(1 for kind, c, _ in films if c.film == kind)
    prompts = named = with_setting = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for kind, c, sl in films:
        for shot in sl.shots:
            prompt = shot.prompt.lower()
            prompts += 1
            hit = c.subject.lower() in prompt
            named += hit
            with_setting += sl.setting.lower() in prompt
            by_kind[kind][0] += hit
            by_kind[kind][1] += 1

    owners: dict[str, set[int]] = defaultdict(set)
    twice = lines = 0
    for i, (_, _, sl) in enumerate(films):
        said = [s.narration for s in sl.shots if s.narration]
        twice += len(said) - len(set(said))
        lines += len(said)
        for line in said:
            owners[line].add(i)
    shared = sum(
        1 for _, _, sl in films for s in sl.shots if s.narration and len(owners[s.narration]) > 1
    )

    shots = [s for _, _, sl in films for s in sl.shots]
    lengths = [s.duration for s in shots]
    buckets = Counter(min(7, max(2, int(d))) for d in lengths)
    transitions = Counter(s.transition for _, _, sl in films for s in sl.shots[1:])
    narrated = [s for s in shots if s.narration]
    fits_estimate = sum(1 for s in narrated if DEFAULT_RATE.seconds(s.narration) <= s.duration)
    start = time.perf_counter()
    spoken = spoken_lengths([s.narration for s in narrated])
    speech_s = time.perf_counter() - start
    margins = [s.duration - spoken[s.narration] for s in narrated]
    fits_spoken = sum(1 for m in margins if m >= 0)

    print(f"{len(rows)} concepts ({', '.join(FILM_KINDS)}: 10 each) at {DURATIONS} s in turn\n")
    print(f"{'figure':<48}{'value':>14}")
    table = [
        ("concepts read as their kind", f"{kinds_right}/{len(rows)}"),
        ("prompts naming the subject", f"{named / prompts:.1%}"),
        ("prompts naming the setting", f"{with_setting / prompts:.1%}"),
        ("narration lines said twice in a film", f"{twice / lines:.1%}"),
        ("lines also said in another film", f"{shared / lines:.1%}"),
        ("shots", str(len(shots))),
        (
            "shot length min / p10 / median",
            f"{min(lengths):.2f} / {percentile(lengths, 0.1):.2f}"
            f" / {statistics.median(lengths):.2f}",
        ),  # fmt: skip
        ("shot length p90 / max", f"{percentile(lengths, 0.9):.2f} / {max(lengths):.2f}"),
        ("distinct shot lengths", str(len(set(lengths)))),
        ("shots of exactly 5.0 s", f"{sum(1 for d in lengths if d == 5.0) / len(lengths):.1%}"),
        ("narrated shots", f"{len(narrated)}/{len(shots)}"),
        ("narration fits (estimated at the rate)", f"{fits_estimate / len(narrated):.1%}"),
        ("narration fits (spoken by eSpeak NG)", f"{fits_spoken / len(narrated):.1%}"),
        ("tightest spoken margin (s)", f"{min(margins):.2f}"),
        ("first plan (loads the parser) (s)", f"{plan_s[0]:.2f}"),
        ("median plan after it (s)", f"{statistics.median(plan_s[1:]):.3f}"),
    ]
    for label, value in table:
        print(f"{label:<48}{value:>14}")
    print("\nsubject in prompts by kind: " + ", ".join(
        f"{k} {v[0] / v[1]:.0%}" for k, v in by_kind.items()))  # fmt: skip
    print("shot lengths (s): " + ", ".join(
        f"{b}-{b + 1}: {buckets[b]}" for b in range(2, 8)))  # fmt: skip
    print("transitions: " + ", ".join(f"{k} {n}" for k, n in transitions.most_common()))
    print(f"({len(spoken)} distinct lines spoken by eSpeak NG in {speech_s:.1f} s)")

    for concept, duration in EXAMPLES:
        sl = plan_rules(concept, duration)
        print(f"\n{concept} ({duration:g} s): {sl.character} | {sl.setting}")
        for s in sl.shots:
            hero = " hero" if s.hero else ""
            print(f"  {s.id} {s.duration:5.2f} s {s.shot_type.value:<12} {s.transition:<9}{hero}")
            print(f"      say: {s.narration}")
            print(f"      see: {s.prompt[:110]}...")

    sound = film_sound(args.quick)
    if sound is None:
        print(f"\nsoundtrack: skipped ({FILM_SOUND.name} is not there: the soundtrack figures come"
              " from it)")  # fmt: skip
    else:
        print("\nsoundtrack (bench/film_sound.py):")
        for key, value in sound.items():
            print(f"  {key:<46}{value}")

    figures: dict[str, object] = {
        "concepts": len(rows),
        "kinds_right": kinds_right,
        "subject_in_prompts": round(named / prompts, 4),
        "setting_in_prompts": round(with_setting / prompts, 4),
        "subject_in_prompts_by_kind": {k: round(v[0] / v[1], 4) for k, v in by_kind.items()},
        "repeat_within_film": round(twice / lines, 4),
        "repeat_across_films": round(shared / lines, 4),
        "narration_lines": lines,
        "shots": len(shots),
        "shot_s_min": min(lengths),
        "shot_s_p10": percentile(lengths, 0.1),
        "shot_s_median": statistics.median(lengths),
        "shot_s_p90": percentile(lengths, 0.9),
        "shot_s_max": max(lengths),
        "shot_lengths_distinct": len(set(lengths)),
        "shots_exactly_5s": round(sum(1 for d in lengths if d == 5.0) / len(lengths), 4),
        "shot_s_histogram": {f"{b}-{b + 1}": buckets[b] for b in range(2, 8)},
        "transitions": dict(transitions),
        "narration_fits_estimated": round(fits_estimate / len(narrated), 4),
        "narration_fits_spoken": round(fits_spoken / len(narrated), 4),
        "narration_min_margin_s": round(min(margins), 3),
        "first_plan_s": round(plan_s[0], 3),
        "plan_s_median": round(statistics.median(plan_s[1:]), 4),
        "film_sound": sound if sound is not None else "skipped: bench/film_sound.py absent",
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
