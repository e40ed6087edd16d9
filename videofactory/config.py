"""The farm (which GPUs, where, what they are for) and the settings of a run.

A farm comes from a ``factory.yaml`` (``--farm``, then ``VIDEOFACTORY_FARM``, then the working
directory); with none, the built-in simulated farm shaped like the seed's six GPUs is used.
This is the only module that reads environment variables.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from videofactory.constants import DEFAULT_CLIP_SECONDS
from videofactory.errors import ConfigError
from videofactory.limits import MAX_CLIP_SECONDS, MAX_PORT, MAX_WORKERS, MIN_CLIP_SECONDS, MIN_PORT
from videofactory.userfiles import parse_yaml, read_text
from videofactory.vocabulary import Role, TaskKind

__all__ = [
    "FARM_ENV",
    "DispatchConfig",
    "FarmConfig",
    "LLMConfig",
    "LauncherConfig",
    "SpeechConfig",
    "WorkerConfig",
    "WorkflowSpec",
    "builtin_farm",
    "check_url",
    "configured_llm",
    "find_farm_file",
    "load_farm",
    "resolve_farm",
    "resolve_llm",
]

#: Environment variable naming a farm file.
FARM_ENV = "VIDEOFACTORY_FARM"
#: Farm file looked for in the working directory.
FARM_FILENAME = "factory.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkflowSpec(_Strict):
    """A worker's workflow for one task kind: an API-format file or a bundled template."""

    #: An API-format workflow JSON exported from ComfyUI (relative to the farm file).
    file: str | None = None
    #: A bundled template: a set name ("flux") or "set/kind" ("wan22/clip").
    template: str | None = None
    #: Bindings YAML for ``file``; default: <stem>.bindings.yaml beside it, else detected.
    bindings: str | None = None
    #: VRAM this workflow needs, in GB (default: the template's or bindings file's own
    #: ``vram_gb``, else the task kind's; see workflows/README.md).
    vram_gb: float | None = Field(default=None, gt=0, le=1024)

    @model_validator(mode="after")
    def _one_source(self) -> WorkflowSpec:
        if bool(self.file) == bool(self.template):
            raise ValueError("give either file: (an API-format .json) or template: (a bundled one)")
        if self.bindings and not self.file:
            raise ValueError("bindings: goes with file:, a bundled template has its own")
        return self

    @classmethod
    def parse(cls, value: str | WorkflowSpec) -> WorkflowSpec:
        """A spec from the short form: "x.json" is a file, anything else a template name."""
        if isinstance(value, WorkflowSpec):
            return value
        if value.lower().endswith(".json"):
            return cls(file=value)
        return cls(template=value)


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
    #: Workflow per task kind: a file path ("my_flux_api.json"), a bundled template name
    #: ("flux", "wan22/clip"), or {file: ..., bindings: ...}. Unnamed kinds get a default.
    workflows: dict[TaskKind, str | WorkflowSpec] = Field(default_factory=dict)
    # -- managed workers: started and looked after by `videofactory farm up` on this machine
    # (docs/farm-launcher.md); unset fields fall back to the farm's ``launcher:`` section.
    #: Start this worker's ComfyUI server with `farm up` (its url is then filled in from port).
    managed: bool = False
    #: The ComfyUI folder (the one holding main.py).
    comfyui: str | None = None
    #: The Python that runs ComfyUI (default: <comfyui>/venv or .venv, else videofactory's).
    python: str | None = None
    #: GPU index: ``--cuda-device N`` (or CUDA_VISIBLE_DEVICES=N with launcher.gpu_env).
    cuda_device: int | None = Field(default=None, ge=0, le=255)
    #: TCP port of the server (default: the url's).
    port: int | None = Field(default=None, ge=MIN_PORT, le=MAX_PORT)
    #: ``--listen`` address(es) (default: launcher.listen, 127.0.0.1).
    listen: str | None = None
    #: More command-line arguments for this server, after the launcher's own.
    extra_args: list[str] = Field(default_factory=list)
    #: Drain and restart the server when its memory (RSS) passes this many GB.
    rss_limit_gb: float | None = Field(default=None, gt=0, le=4096)
    #: Command template that starts the server (default: launcher.command).
    command: str | list[str] | None = None
    #: Extra environment variables of the server.
    env: dict[str, str] = Field(default_factory=dict)

    def workflow_spec(self, kind: TaskKind) -> WorkflowSpec | None:
        """The workflow this worker names for a task kind, or None for the default. A worker
        that names a keyframe workflow but no look one makes the look with it (given no
        reference picture an edit workflow is text-to-image): farm files from before the look
        stage keep working."""
        value = self.workflows.get(kind)
        if value is None and kind is TaskKind.look:
            value = self.workflows.get(TaskKind.keyframe)
        return None if value is None else WorkflowSpec.parse(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _valid_url(value, "url") if value else value


#: Speech engines a farm can name (``videofactory.tts`` registers one backend per name).
SpeechBackendName = Literal["espeak", "chatterbox", "openai", "piper"]


class SpeechConfig(_Strict):
    """Where narration is spoken: a local engine, or a speech server with a local fallback."""

    #: piper (local neural) | espeak (local formant) | chatterbox | openai (servers). Unset:
    #: the best local voice installed, Piper, else eSpeak NG (docs/speech.md says why).
    backend: SpeechBackendName | None = None
    #: Server base URL (chatterbox, openai); default: the seed's http://localhost:8880.
    url: str | None = None
    #: Voice name: espeak "en-us"; openai e.g. "af_heart" (Kokoro); piper a model name/path.
    voice: str | None = None
    #: Model for OpenAI-compatible servers ("tts-1" is accepted by Kokoro-FastAPI and OpenAI).
    model: str | None = None
    #: Speaking speed for OpenAI-compatible servers (0.25..4).
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    #: Extra engine options, sent as they are (chatterbox: exaggeration, cfg_weight, ...).
    options: dict[str, Any] = Field(default_factory=dict)
    #: The local voice that speaks the whole film when the server still fails after its
    #: retries; "none" to fail the run instead. Unset: the best local voice, as for backend.
    fallback: Literal["espeak", "piper", "none"] | None = None
    #: Retries of each failed request (a transient failure: refused or dropped connection,
    #: timeout, HTTP 5xx, 408, 429), with back-off, before the fallback speaks the film.
    retries: int = Field(default=2, ge=0, le=10)
    #: Seconds one request may take.
    timeout_s: float = Field(default=120.0, gt=0, le=3600)
    #: Longest text sent in one request; longer narration is split at sentence boundaries.
    max_chars: int = Field(default=250, ge=20, le=5000)
    #: Environment variable holding the server's API key, if it wants one.
    api_key_env: str | None = None
    #: The worker whose GPU the speech server shares (the seed puts Chatterbox on gpu4):
    #: its VRAM counts against that worker's.
    worker: str | None = None
    #: VRAM the speech server holds on that GPU, in GB.
    vram_gb: float = Field(default=0.0, ge=0, le=1024)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _valid_url(value, "url") if value else value

    def api_key(self) -> str | None:
        """The API key from the environment variable ``api_key_env`` names (None if unset)."""
        return _env_key(self.api_key_env)


#: Environment variables that configure the LLM planner (they override the farm file).
LLM_URL_ENV = "VIDEOFACTORY_LLM_URL"
LLM_KIND_ENV = "VIDEOFACTORY_LLM_KIND"
LLM_MODEL_ENV = "VIDEOFACTORY_LLM_MODEL"
LLM_KEY_ENV = "VIDEOFACTORY_LLM_API_KEY"
#: Anthropic's own key variable: set alone, it is enough to plan with Anthropic's API.
ANTHROPIC_KEY_ENV = "ANTHROPIC_API_KEY"
#: Anthropic's API, the endpoint of ``kind: anthropic`` when none is given.
ANTHROPIC_ENDPOINT = "https://api.anthropic.com"
#: Where the key is looked for when the farm file names no variable, by API kind.
_DEFAULT_KEY_ENVS = {
    "openai": (LLM_KEY_ENV, "OPENAI_API_KEY"),
    "anthropic": (LLM_KEY_ENV, ANTHROPIC_KEY_ENV),
}


class LLMConfig(_Strict):
    """An LLM that plans shot lists: an OpenAI-compatible chat endpoint or Anthropic's API."""

    #: openai: any /v1/chat/completions (Ollama, vLLM, llama.cpp, LM Studio); anthropic.
    kind: Literal["openai", "anthropic"] = "openai"
    #: Base URL, e.g. http://localhost:11434/v1 (Ollama) or https://api.anthropic.com.
    endpoint: str = Field(min_length=1)
    #: The model's name; empty: the first one the server lists (``GET /v1/models``).
    model: str = Field(default="", max_length=200)
    #: Environment variable with the API key (default: VIDEOFACTORY_LLM_API_KEY, then
    #: OPENAI_API_KEY or ANTHROPIC_API_KEY). Keys never go in the farm file.
    api_key_env: str | None = None
    #: Seconds one request may take (local models can be slow).
    timeout_s: float = Field(default=300.0, gt=0, le=3600)
    #: Seconds the cheap reachability check (``GET /v1/models``) may take before
    #: ``--planner auto`` plans with the rules planner instead.
    probe_timeout_s: float = Field(default=3.0, gt=0, le=60)
    max_tokens: int = Field(default=8192, ge=256, le=200_000)
    temperature: float = Field(default=0.7, ge=0, le=2)
    #: How JSON is asked for on OpenAI-compatible servers: a JSON schema (default), plain
    #: JSON mode, or only in the instructions (for servers that support neither).
    json_mode: Literal["schema", "object", "none"] = "schema"
    #: Filled in from the environment by ``resolve_llm``; never read from the file.
    api_key: str | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_files(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "api_key: keys do not go in the farm file; put it in an environment variable "
                f"({LLM_KEY_ENV}, or the one api_key_env names)"
            )
        return data

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return _valid_url(value, "endpoint")


def _env_key(name: str | None) -> str | None:
    value = os.environ.get(name, "").strip() if name else ""
    return value or None


def configured_llm(
    farm: FarmConfig | None = None,
    *,
    endpoint: str | None = None,
    kind: str | None = None,
    model: str | None = None,
) -> LLMConfig | None:
    """The LLM planner's settings: flags, then ``VIDEOFACTORY_LLM_*``, then the farm file;
    with no endpoint in any, Anthropic's API when the kind is ``anthropic`` or
    ``ANTHROPIC_API_KEY`` is set; None when nothing names an LLM.

    ``kind`` is ``anthropic`` for an endpoint on api.anthropic.com, else ``openai``; the
    model may stay empty (the server's first listed model is used).

    Raises:
        ConfigError: an LLM is half-named (a model, or kind openai, but no endpoint) or a bad
            value.
    """
    base = farm.llm.model_dump(exclude_unset=True) if farm is not None and farm.llm else {}
    merged: dict[str, Any] = dict(base)
    for key, flag, env in (
        ("endpoint", endpoint, LLM_URL_ENV),
        ("kind", kind, LLM_KIND_ENV),
        ("model", model, LLM_MODEL_ENV),
    ):
        value = flag or os.environ.get(env, "").strip() or None
        if value:
            merged[key] = value
    if not merged.get("endpoint") and merged.get("kind", "anthropic") == "anthropic":
        if merged.get("kind") == "anthropic" or _env_key(ANTHROPIC_KEY_ENV):
            merged |= {"kind": "anthropic", "endpoint": ANTHROPIC_ENDPOINT}
    if not merged:
        return None
    if not merged.get("endpoint"):
        raise ConfigError(
            "the LLM planner has no endpoint: pass --llm-url, set "
            f"{LLM_URL_ENV}, or add an 'llm:' section to factory.yaml "
            "(e.g. endpoint: http://localhost:11434/v1, model: llama3.1)"
        )
    if "kind" not in merged and urlsplit(str(merged["endpoint"])).hostname == "api.anthropic.com":
        merged["kind"] = "anthropic"
    try:
        config = LLMConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"LLM planner settings: {format_validation_error(exc)}") from exc
    names: tuple[str, ...] = (
        (config.api_key_env,) if config.api_key_env else _DEFAULT_KEY_ENVS[config.kind]
    )
    keys = [k for k in (_env_key(n) for n in names) if k]
    return config.model_copy(update={"api_key": keys[0] if keys else None})


