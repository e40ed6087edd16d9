"""Resume: before dispatching, square the run's records with the files and the servers.

``find`` looks and returns what it found, task by task, changing nothing: a task recorded as
done counts only if its output is still there and probes as good media; a GPU task that was
posted (its prompt id is recorded before posting) is looked up on its server: finished there,
still queued or running, failed there, or unknown to it (restarted, never reached it). A task
cancelled after its job had finished on the server (``videofactory cancel`` found it so) is
looked up the same way.

``settle`` then acts on the findings: finished jobs are collected (nothing is rendered again),
jobs still on a server are handed back to be followed, the rest are recorded lost and go out
again. A job found again goes on as the attempt that posted it (one prompt id, one attempt, one
render), whatever its stopped process wrote as its end; an attempt left open that no server has
any more is ended as lost, so that no attempt stays open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.assembly.probe import check_media
from videofactory.comfy.results import PromptResult, parse_history_entry
from videofactory.errors import BackendError, FactoryError, Interrupted
from videofactory.farm.context import RunContext
from videofactory.farm.dag import Task
from videofactory.store import Store, TaskRow, TaskState
from videofactory.vocabulary import GPU_KINDS, TaskKind

if TYPE_CHECKING:
    from videofactory.farm.attempt import GpuRunner
    from videofactory.farm.lanes import Lane

__all__ = ["Found", "Resumed", "find", "settle"]

IN_FLIGHT = {TaskState.submitting.value, TaskState.submitted.value, TaskState.running.value}
#: How an attempt whose job no server has any more ends.
LOST = "lost on resume: {why}"


@dataclass(frozen=True)
class Found:
    """What resume found of one task that has a record."""

    task_id: str
    #: done (its output is good), redo (recorded done, output gone), finished (its job
    #: finished on its server), following (still queued or running there), failed (it
    #: failed there), lost (no server has it: submit it again).
    state: str
    worker: str = ""
    prompt_id: str = ""
    #: The attempt that posted the job (None for a job no attempt row names).
    attempt: int | None = None
    path: Path | None = None
    result: PromptResult | None = None
    why: str = ""


@dataclass
class Resumed:
    """What a run has after ``settle``: its finished tasks (with their outputs) and the jobs to
    follow on their servers (task id -> (worker, prompt id, attempt))."""

    done: dict[str, Path]
    follow: dict[str, tuple[str, str, int | None]]


async def find(
    store: Store, run_id: str, tasks: Mapping[str, Task], lanes: Mapping[str, Lane]
) -> list[Found]:
    """What the run's records, files and servers say of each task (changes nothing)."""
    rows = {t.id: t for t in store.tasks(run_id)}
    latest: dict[str, Path] = {}
    for art in store.artifacts(run_id):
        latest[art["task_id"]] = Path(art["path"])
    found = []
    for tid, task in tasks.items():
        row = rows.get(tid)
        if row is None:
            continue
        if row.state == TaskState.done.value:
            path = latest.get(tid)
            good = path is not None and await _usable(path, task.kind, tid)
            found.append(Found(tid, "done" if good else "redo", path=path))
        elif task.kind in GPU_KINDS and row.prompt_id and _on_server(store, row):
            found.append(await _ask(store, tid, row.worker or "", row.prompt_id, lanes))
    return found


def _on_server(store: Store, row: TaskRow) -> bool:
    """Whether the task's last job may be on its server: in flight when its process stopped,
    or finished there when a cancel came too late to stop it."""
    if row.state in IN_FLIGHT:
        return True
    if row.state != TaskState.cancelled.value or not row.prompt_id:
        return False
    attempt = store.attempt_of_prompt(row.id, row.prompt_id)
    return attempt is not None and attempt["state"] == TaskState.done.value


async def _usable(path: Path, kind: TaskKind, tid: str) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    media_kind = "audio" if kind is TaskKind.speech else "video"
    try:
        await asyncio.to_thread(check_media, path, kind=media_kind, task=tid)
    except FactoryError:
        return False
    return True


