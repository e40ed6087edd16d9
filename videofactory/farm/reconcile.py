"""Resume: before dispatching, square the run's records with the files and the servers.

A task recorded as done counts only if its output is still there and probes as good media. A
GPU task that was posted (its prompt id is recorded before posting) is looked up on its server:
finished there -> its outputs are downloaded, nothing is rendered again; still queued or
running -> followed to its end; unknown to the server (restarted, never reached it) -> lost,
and only then submitted again. A task cancelled after its job had finished on the server
(``videofactory cancel`` found it so) is collected the same way.

A job found again goes on as the attempt that posted it (one prompt id, one attempt, one
render), whatever its stopped process wrote as its end; an attempt left open that no server
has any more is ended as lost, so that no attempt stays open.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from videofactory.assembly.probe import check_media
from videofactory.comfy.results import parse_history_entry
from videofactory.errors import BackendError, FactoryError, Interrupted
from videofactory.store import TaskRow, TaskState
from videofactory.vocabulary import GPU_KINDS, TaskKind

if TYPE_CHECKING:
    from videofactory.farm.dispatcher import Dispatcher

__all__ = ["Reconciler"]

IN_FLIGHT = {TaskState.submitting.value, TaskState.submitted.value, TaskState.running.value}
#: How an attempt whose job no server has any more ends.
LOST = "lost on resume: {why}"


class Reconciler:
    """Finds what a run already has (see the module docstring)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        #: Attempts followed again (adopted): they stay open.
        self.following: set[int] = set()

    async def reconcile(self) -> tuple[set[str], dict[asyncio.Task[Path], str]]:
        """The tasks already done, and the futures following jobs still on the servers."""
        d = self.d
        done: set[str] = set()
        adopted: dict[asyncio.Task[Path], str] = {}
        rows = {t.id: t for t in d.store.tasks(d.run_id)}
        latest: dict[str, Path] = {}
        for art in d.store.artifacts(d.run_id):
            latest[art["task_id"]] = Path(art["path"])
        for tid, task in d.tasks.items():
            row = rows.get(tid)
            if row is None:
                continue
            if row.state == TaskState.done.value:
                path = latest.get(tid)
                if path is not None and await self._usable(path, task.kind, tid):
                    d.outputs[tid] = path
                    done.add(tid)
                    continue
                d.emit(
                    "task_redo",
                    f"{tid}: its output {path} is missing or broken; rendering it again",
                    task,
                )
                d.store.set_task_state(tid, TaskState.ready, error="output missing on resume")
                continue
            if task.kind in GPU_KINDS and row.prompt_id and self._on_server(row):
                fut = await self._find_job(tid, row.worker or "", row.prompt_id, done)
                if fut is not None:
                    adopted[fut] = tid
        d.store.close_open_attempts(
            d.run_id,
            TaskState.failed,
            LOST.format(why="the process following it stopped"),
            keep=frozenset(self.following),
        )
        return done, adopted

    def _on_server(self, row: TaskRow) -> bool:
        """Whether the task's last job may be on its server: in flight when its process
        stopped, or finished there when a cancel came too late to stop it."""
        if row.state in IN_FLIGHT:
            return True
        if row.state != TaskState.cancelled.value or not row.prompt_id:
            return False
        attempt = self.d.store.attempt_of_prompt(row.id, row.prompt_id)
        return attempt is not None and attempt["state"] == TaskState.done.value

    async def _usable(self, path: Path, kind: TaskKind, tid: str) -> bool:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        media_kind = "audio" if kind is TaskKind.speech else "video"
        try:
            await asyncio.to_thread(check_media, path, kind=media_kind, task=tid)
        except FactoryError:
            return False
        return True

    async def _find_job(
        self, tid: str, worker: str, prompt_id: str, done: set[str]
    ) -> asyncio.Task[Path] | None:
        d = self.d
        task = d.tasks[tid]
        lane = d.lanes.get(worker)
        found = d.store.attempt_of_prompt(tid, prompt_id)
        attempt = int(found["id"]) if found else None

        def lost(why: str) -> None:
            if attempt is not None:
                d.store.end_attempt(attempt, TaskState.failed, LOST.format(why=why))

        if lane is None or not lane.up:
            d.emit("task_lost", f"{tid}: its worker {worker} is gone; submitting it again", task)
            lost(f"its worker {worker} is gone")
            return None
        try:
            entry = await lane.client.history(prompt_id)
            queued = entry is None and await lane.client.in_queue(prompt_id)
        except BackendError as exc:
            d.emit("task_lost", f"{tid}: cannot ask {worker} ({exc}); submitting it again", task)
            lost(f"cannot ask {worker} ({exc})")
            return None
        if entry is not None:
            try:
                try:
                    result = parse_history_entry(prompt_id, entry, lane.config.url)
                except Interrupted:
                    lost("interrupted on its server")  # by a cancel, unless it says otherwise
                    raise
                except FactoryError as exc:  # it failed there: that is how it ended
                    if attempt is not None:
                        d.store.end_attempt(attempt, TaskState.failed, str(exc), force=True)
                    raise
                if attempt is not None:
                    d.store.reopen_attempt(attempt)  # the same render, collected now
                shot = d.shotlist.shot(task.shot_id or "")
                d.outputs[tid] = await d.collect(task, shot, lane, result, attempt)
            except FactoryError as exc:
                if attempt is not None:
                    d.store.end_attempt(attempt, TaskState.failed, str(exc))
                d.emit(
                    "task_lost",
                    f"{tid}: finished badly on {worker} ({exc}); trying again",
                    task,
                    worker=worker,
                )
                return None
            d.store.set_task_state(tid, TaskState.done)
            d.emit(
                "task_recovered",
                f"{tid}: finished on {worker} while we were away; collected, not rendered again",
                task,
                worker=worker,
            )
            done.add(tid)
            return None
        if queued:
            d.placed[tid] = lane.id
            if attempt is not None:
                d.store.reopen_attempt(attempt)  # followed on: the same render
                self.following.add(attempt)
            return asyncio.ensure_future(d.adopt_gpu_job(task, lane, prompt_id, attempt))
        d.emit(
            "task_lost",
            f"{tid}: {worker} does not know prompt {prompt_id}; submitting it again",
            task,
            worker=worker,
        )
        lost(f"{worker} does not know prompt {prompt_id}")
        return None