def resolve_llm(
    farm: FarmConfig | None = None,
    *,
    endpoint: str | None = None,
    kind: str | None = None,
    model: str | None = None,
) -> LLMConfig:
    """``configured_llm``, for when an LLM is required (``--planner llm``).

    Raises:
        ConfigError: no endpoint anywhere, or a bad value.
    """
    config = configured_llm(farm, endpoint=endpoint, kind=kind, model=model)
    if config is None:
        raise ConfigError(
            "the LLM planner has no endpoint: pass --llm-url, set "
            f"{LLM_URL_ENV}, or add an 'llm:' section to factory.yaml "
            "(e.g. endpoint: http://localhost:11434/v1, model: llama3.1), or set "
            f"{ANTHROPIC_KEY_ENV} to plan with Anthropic's API"
        )
    return config


class DispatchConfig(_Strict):
    """How the dispatcher judges a worker: deadlines, probing, retries."""

    #: A job that shows no progress for max(floor, factor x its estimate) seconds is hung:
    #: its worker is taken out of rotation and the job goes elsewhere.
    progress_timeout_floor_s: float = Field(default=120.0, gt=0, le=86400)
    progress_timeout_factor: float = Field(default=4.0, ge=1.0, le=1000)
    #: Seconds between probes of a worker that is down (doubling up to 60 s).
    probe_interval_s: float = Field(default=2.0, gt=0, le=600)
    #: Attempts one task may take in all before the run fails.
    max_attempts: int = Field(default=8, ge=1, le=100)
    #: A ready task that no worker can take (all down, refusing or too small) for this long
    #: fails the run.
    no_worker_timeout_s: float = Field(default=300.0, gt=0, le=86400)
    #: A hero pass no worker can take waits while the rest of the film renders; once it is
    #: all that holds the film back, it waits this long for a GPU able to run it, then its
    #: shot goes out with the base clip (``resume RUN --heroes`` adds it later).
    hero_wait_s: float = Field(default=120.0, ge=0, le=86400)
    #: Smallest fraction of the planned width/height/frames a task may be shrunk to when
    #: no worker has the VRAM for it.
    min_scale: float = Field(default=0.5, gt=0, le=1)


