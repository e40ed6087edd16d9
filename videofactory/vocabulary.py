"""The words of a run: the kinds of work (task kinds), what a GPU is for (roles), and which task
is which (``TaskId``).

These are plain enums with no I/O, so the core (scheduler, board, placement, reports) can use
them without importing the farm-file loader (``config.py``), which reads files and the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["GPU_KINDS", "ROLE_FOR_KIND", "Role", "TaskId", "TaskKind"]


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

    #: The film's references, made before its keyframes: a character sheet per character and
    #: a setting plate (``videofactory.look``); one task per picture.
    look = "look"
    #: One still per shot (an edit of the look where the worker can, else text-to-image).
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
GPU_KINDS: tuple[TaskKind, ...] = (TaskKind.look, TaskKind.keyframe, TaskKind.clip, TaskKind.hero)

#: The role whose GPUs a task kind goes to first.
ROLE_FOR_KIND: dict[TaskKind, Role] = {
    TaskKind.look: Role.control,
    TaskKind.keyframe: Role.control,
    TaskKind.clip: Role.worker,
    TaskKind.hero: Role.primary,
    TaskKind.speech: Role.tts,
}


@dataclass(frozen=True)
class TaskId:
    """Which task: its run, kind, shot (none for the run's assembly) and take. Written
    ``<run>/<shot>/<kind>`` (``<run>/<kind>``) in the store; a shot's second and later takes
    (``--takes``) add the take, ``<run>/<shot>/clip.2``, so that take 1 keeps the id a run
    without takes has (runs and caches recorded before takes existed still read). Run and shot
    ids hold no "/" (nor "." in a kind)."""

    run_id: str
    kind: TaskKind
    shot_id: str | None = None
    take: int = 1

    def __str__(self) -> str:
        kind = self.kind.value if self.take == 1 else f"{self.kind.value}.{self.take}"
        if self.shot_id:
            return f"{self.run_id}/{self.shot_id}/{kind}"
        return f"{self.run_id}/{kind}"

    @classmethod
    def parse(cls, text: str) -> TaskId:
        """The id of ``<run>/<shot>/<kind>[.<take>]`` or ``<run>/<kind>``; ValueError
        otherwise."""
        parts = text.split("/")
        if len(parts) not in (2, 3):
            raise ValueError(f"not a task id: {text!r}")
        kind, dot, take = parts[-1].partition(".")
        number = 1
        if dot:
            if not take.isdigit() or int(take) < 2 or len(parts) != 3:
                raise ValueError(f"not a task id: {text!r}")
            number = int(take)
        shot = parts[1] if len(parts) == 3 else None
        return cls(parts[0], TaskKind(kind), shot, number)

    @classmethod
    def of(cls, text: str | None) -> TaskId | None:
        """The id in ``text``, or None when it is no task id (an event of the run itself)."""
        try:
            return cls.parse(text) if text else None
        except ValueError:
            return None

    @property
    def label(self) -> str:
        """Shot, kind and take, for people (``s01/clip``, ``s01/clip.2``, ``assemble``)."""
        kind = self.kind.value if self.take == 1 else f"{self.kind.value}.{self.take}"
        return f"{self.shot_id}/{kind}" if self.shot_id else kind
