"""The task graph of a run (pure): keyframe -> clip -> hero per shot, speech, then assemble."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from videofactory.constants import DEFAULT_CLIP_SECONDS
from videofactory.look import look_items
from videofactory.shotlist import ShotList
from videofactory.vocabulary import TaskId, TaskKind

__all__ = [
    "COST_S",
    "VRAM_GB",
    "Task",
    "build_tasks",
    "ready_tasks",
    "upward_ranks",
    "workflow_need",
]

#: Reference cost of each task kind on the fastest card (an RTX 5090), in seconds, for a clip
#: of DEFAULT_CLIP_SECONDS. Seeds the estimates until finished tasks teach better ones.
COST_S: dict[TaskKind, float] = {
    TaskKind.look: 6.0,
    TaskKind.keyframe: 6.0,
    TaskKind.clip: 90.0,
    TaskKind.hero: 60.0,
    TaskKind.speech: 3.0,
    TaskKind.assemble: 10.0,
}

#: VRAM a task kind needs, in GB, when its workflow declares nothing (``vram_gb`` in the farm
#: file or the bindings file; every bundled template declares its own).
VRAM_GB: dict[TaskKind, float] = {
    TaskKind.look: 12.0,
    TaskKind.keyframe: 12.0,
    TaskKind.clip: 20.0,
    TaskKind.hero: 28.0,
    TaskKind.speech: 0.0,
    TaskKind.assemble: 0.0,
}


def workflow_need(declared: float | None, kind: TaskKind) -> float:
    """The VRAM a workflow needs: what it declares, else its task kind's default."""
    return VRAM_GB[kind] if declared is None else declared


@dataclass(frozen=True)
class Task:
    """One unit of work of a run."""

    id: str
    kind: TaskKind
    shot_id: str | None
    deps: tuple[str, ...]
    cost_s: float
    vram_gb: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The task as the store keeps it."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "shot_id": self.shot_id,
            "deps": list(self.deps),
            "params": {"cost_s": self.cost_s, "vram_gb": self.vram_gb, **self.params},
        }

    @classmethod
    def from_record(cls, row: Any) -> Task:
        """The task the store recorded (a ``store.TaskRow``): the graph is built once, when the
        run is recorded, and read back from there."""
        params = dict(row.params)
        kind = TaskKind(row.kind)
        cost_s = float(params.pop("cost_s", COST_S[kind]))
        vram_gb = float(params.pop("vram_gb", VRAM_GB[kind]))
        return cls(row.id, kind, row.shot_id, tuple(row.deps), cost_s, vram_gb, params)


def task_id(run_id: str, kind: TaskKind, shot_id: str | None = None) -> str:
    """The id of a run's task as the store keeps it (see ``vocabulary.TaskId``)."""
    return str(TaskId(run_id, kind, shot_id))


def build_tasks(run_id: str, shotlist: ShotList) -> list[Task]:
    """Every task of a run, dependencies first: the look pictures the user did not give
    (``videofactory.look``) come before the keyframes, which take them as references."""
    tasks = [
        _task(task_id(run_id, TaskKind.look, item.name), TaskKind.look, item.name, ())
        for item in look_items(shotlist)
        if item.picture is None
    ]
    looks = tuple(t.id for t in tasks)
    finals: list[str] = []
    previous_clip: str | None = None
    for shot in shotlist.shots:
        scale = shot.duration / DEFAULT_CLIP_SECONDS
        key = task_id(run_id, TaskKind.keyframe, shot.id)
        clip = task_id(run_id, TaskKind.clip, shot.id)
        tasks.append(_task(key, TaskKind.keyframe, shot.id, looks))
        clip_deps = (
            (key,) if shot.continuity == "cut" or not previous_clip else (key, previous_clip)
        )
        tasks.append(_task(clip, TaskKind.clip, shot.id, clip_deps, scale))
        final = clip
        if shot.hero:
            final = task_id(run_id, TaskKind.hero, shot.id)
            tasks.append(_task(final, TaskKind.hero, shot.id, (clip,), scale))
        finals.append(final)
        if shot.narration.strip():
            speech = task_id(run_id, TaskKind.speech, shot.id)
            tasks.append(_task(speech, TaskKind.speech, shot.id, ()))
            finals.append(speech)
        previous_clip = clip
    tasks.append(_task(task_id(run_id, TaskKind.assemble), TaskKind.assemble, None, tuple(finals)))
    return tasks


def _task(
    tid: str, kind: TaskKind, shot_id: str | None, deps: tuple[str, ...], scale: float = 1.0
) -> Task:
    return Task(tid, kind, shot_id, deps, COST_S[kind] * scale, VRAM_GB[kind])


def ready_tasks(tasks: Iterable[Task], done: set[str], waiting: set[str]) -> list[Task]:
    """Tasks in ``waiting`` whose dependencies are all in ``done``."""
    return [t for t in tasks if t.id in waiting and all(d in done for d in t.deps)]


def upward_ranks(tasks: Iterable[Task]) -> dict[str, float]:
    """Remaining critical path of each task: its cost plus the longest path after it."""
    tasks = list(tasks)
    children: dict[str, list[Task]] = {t.id: [] for t in tasks}
    for t in tasks:
        for d in t.deps:
            children[d].append(t)
    rank: dict[str, float] = {}
    for t in reversed(tasks):  # tasks come dependencies-first, so children are ranked already
        rank[t.id] = t.cost_s + max((rank[c.id] for c in children[t.id]), default=0.0)
    return rank
