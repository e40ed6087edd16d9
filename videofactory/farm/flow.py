"""Cuts that land (pure): ``continuity: flow`` ends a shot's clip on the next shot's keyframe,
so the cut lands on the picture the next clip opens on; ``continuity: continue`` starts a
shot's clip from the last frame of the clip before it, so the same camera carries on.

The task graph gives such a clip the next shot's keyframe as a second dependency
(``dag.build_tasks``); the attempt uploads it and binds it as the workflow's ``end_image``
(``wan22_flf/clip``: WanFirstLastFrameToVideo; ``sim/clip``: the simulator's stand-in). A
worker whose clip workflow binds no ``end_image`` (``wan22/clip``, ``ltxv/clip``, or a server
without WanFirstLastFrameToVideo, where preflight picked another template) renders the shot as
a plain clip from its keyframe and says so: the film is still made. Placement keeps such a
clip off those workers while one that can end it on the picture is able to take it
(``prefer_end_frame``).

A clip that continues has the clip before it as a dependency; the attempt takes that clip's
last frame (``assembly.stills.last_frame``) and binds it as the clip's ``input_image`` in place
of the shot's keyframe, and its content key names that picture by the clip's content
(``start_ref``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from videofactory.farm.dag import Task, input_deps
from videofactory.farm.scheduler import TaskView, WorkerView, eligible
from videofactory.vocabulary import TaskKind

if TYPE_CHECKING:
    from videofactory.comfy.workflow import Workflow

__all__ = [
    "END_IMAGE",
    "prefer_end_frame",
    "END_TEMPLATE",
    "end_frame_dep",
    "fallback_note",
    "previous_clip_dep",
    "start_ref",
    "flow_notes",
    "takes_end_frame",
]

#: The binding a clip workflow reads the picture it ends on from.
END_IMAGE = "end_image"
#: The bundled clip template that takes one (named in the messages).
END_TEMPLATE = "wan22_flf"


def end_frame_dep(task: Task, tasks: Mapping[str, Task]) -> str | None:
    """The id of the keyframe a clip task ends on (another shot's keyframe among its
    dependencies: the next shot's, for a shot that flows), or None."""
    if task.kind is not TaskKind.clip:
        return None
    for dep in task.deps:
        other = tasks[dep]
        if other.kind is TaskKind.keyframe and other.shot_id != task.shot_id:
            return dep
    return None


def previous_clip_dep(task: Task, tasks: Mapping[str, Task]) -> str | None:
    """The id of the clip a clip task starts from (another shot's clip among the dependencies
    it reads: the shot before, for a shot that continues; of that shot's takes, the one it
    goes on from), or None."""
    if task.kind is not TaskKind.clip:
        return None
    for dep in input_deps(task, tasks):
        other = tasks[dep]
        if other.kind is TaskKind.clip and other.shot_id != task.shot_id:
            return dep
    return None


def start_ref(previous_clip_sha: str) -> str:
    """What a continuing clip's content key says it starts from: the last frame of the clip
    with this content (taken from it, so named by it)."""
    return f"{previous_clip_sha}:last-frame"


def takes_end_frame(workflow: Workflow | None) -> bool:
    """Whether a clip workflow can end on a given picture (it binds ``end_image``)."""
    return workflow is not None and workflow.accepts(END_IMAGE)


def fallback_note(worker: str, workflow: str) -> str:
    """What a flow shot becomes on a worker whose clip workflow takes no end frame."""
    return (
        f"{worker}: its clip workflow {workflow} takes no end frame (no end_image binding), so "
        f"a 'flow' shot it renders is a plain clip from its keyframe; use {END_TEMPLATE} "
        "(WanFirstLastFrameToVideo) there to end it on the next shot's keyframe"
    )


def flow_notes(clip_workflows: Mapping[str, Workflow | None]) -> list[str]:
    """One line per worker whose clip workflow cannot end on the next shot's keyframe
    (workers that take no clips, ``None``, are left out)."""
    return [
        fallback_note(worker, wf.name)
        for worker, wf in clip_workflows.items()
        if wf is not None and not takes_end_frame(wf)
    ]


def prefer_end_frame(
    view: TaskView, workers: Sequence[WorkerView], can_end: Callable[[str], bool]
) -> TaskView:
    """A flowing clip as placement should see it: workers whose clip workflow cannot end on a
    picture (``can_end(worker id)`` false) are avoided while one that can is able to take it;
    when none is, any worker may (the shot is then a plain clip, and says so)."""
    able = [w for w in workers if eligible(view, w)]
    if not any(can_end(w.id) for w in able):
        return view
    avoid = view.avoid | {w.id for w in able if not can_end(w.id)}
    return dataclasses.replace(view, avoid=frozenset(avoid))
