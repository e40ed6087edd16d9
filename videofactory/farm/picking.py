"""Which take of a shot a run uses, as a run goes: scores recorded as takes finish, the take a
hero pass upgrades chosen when it becomes ready, the film's takes and their contact sheets at
assembly. The rule itself is pure (``takes.py``); this reads and records it in the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from videofactory.errors import MediaError
from videofactory.farm.context import RunContext
from videofactory.farm.dag import Task, task_id
from videofactory.farm.flow import previous_clip_dep
from videofactory.shotlist import ShotList
from videofactory.store import Store
from videofactory.takes import choose_take
from videofactory.vocabulary import TaskKind

__all__ = [
    "TAKES_FOLDER",
    "WHY",
    "chosen_take",
    "film_takes",
    "record_score",
    "settle_take",
    "take_ids",
    "takes_summary",
]

#: Why a shot uses its take, for people.
WHY = {"picked": "picked", "auto": "best score"}
#: The run's folder of contact sheets, one per shot with takes: ``takes/<shot>.jpg``.
TAKES_FOLDER = "takes"


def take_ids(run_id: str, shotlist: ShotList, shot_id: str) -> dict[int, str]:
    """Take -> the id of its clip task, for one shot."""
    shot = shotlist.shot(shot_id)
    return {
        take: task_id(run_id, TaskKind.clip, shot_id, take)
        for take in range(1, shotlist.takes_of(shot) + 1)
    }


def record_score(store: Store, run_id: str, shot_id: str, take: int, clip: Path) -> float | None:
    """Score a take's clip and record it; a clip that cannot be read is recorded unscored
    (the choice passes over it), never a failure of the run."""
    from videofactory.assembly.takes import score_clip

    try:
        found = score_clip(clip)
    except MediaError as exc:
        store.set_take_score(run_id, shot_id, take, None, {"error": str(exc)})
        return None
    store.set_take_score(run_id, shot_id, take, found.score, found.measures())
    return found.score


def chosen_take(
    store: Store, run_id: str, shotlist: ShotList, shot_id: str, outputs: Mapping[str, Path]
) -> tuple[int, str]:
    """The take a shot uses and why ("picked", or "auto": the best score). Takes finished
    but not scored yet (reused from the cache, or a run's picks carried over by ``redo``) are
    scored now."""
    ids = take_ids(run_id, shotlist, shot_id)
    scores = {t: s.get("score") for t, s in store.take_scores(run_id).get(shot_id, {}).items()}
    for take, tid in ids.items():  # also when one is picked: its sheet shows every score
        if take not in scores and tid in outputs:
            scores[take] = record_score(store, run_id, shot_id, take, outputs[tid])
    pick = store.picks(run_id).get(shot_id)
    if pick is not None and pick["take"] in ids:
        return pick["take"], "picked"
    return choose_take(len(ids), None, scores), "auto"


def settle_take(ctx: RunContext, tasks: MutableMapping[str, Task], task: Task,
                outputs: Mapping[str, Path]) -> Task:  # fmt: skip
    """Choose the take a ready task reads, once the takes it waits for are all done: the
    take a hero pass upgrades (its ``take`` parameter), or the take of the shot before that a
    continuing clip goes on from (its ``from_take``); the picked one, else the best scored.
    Recorded with the task (its input and its content key follow it) before it is looked up
    in the cache or placed; any other task is returned as it is."""
    if task.kind is TaskKind.hero:
        shot_id, param = task.shot_id or "", "take"
    elif task.kind is TaskKind.clip and (before := _continued_shot(task, tasks)) is not None:
        shot_id, param = before, "from_take"
    else:
        return task
    if ctx.shotlist.takes_of(ctx.shotlist.shot(shot_id)) < 2:
        return task
    take, why = chosen_take(ctx.store, ctx.run_id, ctx.shotlist, shot_id, outputs)
    if task.params.get(param) == take:
        return task
    settled = dataclasses.replace(task, params={**task.params, param: take})
    tasks[task.id] = settled
    ctx.store.update_task_params(task.id, {**ctx.store.task(task.id).params, param: take})
    how = WHY[why]
    if param == "take":
        line = f"hero {shot_id} upgrades take {take} ({how})"
    else:
        line = f"clip {task.shot_id} goes on from take {take} of {shot_id} ({how})"
    ctx.emit("take_chosen", line, settled, data={"take": take, "why": why, "shot": shot_id})
    return settled


def _continued_shot(task: Task, tasks: Mapping[str, Task]) -> str | None:
    """The shot a clip continues, or None."""
    dep = previous_clip_dep(task, tasks)
    return tasks[dep].shot_id if dep is not None else None


def film_takes(
    store: Store, run_id: str, run_dir: Path, shotlist: ShotList, outputs: Mapping[str, Path]
) -> dict[str, dict[str, Any]]:
    """For each shot with takes: the take the film uses (and why), its clip task's id and its
    contact sheet, written to ``takes/<shot>.jpg`` in the run's folder. A sheet that cannot be
    drawn is left out (the film does not need it)."""
    from videofactory.assembly.takes import SheetTake, take_sheet

    out: dict[str, dict[str, Any]] = {}
    for shot in shotlist.shots:
        if shotlist.takes_of(shot) < 2:
            continue
        take, why = chosen_take(store, run_id, shotlist, shot.id, outputs)
        ids = take_ids(run_id, shotlist, shot.id)
        scores = store.take_scores(run_id).get(shot.id, {})
        sheet_takes = [
            SheetTake(t, outputs[tid], scores.get(t, {}).get("score"), why if t == take else "")
            for t, tid in ids.items()
            if tid in outputs
        ]
        sheet: Path | None = run_dir / TAKES_FOLDER / f"{shot.id}.jpg"
        try:
            if not sheet_takes:
                raise MediaError(f"no take of shot {shot.id} is rendered yet")
            take_sheet(shot.id, sheet_takes, sheet)  # type: ignore[arg-type]
        except (MediaError, OSError):
            sheet = None
        out[shot.id] = {"take": take, "why": why, "clip": ids[take], "sheet": sheet}
    return out


def takes_summary(store: Store, run_id: str, shotlist: ShotList) -> dict[str, dict[str, Any]]:
    """For ``show``: per shot with takes (or a pick), each take's seed, task, state, clip and
    recorded score, the pick, the take the film uses (the pick, else the best score so far)
    and its contact sheet. Reads the store only (nothing is scored here)."""
    from videofactory.takes import take_seed

    record = store.run(run_id)
    rows = {t.id: t for t in store.tasks(run_id)}
    clips = {a["task_id"]: a["path"] for a in store.artifacts(run_id)}
    scores = store.take_scores(run_id)
    picks = store.picks(run_id)
    out: dict[str, dict[str, Any]] = {}
    for shot in shotlist.shots:
        count = shotlist.takes_of(shot)
        if count < 2 and shot.id not in picks:
            continue
        pick = picks.get(shot.id)
        shot_scores = scores.get(shot.id, {})
        uses = choose_take(
            count,
            pick["take"] if pick else None,
            {t: s.get("score") for t, s in shot_scores.items()},
        )
        takes = []
        for take, tid in take_ids(run_id, shotlist, shot.id).items():
            row = rows.get(tid)
            measures = shot_scores.get(take, {})
            takes.append({
                "take": take,
                "task": tid,
                "seed": take_seed(shot.seed, take),
                "state": row.state if row else None,
                "clip": clips.get(tid),
                "score": measures.get("score"),
                "measures": {k: v for k, v in measures.items() if k != "score"},
                "picked": bool(pick and pick["take"] == take),
                "used": take == uses,
            })  # fmt: skip
        hero = rows.get(task_id(run_id, TaskKind.hero, shot.id))
        sheet = Path(record["run_dir"]) / TAKES_FOLDER / f"{shot.id}.jpg"
        out[shot.id] = {
            "takes": takes,
            "pick": pick,
            "uses": uses,
            "why": "picked" if pick else "best score",
            "hero": None
            if hero is None
            else {"take": hero.params.get("take", 1), "state": hero.state},  # fmt: skip
            "sheet": str(sheet) if sheet.is_file() else None,
        }
    return out