class LauncherConfig(_Strict):
    """How `videofactory farm up` starts and looks after the managed workers (defaults for all).

    docs/farm-launcher.md describes every field; times are in seconds.
    """

    #: The farm's folder (state, logs, the servers' own folders), relative to the farm file.
    folder: str = "farm"
    #: The ComfyUI folder (with main.py) of every managed worker that names none.
    comfyui: str | None = None
    #: The Python that runs ComfyUI (default: <comfyui>/venv or .venv, else videofactory's).
    python: str | None = None
    #: ``--listen`` address(es); 0.0.0.0 opens the servers to the network.
    listen: str = "127.0.0.1"
    #: Allow a listen address other than loopback (ComfyUI has no authentication; see
    #: videofactory.exposure); without it `farm up` refuses one.
    i_know_this_is_exposed: bool = False
    #: The program part of the command line; the launcher appends ComfyUI's flags (--listen,
    #: --port, --cuda-device, the folders) and then extra_args. Placeholders: {python},
    #: {comfyui}, {id}, {port}, {listen}, {cuda_device}, {card}, {vram_gb}, {folder}.
    command: str | list[str] = "{python} {comfyui}/main.py"
    #: Arguments every managed server gets (before its own extra_args).
    extra_args: list[str] = Field(default_factory=list)
    #: Shared model folders (ComfyUI's models/ layout): written to an extra_model_paths.yaml.
    models: list[str] = Field(default_factory=list)
    #: Your own extra_model_paths.yaml, passed on as it is.
    extra_model_paths: str | None = None
    #: Pin the GPU with CUDA_VISIBLE_DEVICES=N instead of --cuda-device N.
    gpu_env: bool = False
    #: GPUs on this machine (default: counted with nvidia-smi; not checked when unknown).
    gpus: int | None = Field(default=None, ge=0, le=256)
    #: Drain and restart a server whose memory (RSS) passes this many GB.
    rss_limit_gb: float | None = Field(default=None, gt=0, le=4096)
    #: A server must answer /system_stats this soon after it was started.
    start_timeout_s: float = Field(default=300.0, gt=0, le=7200)
    #: Seconds between SIGTERM and SIGKILL when a server is stopped.
    stop_grace_s: float = Field(default=10.0, ge=0, le=600)
    #: How often each server is asked /system_stats and its memory measured.
    health_interval_s: float = Field(default=5.0, gt=0, le=600)
    #: A running server that answers nothing for this long is restarted.
    unresponsive_after_s: float = Field(default=60.0, gt=0, le=86400)
    #: Waits before restarting a server that died, one per restart in a row (the last repeats).
    restart_backoff_s: list[float] = Field(default_factory=lambda: [1.0, 2.0, 5.0, 10.0, 30.0])
    #: After this many restarts in a row (each up for less than stable_after_s) it is given up.
    max_restarts: int = Field(default=5, ge=0, le=1000)
    #: A server up this long has stopped crash-looping: its restart count in a row resets.
    stable_after_s: float = Field(default=120.0, gt=0, le=86400)
    #: A draining server whose queue is still not empty after this long is restarted at the
    #: next job boundary (the job that just started there is run again elsewhere).
    drain_timeout_s: float = Field(default=600.0, gt=0, le=86400)
    #: A drained server restarts after its queue has been empty this long (the orchestrator
    #: reads the last job's history and outputs first).
    drain_settle_s: float = Field(default=2.0, ge=0, le=600)
    #: Each server's log is rotated at this size, keeping log_keep old ones.
    log_max_mb: float = Field(default=20.0, gt=0, le=100_000)
    log_keep: int = Field(default=5, ge=1, le=1000)

    @field_validator("models", mode="before")
    @classmethod
    def _models_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("restart_backoff_s")
    @classmethod
    def _backoff(cls, value: list[float]) -> list[float]:
        if not value or any(v < 0 for v in value):
            raise ValueError("give one or more waits of 0 s or more, e.g. [1, 2, 5, 10, 30]")
        return value


