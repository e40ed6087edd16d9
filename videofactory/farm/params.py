"""The parameters a task binds into its workflow (pure): one place for the attempt that posts
it and for the content key that names what it makes (``farm/reuse.py``).

Inputs are given by what the workflow should read: the name a server gave an upload when the
workflow is posted, the input's content hash when a key is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from videofactory.comfy.references import reference_name
from videofactory.comfy.workflow import Workflow
from videofactory.look import LookItem, look_items, look_shot
from videofactory.shotlist import Shot, ShotList
from videofactory.takes import take_seed
from videofactory.vocabulary import TaskKind

__all__ = ["HERO_SCALE", "even_size", "task_references", "task_shot", "workflow_params"]

#: Upscale factor of the hero pass.
HERO_SCALE = 1.5


def even_size(value: float) -> int:
    """A size a video encoder takes: a multiple of 8, at least 64."""
    return max(64, int(round(value / 8)) * 8)


def task_shot(kind: TaskKind, shot_id: str | None, shotlist: ShotList) -> Shot:
    """The shot a GPU task binds: its own, or for a look task the picture it makes, as a shot
    (``look.look_shot``)."""
    if kind is TaskKind.look:
        return look_shot(shotlist, shot_id or "")
    return shotlist.shot(shot_id or "")


def task_references(kind: TaskKind, shotlist: ShotList) -> list[LookItem]:
    """The look pictures a task of ``kind`` takes as references, in the order its workflow's
    ``reference_1``.. slots take them (a keyframe takes the whole look; nothing else any)."""
    return look_items(shotlist) if kind is TaskKind.keyframe else []


def workflow_params(
    kind: TaskKind,
    shot: Shot,
    shotlist: ShotList,
    workflow: Workflow,
    *,
    scale: float,
    prefix: str,
    inputs: Mapping[str, str],
    take: int = 1,
) -> dict[str, Any]:
    """What a task of ``kind`` binds into ``workflow``: the shot's prompt, seed (a clip's is
    its ``take``'s: ``takes.take_seed``), size (scaled after running out of memory), the clip's
    frames and rate, where the output goes (``prefix``) and what it reads (``inputs``:
    ``input_image`` for a clip, and ``end_image`` for one that flows into the next shot;
    ``input_video`` for a hero pass; ``reference_1``.. for a keyframe made as an edit of the
    look)."""
    width, height = (
        (shotlist.width, shotlist.height)
        if scale == 1.0
        else (even_size(shotlist.width * scale), even_size(shotlist.height * scale))
    )
    if kind is not TaskKind.hero:  # in the steps its model makes, covering the frame
        width, height = workflow.frame_size(width, height)
    if kind in (TaskKind.keyframe, TaskKind.look):
        references = {
            reference_name(i): inputs[reference_name(i)]
            for i in range(1, len(inputs) + 1)
            if reference_name(i) in inputs
        }
        return {
            "prompt": shot.prompt,
            "negative": shot.negative,
            "seed": shot.seed,
            "width": width,
            "height": height,
            "output_prefix": prefix,
            **references,
        }
    if kind is TaskKind.clip:
        timing = workflow.clip_timing(shot.duration, shotlist.fps, scale)
        # A clip that flows also reads the picture it ends on (the next shot's keyframe).
        end = {"end_image": inputs["end_image"]} if "end_image" in inputs else {}
        return {
            "input_image": inputs["input_image"],
            **end,
            "prompt": shot.prompt,
            "camera": shot.camera.value,
            "width": width,
            "height": height,
            "frames": timing.frames,
            "seed": take_seed(shot.seed, take),
            "fps": timing.fps,
            "output_prefix": prefix,
        }
    # The hero pass upscales: its size is HERO_SCALE times the clip's (even, for H.264).
    return {
        "input_video": inputs["input_video"],
        "width": even_size(width * HERO_SCALE),
        "height": even_size(height * HERO_SCALE),
        "output_prefix": prefix,
    }
