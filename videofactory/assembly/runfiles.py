"""A finished run's pieces, found from the run database, and where its next version goes.

``run_timeline`` reads a run's shots and artifacts (the clip or hero pass of every shot, its
narration) from the store and builds the ``Timeline`` that re-assembles it, with no GPU work.
Versions sit beside the first final: ``final.mp4``, then ``final.v2.mp4``, ``final.v3.mp4``...
A preview's animatic is ``preview.mp4`` (``PREVIEW_STEM``), so it is never taken for the film.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.assembly.timeline import (
    DEFAULT_TRANSITION_S,
    Loudness,
    Music,
    OutputSpec,
    Timeline,
    TimelineShot,
    Transition,
)
from videofactory.errors import MediaError, StoreError
from videofactory.store import Store
from videofactory.takes import choose_take
from videofactory.vocabulary import TaskId

__all__ = [
    "PREVIEW_STEM",
    "RunPieces",
    "next_version",
    "run_pieces",
    "run_timeline",
    "takes_used",
]

#: The name of a preview's video (``preview.mp4``, then ``preview.v2.mp4`` ...).
PREVIEW_STEM = "preview"

#: Artifact kinds that hold a shot's picture, best first.
PICTURE_KINDS = ("hero", "clip")


@dataclass(frozen=True)
class RunPieces:
    """What a run left behind: per shot its picture and narration (paths that exist)."""

    run_id: str
    run_dir: Path
    shots: list[dict[str, Any]]
    pictures: dict[str, Path] = field(default_factory=dict)
    speech: dict[str, Path] = field(default_factory=dict)
    #: The run's shot list (its fields: size, rate ...; and its shots).
    plan: dict[str, Any] = field(default_factory=dict)


def takes_used(store: Store, run_id: str, plan: dict[str, Any]) -> dict[str, int]:
    """Shot id -> the take the film uses, for each shot rendered with takes: the picked one,
    else the best scored (``takes.choose_take``, as the run's own assembly chose)."""
    picks = store.picks(run_id)
    scores = store.take_scores(run_id)
    uses = {}
    for shot in plan["shots"]:
        count = shot.get("takes") or plan.get("takes") or 1
        if count > 1 or shot["id"] in picks:
            pick = picks.get(shot["id"])
            found = {t: s.get("score") for t, s in scores.get(shot["id"], {}).items()}
            uses[shot["id"]] = choose_take(count, pick["take"] if pick else None, found)
    return uses


def _locate(path: str, run_dir: Path, run_id: str) -> Path:
    """An artifact's file: as recorded, else re-rooted under the run folder (a moved workdir)."""
    recorded = Path(path)
    if recorded.exists():
        return recorded
    if run_id in recorded.parts:
        rest = recorded.parts[recorded.parts.index(run_id) + 1 :]
        moved = run_dir.joinpath(*rest)
        if moved.exists():
            return moved
    return recorded


def run_pieces(store: Store, run: str, workdir: Path) -> RunPieces:
    """Find every shot's picture (hero pass, else clip: of the take the film uses, for a shot
    rendered with takes) and narration in the run database.

    Raises:
        StoreError: no such run, a preview (no clips), or a shot with no finished clip.
        MediaError: a recorded file is missing from the run folder.
    """
    info = store.run(run)
    run_id = info["id"]
    run_dir = Path(workdir) / run_id
    if not run_dir.is_dir():
        run_dir = Path(info["run_dir"])
    plan = store.planned(run_id)
    shots = plan["shots"]
    pictures: dict[str, tuple[int, Path]] = {}
    speech: dict[str, Path] = {}
    uses = takes_used(store, run_id, plan)
    heroes = {  # shot -> the take its finished hero pass upgraded
        t.shot_id: int(t.params.get("take", 1))
        for t in store.tasks(run_id)
        if t.kind == "hero" and t.state == "done" and t.shot_id
    }
    for art in store.artifacts(run_id):  # oldest first: a later render of a task wins
        tid = TaskId.of(art["task_id"])
        shot = tid.shot_id if tid else None
        if shot is None:
            continue
        if art["kind"] == "clip" and tid is not None and tid.take != uses.get(shot, 1):
            continue  # a take the film does not use
        if art["kind"] == "hero" and shot in uses and heroes.get(shot) != uses[shot]:
            continue  # a hero pass of another take (the one on this take is not done)
        path = _locate(art["path"], run_dir, run_id)
        if art["kind"] in PICTURE_KINDS:
            rank = PICTURE_KINDS.index(art["kind"])
            if shot not in pictures or rank <= pictures[shot][0]:
                pictures[shot] = (rank, path)
        elif art["kind"] == "speech":
            speech[shot] = path
    if info["settings"].get("preview"):
        raise StoreError(
            f"run {run_id} is a preview: it has keyframes only, and its video is an animatic "
            f"({PREVIEW_STEM}.mp4); render the film with `videofactory render {run_id}`, then "
            "assemble that run"
        )
    for shot in shots:
        if shot["id"] not in pictures:
            raise StoreError(
                f"run {run_id} has no finished clip for shot {shot['id']} (run state: "
                f"{info['state']}); render the run to the end first, then assemble it"
            )
    for shot_id, path in [*((s, p) for s, (_r, p) in pictures.items()), *speech.items()]:
        if not path.exists():
            raise MediaError(
                f"{path} (shot {shot_id} of run {run_id}) is missing from the run folder; "
                "restore it, or render the run again",
                path=str(path),
                task=f"{run_id}/{shot_id}",
            )
    return RunPieces(
        run_id=run_id,
        run_dir=run_dir,
        shots=shots,
        pictures={s: p for s, (_r, p) in pictures.items()},
        speech=speech,
        plan=plan,
    )


def run_timeline(
    pieces: RunPieces,
    output: OutputSpec,
    *,
    transition: Transition | None = None,
    transition_s: float = DEFAULT_TRANSITION_S,
    music: Music | None = None,
    loudness: Loudness | None = None,
    burn_subtitles: bool = False,
) -> Timeline:
    """The timeline of a run's pieces with new settings; the thumbnail is the first hero.

    ``transition`` is for the whole film; None keeps each shot's own (the shot list's
    ``transition``, as the planner chose it per beat), each of ``transition_s`` seconds.
    """
    shots = []
    t, thumbnail = 0.0, None
    for shot in pieces.shots:
        sid = shot["id"]
        duration = float(shot["duration"])
        shots.append(
            TimelineShot(
                sid,
                pieces.pictures[sid],
                duration,
                pieces.speech.get(sid),
                shot.get("narration", ""),
                transition=(
                    None
                    if transition is not None
                    else Transition(shot.get("transition") or "cut", transition_s)
                ),
            )
        )
        if shot.get("hero") and thumbnail is None:
            thumbnail = t + duration / 2
        t += duration
    return Timeline(
        tuple(shots),
        output,
        transition=transition or Transition(),
        music=music,
        loudness=loudness,
        burn_subtitles=burn_subtitles,
        thumbnail_s=thumbnail,
    )


def next_version(
    run_dir: Path, stem: str = "final", making: Iterable[int] = ()
) -> tuple[int, Path]:
    """The next free version beside ``final.mp4``: (2, final.v2.mp4), (3, final.v3.mp4)...;
    ``making``: versions to count as taken although no file has them yet (being made)."""
    taken = set(making) | ({1} if (run_dir / f"{stem}.mp4").exists() else set())
    for path in run_dir.glob(f"{stem}.v*.mp4"):
        match = re.fullmatch(rf"{re.escape(stem)}\.v(\d+)\.mp4", path.name)
        if match:
            taken.add(int(match.group(1)))
    version = max(taken, default=0) + 1
    name = f"{stem}.mp4" if version == 1 else f"{stem}.v{version}.mp4"
    return version, run_dir / name