class FarmConfig(_Strict):
    """A farm: its workers and its speech endpoint."""

    name: str = "farm"
    workers: list[WorkerConfig]
    speech: SpeechConfig = Field(default_factory=SpeechConfig)
    #: The LLM planner (``--planner llm``); the environment may give or override it.
    llm: LLMConfig | None = None
    #: Roles are hard constraints rather than preferences.
    strict: bool = False
    #: True for the built-in farm that videofactory starts itself.
    simulated: bool = False
    #: Deadlines, probing and retries.
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    #: Seconds of video one clip of the farm's scene workflow makes (Wan 2.2: 81 frames at
    #: 16 fps = 5 s); the planner makes about one shot per clip.
    clip_seconds: float = Field(
        default=DEFAULT_CLIP_SECONDS, ge=MIN_CLIP_SECONDS, le=MAX_CLIP_SECONDS
    )
    #: How `videofactory farm up` starts the workers marked ``managed: true``.
    launcher: LauncherConfig = Field(default_factory=LauncherConfig)

    @field_validator("workers", mode="before")
    @classmethod
    def _not_too_many(cls, workers: Any) -> Any:
        if isinstance(workers, list) and len(workers) > MAX_WORKERS:
            raise ValueError(
                f"{len(workers):,} workers, over the limit of {MAX_WORKERS} in one farm (one "
                "ComfyUI server per GPU); split it into several farm files"
            )
        return workers

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

    @model_validator(mode="after")
    def _speech_host(self) -> FarmConfig:
        host = self.speech.worker
        if host is not None:
            ids = [w.id for w in self.workers]
            if host not in ids:
                raise ValueError(f"speech.worker {host!r} is not a worker ({', '.join(ids)})")
            if self.speech.vram_gb >= self.worker(host).vram_gb:
                raise ValueError(
                    f"speech.vram_gb {self.speech.vram_gb:g} leaves nothing of {host}'s "
                    f"{self.worker(host).vram_gb:g} GB for ComfyUI"
                )
        return self

    @model_validator(mode="after")
    def _managed_ports(self) -> FarmConfig:
        """Give managed workers a port and a url from each other; no two servers on one port."""
        for w in self.workers:
            if not w.managed:
                continue
            if w.port is None and w.url:
                w.port = _url_port(w.url)
            if w.port is None:
                raise ValueError(f"worker {w.id} is managed: give it a port (e.g. port: 8189)")
            if not w.url:
                w.url = f"http://{_connect_host(w.listen or self.launcher.listen)}:{w.port}"
            elif _url_port(w.url) != w.port:
                raise ValueError(f"worker {w.id}: port {w.port} is not the port of url {w.url}")
        # A managed server's port must be its own on this machine (unmanaged workers may
        # share a server: that is their business).
        managed = {w.port: w.id for w in reversed(self.workers) if w.managed}
        for w in self.workers:
            local = w.managed or _is_loopback(urlsplit(w.url).hostname or "")
            port = w.port if w.managed else (_url_port(w.url) if w.url else None)
            owner = managed.get(port)
            if local and owner is not None and owner != w.id:
                raise ValueError(
                    f"workers {owner} and {w.id} both use port {port}; "
                    "give each managed server its own port"
                )
        unpinned = [w.id for w in self.workers if w.managed and w.cuda_device is None]
        if len(unpinned) > 1:
            raise ValueError(
                f"managed workers {', '.join(unpinned)} name no cuda_device; give each the "
                "index of its GPU (cuda_device: 0, 1, ...)"
            )
        return self

    def worker(self, worker_id: str) -> WorkerConfig:
        """The worker with this id."""
        for w in self.workers:
            if w.id == worker_id:
                return w
        raise ConfigError(f"no worker {worker_id!r} in the farm")

    def comfy_vram_gb(self, worker_id: str) -> float:
        """VRAM left for ComfyUI on a worker, after a speech server that shares its GPU."""
        vram = self.worker(worker_id).vram_gb
        return vram - self.speech.vram_gb if self.speech.worker == worker_id else vram


