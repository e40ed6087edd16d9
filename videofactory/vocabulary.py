"""The words of a run: the kinds of work (task kinds) and what a GPU is for (roles).

These are plain enums with no I/O, so the core (scheduler, board, placement, reports) can use
them without importing the farm-file loader (``config.py``), which reads files and the
environment.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["GPU_KINDS", "ROLE_FOR_KIND", "Role", "TaskKind"]


class Role(str, Enum):
    """What a GPU is for, in the seed's words."""

    #: High-res video, long clips, final quality (the seed's RTX 5090).
    primary = "primary"
    #: Scene generation, batch rendering (the 3090s).
    worker = "worker"
    #: Keyframes, previews, fast inference (the 4080 Super).
    control = "control"
    #: Hosts a speech server (the seed puts Chatterbox on GPU 4).
    tts = "tts"


class TaskKind(str, Enum):
    """The kinds of work in a run."""

    #: One still per shot (text-to-image).
    keyframe = "keyframe"
    #: One clip per shot (image-to-video).
    clip = "clip"
    #: Final-quality pass on the shots marked hero.
    hero = "hero"
    #: Narration of one shot.
    speech = "speech"
    #: FFmpeg assembly of the finished video.
    assemble = "assemble"


#: The kinds that run as ComfyUI workflows on a GPU server, in the order a shot needs them.
#: A str-valued enum compares equal to its value, so ``task.kind in GPU_KINDS`` also holds for
#: a kind read back from the store as a plain string.
GPU_KINDS: tuple[TaskKind, ...] = (TaskKind.keyframe, TaskKind.clip, TaskKind.hero)

#: The role whose GPUs a task kind goes to first.
ROLE_FOR_KIND: dict[TaskKind, Role] = {
    TaskKind.keyframe: Role.control,
    TaskKind.clip: Role.worker,
    TaskKind.hero: Role.primary,
    TaskKind.speech: Role.tts,
}