async def _ask(
    store: Store, tid: str, worker: str, prompt_id: str, lanes: Mapping[str, Lane]
) -> Found:
    """Where a posted job stands on its server."""
    row = store.attempt_of_prompt(tid, prompt_id)
    base = {"worker": worker, "prompt_id": prompt_id, "attempt": int(row["id"]) if row else None}
    lane = lanes.get(worker)
    if lane is None or not lane.up:
        return Found(tid, "lost", why=f"its worker {worker} is gone", **base)
    try:
        entry = await lane.client.history(prompt_id)
        queued = entry is None and await lane.client.in_queue(prompt_id)
    except BackendError as exc:
        return Found(tid, "lost", why=f"cannot ask {worker} ({exc})", **base)
    if entry is not None:
        try:
            result = parse_history_entry(prompt_id, entry, lane.config.url)
        except Interrupted:  # by a cancel, unless it says otherwise
            return Found(tid, "lost", why="interrupted on its server", **base)
        except FactoryError as exc:  # it failed there: that is how it ended
            return Found(tid, "failed", why=str(exc), **base)
        return Found(tid, "finished", result=result, **base)
    if queued:
        return Found(tid, "following", **base)
    return Found(tid, "lost", why=f"{worker} does not know prompt {prompt_id}", **base)


async def settle(
    found: list[Found],
    ctx: RunContext,
    tasks: Mapping[str, Task],
    runner: GpuRunner,
    lanes: Mapping[str, Lane],
) -> Resumed:
    """Act on what ``find`` found: collect, hand back to follow, or record as lost."""
    store = ctx.store
    done: dict[str, Path] = {}
    follow: dict[str, tuple[str, str, int | None]] = {}
    for f in found:
        task = tasks[f.task_id]
        if f.state == "done" and f.path is not None:
            done[f.task_id] = f.path
            continue
        if f.state == "redo":
            ctx.emit(
                "task_redo",
                f"{f.task_id}: its output {f.path} is missing or broken; rendering it again",
                task,
            )
            store.set_task_state(f.task_id, TaskState.ready, error="output missing on resume")
            continue
        if f.state == "following":
            if f.attempt is not None:
                store.reopen_attempt(f.attempt)  # followed on: the same render
            follow[f.task_id] = (f.worker, f.prompt_id, f.attempt)
            continue
        if f.state == "finished" and f.result is not None:
            path = await _collect(f, ctx, task, runner, lanes[f.worker])
            if path is not None:
                done[f.task_id] = path
            continue
        if f.state == "failed" and f.attempt is not None:
            store.end_attempt(f.attempt, TaskState.failed, f.why, force=True)
        elif f.attempt is not None:
            store.end_attempt(f.attempt, TaskState.failed, LOST.format(why=f.why))
        what = {
            "failed": f"finished badly on {f.worker} ({f.why}); trying again",
            "lost": f"{f.why}; submitting it again",
        }[f.state]
        ctx.emit("task_lost", f"{f.task_id}: {what}", task, worker=f.worker or None)
    keep = frozenset(a for _, _, a in follow.values() if a is not None)
    store.close_open_attempts(
        ctx.run_id, TaskState.failed, LOST.format(why="the process following it stopped"), keep=keep
    )
    return Resumed(done, follow)


async def _collect(
    f: Found, ctx: RunContext, task: Task, runner: GpuRunner, lane: Lane
) -> Path | None:
    """A job that finished on its server while nobody followed it: its output is downloaded
    (the same render, its attempt done), not rendered again."""
    assert f.result is not None
    if f.attempt is not None:
        ctx.store.reopen_attempt(f.attempt)
    try:
        path = await runner.collect(task, lane, f.result, f.attempt)
    except FactoryError as exc:
        if f.attempt is not None:
            ctx.store.end_attempt(f.attempt, TaskState.failed, str(exc))
        ctx.emit(
            "task_lost",
            f"{f.task_id}: finished badly on {f.worker} ({exc}); trying again",
            task,
            worker=f.worker,
        )
        return None
    ctx.store.set_task_state(f.task_id, TaskState.done)
    ctx.emit(
        "task_recovered",
        f"{f.task_id}: finished on {f.worker} while we were away; collected, not rendered again",
        task,
        worker=f.worker,
    )
    return path