def _valid_url(value: str, what: str) -> str:
    """An http(s) base URL with a host, a port in 1..65535 and no whitespace or control
    characters (a CR/LF in a URL would be written into the HTTP request); trailing / dropped.

    Raises ValueError (pydantic turns it into the field's error); ``check_url`` wraps it.
    """
    bad = next((ch for ch in value if ch.isspace() or unicodedata.category(ch)[0] == "C"), None)
    if bad is not None:
        raise ValueError(
            f"{what} {value!r} contains {_char_name(bad)}; write the URL on one line, without "
            "spaces (e.g. http://127.0.0.1:8188)"
        )
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{what} must start with http:// or https:// (got {value!r})")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # a broken [IPv6] host
        raise ValueError(f"{what} {value!r} is not a URL ({exc})") from None
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(
            f"{what} {value!r} has a ?query or #fragment; give the server's base URL "
            "(e.g. http://127.0.0.1:8188)"
        )
    if not parts.hostname:
        raise ValueError(f"{what} {value!r} names no host; e.g. http://127.0.0.1:8188")
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = -1
    if port is not None and not MIN_PORT <= port <= MAX_PORT:
        raw = parts.netloc.rpartition(":")[2]
        raise ValueError(
            f"{what} {value!r} has port {raw}; a TCP port is {MIN_PORT} to {MAX_PORT} "
            "(ComfyUI's is 8188)"
        )
    return value.rstrip("/")


