"""Soundtrack benchmark: digital silence and loudness of generated films, against the old sound.

Three films are generated on the simulator, the way a user makes them (``videofactory generate
CONCEPT --json``, the built-in simulated farm, the default offline voice), each of another kind
of film:

- "a day in the life of a lighthouse keeper" (a story),
- "how a CPU executes an instruction" (an explainer),
- "product teaser for a red running shoe" (a teaser).

Each is measured three ways, the last two re-assembled from the same run's clips and narration
(``assembly.runfiles``), so only the sound differs:

- **default**: the video ``generate`` wrote: the generated bed in the film's mood, ducked under
  the narration, room tone under everything, loudness to -14 LUFS;
- **none**: ``--music none``: room tone only;
- **baseline**: no music and no room tone, the soundtrack before issue 16 (narration alone).

Figures, by ffmpeg's own meters over the finished file's audio (``assembly.soundcheck``): the
share of the film in digital silence (stretches of at least 0.1 s under -90 dBFS,
``silencedetect``), the longest such stretch, the integrated loudness and true peak
(``ebur128``); and for each bed, the seam: ``bed.seam_jump`` at the join of its loop played
twice (about 1 for a seamless join; a click measures tens).

Targets (issue 16): no digital silence longer than 0.5 s in the default output (nor with
``--music none``), integrated loudness within 1 LU of -14 LUFS, beds that loop without a click.

Run: ``python bench/film_sound.py [--quick]``: 8 s films at 320x180 with ``--quick`` (about a
minute on two cores), 30 s films at 640x360 without (about three). It prints a table; the last
line is a JSON object of the figures. ``measure(quick)`` returns the same figures as a dict
(``bench/plans.py`` reports them with its own).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from videofactory.assembly.bed import seam_jump  # noqa: E402
from videofactory.assembly.render import assemble  # noqa: E402
from videofactory.assembly.runfiles import run_pieces, run_timeline  # noqa: E402
from videofactory.assembly.soundcheck import check_sound_of  # noqa: E402
from videofactory.assembly.timeline import ROOM_TONE_DBFS, Loudness, OutputSpec  # noqa: E402
from videofactory.store import Store  # noqa: E402

#: The three films: concept and the kind of film it is.
FILMS = (
    ("a day in the life of a lighthouse keeper", "story"),
    ("how a CPU executes an instruction", "explainer"),
    ("product teaser for a red running shoe", "teaser"),
)
TARGET_LUFS = -14.0
LUFS_TOLERANCE = 1.0
LONGEST_SILENCE_S = 0.5
SEAM_TARGET = 3.0
#: Length, clip length and size of the films, quick and full.
QUICK = {"duration": 8.0, "clip_seconds": 2.0, "size": (320, 180)}
FULL = {"duration": 30.0, "clip_seconds": 5.0, "size": (640, 360)}


def _generate(concept: str, workdir: Path, quick: bool) -> dict[str, Any]:
    """``videofactory generate`` on the simulator; its closing JSON summary."""
    shape = QUICK if quick else FULL
    width, height = shape["size"]
    argv = [
        sys.executable, "-m", "videofactory", "generate", concept,
        "--duration", str(shape["duration"]), "--clip-seconds", str(shape["clip_seconds"]),
        "--width", str(width), "--height", str(height),
        "--workdir", str(workdir), "--json",
    ]  # fmt: skip
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"generate {concept!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _figures(path: Path) -> dict[str, float]:
    check = check_sound_of(path)
    return {
        "silence_share": round(check.silence_share, 4),
        "longest_silence_s": round(check.longest_silence_s, 3),
        "lufs": round(check.loudness.input_i, 2),
        "true_peak_db": round(check.loudness.input_tp, 2),
        "duration_s": round(check.duration_s, 3),
    }


def _seam(bed: Path) -> float:
    """The seam jump of a bed file's loop played twice."""
    import numpy as np

    from videofactory.assembly.soundtrack import decode

    loop = decode(bed, 48000)
    return round(seam_jump(np.concatenate([loop, loop]), len(loop)), 3)


