"""The task graph of a run (pure): keyframe -> clip(s) -> hero per shot, speech, then assemble.

A shot with N takes has N clip tasks (``<shot>/clip``, ``<shot>/clip.2`` ...) from its one
keyframe; its hero pass (or, without one, the assembly) waits for all of them, since which take
it upgrades is known only once they are scored (or one is picked). Other tasks keep the GPUs
busy meanwhile: a take is an ordinary clip task for the scheduler.

A preview's graph (``preview_tasks``) has each shot's keyframe and narration and the assembly
of the animatic from them, no clip and no hero pass. Its keyframe and speech tasks are the
film's (the same kind, shot and parameters), so the film rendered later finds what they made
in the artifact cache.
"""

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
    "PREVIEW_PINNED",
    "VRAM_GB",
    "Task",
    "build_tasks",
    "from_take",
    "hero_task",
    "input_deps",
    "look_tasks",
    "preview_tasks",
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

    @property
    def take(self) -> int:
        """The take a clip renders (from its id), or the take a hero pass upgrades (chosen
        when it becomes ready: its ``take`` parameter); 1 otherwise."""
        return int(self.params.get("take", TaskId.parse(self.id).take))

    @property
    def stem(self) -> str:
        """The name of the task's output file without its suffix: the shot's id, with the
        take after it for take 2 and later (``s01.take2``)."""
        shot = self.shot_id or self.kind.value
        return shot if self.take == 1 else f"{shot}.take{self.take}"

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


def task_id(run_id: str, kind: TaskKind, shot_id: str | None = None, take: int = 1) -> str:
    """The id of a run's task as the store keeps it (see ``vocabulary.TaskId``)."""
    return str(TaskId(run_id, kind, shot_id, take))


def build_tasks(run_id: str, shotlist: ShotList, *, preview: bool = False) -> list[Task]:
    """Every task of a run, dependencies first (``preview``: ``preview_tasks``).

    The look pictures the user did not give (``videofactory.look``) come before the
    keyframes, which take them as references. A clip needs its shot's keyframe; one that
    continues (``continuity: continue``) the clip before it too (every take of it), and one
    that flows (``continuity: flow``) the next shot's keyframe, which it ends on (that
    keyframe is listed before it).
    """
    if preview:
        return preview_tasks(run_id, shotlist)
    tasks = look_tasks(run_id, shotlist)
    looks = tuple(t.id for t in tasks)
    finals: list[str] = []
    previous_clips: list[str] = []
    shots = shotlist.shots
    for i, shot in enumerate(shots):
        scale = shot.duration / DEFAULT_CLIP_SECONDS
        key = task_id(run_id, TaskKind.keyframe, shot.id)
        clips = [
            task_id(run_id, TaskKind.clip, shot.id, take)
            for take in range(1, shotlist.takes_of(shot) + 1)
        ]
        if i == 0 or shots[i - 1].continuity != "flow":  # else listed before the clip before
            tasks.append(_task(key, TaskKind.keyframe, shot.id, looks))
        clip_deps: tuple[str, ...] = (key,)
        if shot.continuity == "continue" and previous_clips:
            # Every take of the clip before: it goes on from the one the film uses (chosen
            # when it becomes ready, ``picking.settle_take``).
            clip_deps = (key, *previous_clips)
        elif shot.continuity == "flow" and i + 1 < len(shots):
            following = task_id(run_id, TaskKind.keyframe, shots[i + 1].id)
            tasks.append(_task(following, TaskKind.keyframe, shots[i + 1].id, looks))
            clip_deps = (key, following)
        tasks.extend(_task(c, TaskKind.clip, shot.id, clip_deps, scale) for c in clips)
        if shot.hero:
            hero = hero_task(run_id, shot.id, tuple(clips), scale)
            tasks.append(hero)
            finals.append(hero.id)
        else:
            finals.extend(clips)
        if shot.narration.strip():
            speech = task_id(run_id, TaskKind.speech, shot.id)
            tasks.append(_task(speech, TaskKind.speech, shot.id, ()))
            finals.append(speech)
        previous_clips = clips
    tasks.append(_task(task_id(run_id, TaskKind.assemble), TaskKind.assemble, None, tuple(finals)))
    return tasks