def _char_name(ch: str) -> str:
    names = {
        "\r": "a carriage return (CR)",
        "\n": "a line feed (LF)",
        "\t": "a tab",
        " ": "a space",
    }
    return names.get(ch, f"the control character U+{ord(ch):04X}")


def check_url(value: str, what: str = "url") -> str:
    """A server URL given on the command line, checked like the farm file's (ConfigError)."""
    try:
        return _valid_url(value, what)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _url_port(url: str) -> int:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return port or (443 if parts.scheme == "https" else 80)


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")


def _connect_host(listen: str) -> str:
    """Where to reach a server that listens on ``listen`` (the first specific address)."""
    for part in (p.strip() for p in listen.split(",")):
        if part and part not in ("0.0.0.0", "::"):
            return f"[{part}]" if ":" in part else part
    return "127.0.0.1"


def builtin_farm() -> FarmConfig:
    """The seed's six GPUs, as simulated ComfyUI servers (URLs are set when they start)."""
    # The seed's table, followed to the letter (keyframes on the control card, clips on the
    # workers, hero passes on the primary): the built-in farm shows the seed's pipeline. Farm
    # files default to roles as preferences.
    return FarmConfig(
        name="built-in simulated farm",
        simulated=True,
        strict=True,
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
        if path.is_dir():
            raise ConfigError(f"--farm {path} is a folder; pass the farm file{_inside(path)}")
        if not path.is_file():
            raise ConfigError(f"farm file {path} does not exist; check the --farm path")
        return path
    env = os.environ.get(FARM_ENV)
    if env:
        path = Path(env)
        if path.is_dir():
            raise ConfigError(f"{FARM_ENV}={env} is a folder; name the farm file{_inside(path)}")
        if not path.is_file():
            raise ConfigError(f"{FARM_ENV}={env} names no file; fix or unset it")
        return path
    local = (cwd or Path.cwd()) / FARM_FILENAME
    return local if local.is_file() else None


def _inside(folder: Path) -> str:
    """ ", e.g. DIR/factory.yaml" when the folder holds a farm file by the usual name."""
    found = folder / FARM_FILENAME
    return f", e.g. {found}" if found.is_file() else ""


def load_farm(path: Path) -> FarmConfig:
    """Read and validate a farm file; errors name the field and the file."""
    data = parse_yaml(read_text(path, "farm file", ConfigError), f"farm file {path}", ConfigError)
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
    for w in farm.workers:
        _anchor_workflows(w, path.parent)
    _anchor_launcher(farm, path.parent)
    return farm


def _anchor_launcher(farm: FarmConfig, base: Path) -> None:
    """Make the launcher's paths relative to the farm file, like the workflows."""

    def anchor(p: str | None, *, program: bool = False) -> str | None:
        if p is None or (program and "/" not in p and "\\" not in p):
            return p  # a program name ("python3") is looked up on PATH
        # Absolute: a server runs in its ComfyUI folder, not where `farm up` was typed.
        return str((base / Path(p).expanduser()).absolute())

    ln = farm.launcher
    ln.folder = anchor(ln.folder) or ln.folder
    ln.comfyui, ln.python = anchor(ln.comfyui), anchor(ln.python, program=True)
    ln.models = [anchor(m) or m for m in ln.models]
    ln.extra_model_paths = anchor(ln.extra_model_paths)
    for w in farm.workers:
        w.comfyui, w.python = anchor(w.comfyui), anchor(w.python, program=True)


def _anchor_workflows(worker: WorkerConfig, base: Path) -> None:
    """Make a worker's relative workflow and bindings paths relative to the farm file."""

    def anchor(p: str | None) -> str | None:
        return p if p is None or Path(p).expanduser().is_absolute() else str(base / p)

    for kind, value in list(worker.workflows.items()):
        if isinstance(value, str):
            if value.lower().endswith(".json"):
                worker.workflows[kind] = anchor(value) or value
        elif value.file:
            worker.workflows[kind] = value.model_copy(
                update={"file": anchor(value.file), "bindings": anchor(value.bindings)}
            )


def resolve_farm(flag: str | Path | None = None) -> FarmConfig:
    """The farm named by flag/env/cwd, or the built-in simulated farm when there is none."""
    path = find_farm_file(flag)
    return load_farm(path) if path else builtin_farm()


def format_validation_error(exc: ValidationError) -> str:
    """Render pydantic's errors as '<field path>: <reason>' joined by '; '."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