def _film(concept: str, kind: str, workdir: Path, quick: bool) -> dict[str, Any]:
    """One film, generated, and its sound measured three ways."""
    summary = _generate(concept, workdir, quick)
    run_dir = Path(summary["run_dir"])
    with Store.for_workdir(workdir) as store:
        pieces = run_pieces(store, summary["run_id"], workdir)
        events = [e for e in store.events(summary["run_id"]) if "assembling" in (e["message"])]
    plan = pieces.plan
    output = OutputSpec(int(plan["width"]), int(plan["height"]), int(plan["fps"]))
    result: dict[str, Any] = {
        "concept": concept,
        "kind": plan.get("kind", kind),
        "sound": events[-1]["message"].split("; ", 1)[-1] if events else "",
        "default": _figures(run_dir / "final.mp4"),
    }
    for name, room_tone in (("none", ROOM_TONE_DBFS), ("baseline", None)):
        timeline = run_timeline(pieces, output, music=None, loudness=Loudness())
        timeline = replace(timeline, room_tone_dbfs=room_tone)
        out = run_dir / f"bench-{name}.mp4"
        assemble(timeline, out)
        result[name] = _figures(out)
    beds = sorted((run_dir / "music").glob("bed-*.wav"))
    result["bed"] = beds[0].name if beds else None
    result["seam_jump"] = _seam(beds[0]) if beds else None
    return result


def measure(quick: bool) -> dict[str, Any]:
    """Generate the three films and measure their sound (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="vf-film-sound-") as tmp:
        films = [_film(concept, kind, Path(tmp) / "w", quick) for concept, kind in FILMS]

    def worst(variant: str, key: str) -> float:
        return max(film[variant][key] for film in films)

    def off(variant: str) -> float:
        return round(max(abs(film[variant]["lufs"] - TARGET_LUFS) for film in films), 2)

    seams = [film["seam_jump"] for film in films if film["seam_jump"] is not None]
    figures = {
        "films": films,
        "default_silence_share_max": worst("default", "silence_share"),
        "default_longest_silence_s_max": worst("default", "longest_silence_s"),
        "default_lufs_off_target_max": off("default"),
        "none_longest_silence_s_max": worst("none", "longest_silence_s"),
        "none_lufs_off_target_max": off("none"),
        "baseline_silence_share_mean": round(
            sum(film["baseline"]["silence_share"] for film in films) / len(films), 4
        ),
        "baseline_longest_silence_s_max": worst("baseline", "longest_silence_s"),
        "baseline_lufs_off_target_max": off("baseline"),
        "seam_jump_max": max(seams) if seams else None,
        "quick": quick,
    }
    figures["targets_met"] = bool(
        figures["default_longest_silence_s_max"] <= LONGEST_SILENCE_S
        and figures["none_longest_silence_s_max"] <= LONGEST_SILENCE_S
        and figures["default_lufs_off_target_max"] <= LUFS_TOLERANCE
        and figures["none_lufs_off_target_max"] <= LUFS_TOLERANCE
        and (figures["seam_jump_max"] or 0.0) < SEAM_TARGET
    )
    return figures


def _table(figures: dict[str, Any]) -> str:
    rows = [f"{'film':44s} {'variant':9s} {'silence':>8s} {'longest':>8s} {'LUFS':>7s} {'TP':>6s}"]
    for film in figures["films"]:
        for variant in ("default", "none", "baseline"):
            f = film[variant]
            name = f"{film['concept'][:30]} ({film['kind']})" if variant == "default" else ""
            rows.append(
                f"{name:44s} {variant:9s} {f['silence_share']:8.1%} "
                f"{f['longest_silence_s']:7.2f}s {f['lufs']:7.1f} {f['true_peak_db']:6.1f}"
            )
        rows.append(f"{'':44s} bed: {film['sound']}; seam jump {film['seam_jump']}")
    return "\n".join(rows)


def main() -> None:
    """Run the benchmark, print the table and, last, the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s films at 320x180")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = measure(args.quick)
    print(_table(figures))
    print(f"measured in {time.perf_counter() - started:.0f} s", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