def hero_task(run_id: str, shot_id: str, clips: tuple[str, ...], scale: float) -> Task:
    """The hero pass of a shot: it waits for every take's clip (``clips``) and upgrades the
    chosen one. Also what ``pick --hero`` adds to a run whose shot had none."""
    return _task(task_id(run_id, TaskKind.hero, shot_id), TaskKind.hero, shot_id, clips, scale)


def input_deps(task: Task, tasks: Mapping[str, Task]) -> tuple[str, ...]:
    """The dependencies whose outputs a task reads: all of them, but for a hero pass only the
    clip of the take it upgrades, and for a clip that continues the shot before only the take
    of it that it goes on from (``from_take``); each waits for the other takes without reading
    them."""
    if task.kind is TaskKind.hero:
        shot, take = task.shot_id, task.take  # its own shot's takes
    elif task.kind is TaskKind.clip:
        shot, take = None, from_take(task)  # the shot before's takes
    else:
        return task.deps

    def unread(dep: Task) -> bool:
        theirs = dep.shot_id == task.shot_id if shot else dep.shot_id != task.shot_id
        return dep.kind is TaskKind.clip and theirs and dep.take != take

    return tuple(d for d in task.deps if not unread(tasks[d]))


def from_take(task: Task) -> int:
    """The take of the shot before that a continuing clip goes on from (its ``from_take``
    parameter, chosen when it becomes ready); 1 until then, and for any other task."""
    return int(task.params.get("from_take", 1))


#: The kinds a preview keeps on their role's GPUs (``scheduler.decide``'s ``pinned``): its
#: look and keyframes on the control GPU, as the seed has it, leaving the others to clips and
#: heroes.
PREVIEW_PINNED: frozenset[TaskKind] = frozenset({TaskKind.look, TaskKind.keyframe})


def preview_tasks(run_id: str, shotlist: ShotList) -> list[Task]:
    """The tasks of a preview, dependencies first: the look, every shot's keyframe (an edit of
    the look, as the film's) and narration, then the assembly of the animatic (each keyframe
    held for its shot, with the narration)."""
    tasks = look_tasks(run_id, shotlist)
    looks = tuple(t.id for t in tasks)
    finals: list[str] = []
    for shot in shotlist.shots:
        finals.append(task_id(run_id, TaskKind.keyframe, shot.id))
        tasks.append(_task(finals[-1], TaskKind.keyframe, shot.id, looks))
        if shot.narration.strip():
            finals.append(task_id(run_id, TaskKind.speech, shot.id))
            tasks.append(_task(finals[-1], TaskKind.speech, shot.id, ()))
    tasks.append(_task(task_id(run_id, TaskKind.assemble), TaskKind.assemble, None, tuple(finals)))
    return tasks


def look_tasks(run_id: str, shotlist: ShotList) -> list[Task]:
    """The look pictures to render (those the user did not give), before any keyframe."""
    return [
        _task(task_id(run_id, TaskKind.look, item.name), TaskKind.look, item.name, ())
        for item in look_items(shotlist)
        if item.picture is None
    ]


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
    # Children first. Tasks are recorded dependencies-first, but one added later (a hero pass
    # ``pick --hero`` adds) comes after the assembly that waits for it.
    for t in reversed(_dependencies_first(tasks)):
        rank[t.id] = t.cost_s + max((rank[c.id] for c in children[t.id]), default=0.0)
    return rank


def _dependencies_first(tasks: list[Task]) -> list[Task]:
    """The tasks in an order where each comes after its dependencies (stable: the recorded
    order where it already is one)."""
    placed: set[str] = set()
    order: list[Task] = []
    waiting = list(tasks)
    while waiting:
        later = []
        for t in waiting:
            if all(d in placed for d in t.deps):
                placed.add(t.id)
                order.append(t)
            else:
                later.append(t)
        if len(later) == len(waiting):  # a cycle, or a dependency that is no task
            raise ValueError(f"task graph has no order: {[t.id for t in later][:5]}")
        waiting = later
    return order
