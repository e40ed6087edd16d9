"""The farm (which GPUs, where, what they are for) and the settings of a run.

A farm comes from a ``factory.yaml`` (``--farm``, then ``VIDEOFACTORY_FARM``, then the working
directory); with none, the built-in simulated farm shaped like the seed's six GPUs is used.
This is the only module that reads environment variables.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from videofactory.errors import ConfigError

__all__ = [
    "FARM_ENV",
    "FarmConfig",
    "Role",
    "SpeechConfig",
    "TaskKind",
    "WorkerConfig",
    "builtin_farm",
    "find_farm_file",
    "load_farm",
    "resolve_farm",
]

#: Environment variable naming a farm file.
FARM_ENV = "VIDEOFACTORY_FARM"
#: Farm file looked for in the working directory.
FARM_FILENAME = "factory.yaml"


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


#: The role whose GPUs a task kind goes to first.
ROLE_FOR_KIND: dict[TaskKind, Role] = {
    TaskKind.keyframe: Role.control,
    TaskKind.clip: Role.worker,
    TaskKind.hero: Role.primary,
    TaskKind.speech: Role.tts,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkerConfig(_Strict):
    """One GPU with its ComfyUI server."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    card: str = "unknown GPU"
    vram_gb: float = Field(default=24.0, gt=0, le=1024)
    #: In order of preference.
    roles: list[Role] = Field(default_factory=lambda: [Role.worker])
    #: ComfyUI base URL; filled in at start-up for a simulated farm.
    url: str = ""
    #: Relative speed (1.0 = the fastest card); seeds the learned estimates.
    speed: float = Field(default=1.0, gt=0, le=100)
    #: Workflow template per task kind (a file path, or a bundled template name).
    workflows: dict[TaskKind, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")


class SpeechConfig(_Strict):
    """Where narration is spoken."""

    #: "espeak" (local, no server) is the only backend in this version.
    backend: str = "espeak"
    voice: str = "en-us"
    url: str | None = None


class FarmConfig(_Strict):
    """A farm: its workers and its speech endpoint."""

    name: str = "farm"
    workers: list[WorkerConfig]
    speech: SpeechConfig = Field(default_factory=SpeechConfig)
    #: Roles are hard constraints rather than preferences.
    strict: bool = False
    #: True for the built-in farm that videofactory starts itself.
    simulated: bool = False

    @field_validator("workers")
    @classmethod
    def _unique_ids(cls, workers: list[WorkerConfig]) -> list[WorkerConfig]:
        if not workers:
            raise ValueError("a farm needs at least one worker")
        seen: set[str] = set()
        for w in workers:
            if w.id in seen:
                raise ValueError(f"two workers are called {w.id!r}; worker ids must be unique")
            seen.add(w.id)
        return workers

    def worker(self, worker_id: str) -> WorkerConfig:
        """The worker with this id."""
        for w in self.workers:
            if w.id == worker_id:
                return w
        raise ConfigError(f"no worker {worker_id!r} in the farm")


def builtin_farm() -> FarmConfig:
    """The seed's six GPUs, as simulated ComfyUI servers (URLs are set when they start)."""
    return FarmConfig(
        name="built-in simulated farm",
        simulated=True,
        workers=[
            WorkerConfig(id="gpu0", card="RTX 5090", vram_gb=32, roles=[Role.primary], speed=1.0),
            WorkerConfig(id="gpu1", card="RTX 3090", vram_gb=24, roles=[Role.worker], speed=0.55),
            WorkerConfig(id="gpu2", card="RTX 3090", vram_gb=24, roles=[Role.worker], speed=0.55),
            WorkerConfig(id="gpu3", card="RTX 3090", vram_gb=24, roles=[Role.worker], speed=0.55),
            WorkerConfig(
                id="gpu4", card="RTX 3090", vram_gb=24, roles=[Role.worker, Role.tts], speed=0.55
            ),
            WorkerConfig(
                id="gpu5", card="RTX 4080 Super", vram_gb=16, roles=[Role.control], speed=0.7
            ),
        ],
    )


def find_farm_file(flag: str | Path | None = None, cwd: Path | None = None) -> Path | None:
    """The farm file to use: ``--farm``, then ``$VIDEOFACTORY_FARM``, then ./factory.yaml."""
    if flag:
        path = Path(flag)
        if not path.is_file():
            raise ConfigError(f"farm file {path} does not exist; check the --farm path")
        return path
    env = os.environ.get(FARM_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"{FARM_ENV}={env} names no file; fix or unset it")
        return path
    local = (cwd or Path.cwd()) / FARM_FILENAME
    return local if local.is_file() else None


def load_farm(path: Path) -> FarmConfig:
    """Read and validate a farm file; errors name the field and the file."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read farm file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"farm file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"farm file {path} must be a mapping with a 'workers' list")
    try:
        farm = FarmConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"farm file {path}: {format_validation_error(exc)}") from exc
    missing = [w.id for w in farm.workers if not w.url]
    if missing:
        raise ConfigError(
            f"farm file {path}: worker(s) {', '.join(missing)} have no url; "
            "give each worker its ComfyUI URL, e.g. url: http://127.0.0.1:8188"
        )
    return farm


def resolve_farm(flag: str | Path | None = None) -> FarmConfig:
    """The farm named by flag/env/cwd, or the built-in simulated farm when there is none."""
    path = find_farm_file(flag)
    return load_farm(path) if path else builtin_farm()


def format_validation_error(exc: ValidationError) -> str:
    """Render pydantic's errors as '<field path>: <reason>' joined by '; '."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
