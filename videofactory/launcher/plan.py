"""What the launcher starts (pure): one command line, environment and set of folders per server.

A managed worker's server is started as ``<command template> <ComfyUI flags> <extra args>``:
the template (farm file ``command:``, default ``{python} {comfyui}/main.py``) is the program,
and the launcher appends the flags every ComfyUI understands (and the simulator accepts)::

    --listen 127.0.0.1 --port 8189 --cuda-device 1
    --output-directory farm/workers/gpu1/output --input-directory .../input
    --temp-directory .../temp --user-directory .../user
    [--extra-model-paths-config farm/extra_model_paths.yaml ...] --disable-auto-launch

No ``--base-directory``: that would move ComfyUI's models/ and custom_nodes/ away from the
ComfyUI folder, which all servers share.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from videofactory.config import FarmConfig, WorkerConfig
from videofactory.errors import ConfigError
from videofactory.exposure import EXPOSED_ENV, exposed_addresses

__all__ = [
    "EXTRA_MODEL_PATHS",
    "PLACEHOLDERS",
    "ServerSpec",
    "build_spec",
    "build_specs",
    "default_python",
    "extra_model_paths_yaml",
    "managed_workers",
]

#: Names a command template may use, each between braces.
PLACEHOLDERS = (
    "python",
    "comfyui",
    "id",
    "port",
    "listen",
    "cuda_device",
    "card",
    "vram_gb",
    "folder",
)
#: The shared model folders file the launcher writes into the farm folder.
EXTRA_MODEL_PATHS = "extra_model_paths.yaml"
#: Each server's own folders, under <farm folder>/workers/<id>/.
SERVER_DIRS = ("output", "input", "temp", "user")


@dataclass(frozen=True)
class ServerSpec:
    """Everything needed to start, reach and judge one managed server."""

    id: str
    argv: tuple[str, ...]
    #: Variables added to the launcher's own environment.
    env: Mapping[str, str]
    #: Where the server is reached (the worker's url).
    url: str
    port: int
    listen: str
    cuda_device: int | None
    #: The worker's folder: its output/input/temp/user folders are inside.
    folder: Path
    log: Path
    comfyui: Path | None
    python: str
    #: Whether the command needs the ComfyUI folder (the template names {comfyui}).
    uses_comfyui: bool
    card: str = ""
    rss_limit_bytes: int | None = None
    dirs: Mapping[str, Path] = field(default_factory=dict)


def managed_workers(farm: FarmConfig) -> list[WorkerConfig]:
    """The workers ``farm up`` starts, in farm order."""
    return [w for w in farm.workers if w.managed]


def default_python(comfyui: Path | None) -> str:
    """ComfyUI's own virtual environment when it has one, else the Python running us."""
    if comfyui is not None:
        for venv in ("venv", ".venv"):
            for exe in ("bin/python", "Scripts/python.exe"):
                candidate = comfyui / venv / exe
                if candidate.exists():
                    return str(candidate)
    return sys.executable


def build_specs(
    farm: FarmConfig,
    folder: Path,
    *,
    find_python: Callable[[Path | None], str] = default_python,
) -> list[ServerSpec]:
    """The servers of every managed worker of ``farm``, whose farm folder is ``folder``.

    Raises:
        ConfigError: a command template that cannot be filled in.
    """
    return [build_spec(farm, w, folder, find_python=find_python) for w in managed_workers(farm)]


def build_spec(
    farm: FarmConfig,
    worker: WorkerConfig,
    folder: Path,
    *,
    find_python: Callable[[Path | None], str] = default_python,
) -> ServerSpec:
    """The server of one managed worker (see the module docstring for its command line)."""
    ln = farm.launcher
    comfy_text = worker.comfyui or ln.comfyui
    comfyui = Path(comfy_text).expanduser() if comfy_text else None
    python = worker.python or ln.python or find_python(comfyui)
    listen = worker.listen or ln.listen
    port = worker.port
    assert port is not None, "FarmConfig gives every managed worker a port"
    home = folder / "workers" / worker.id
    dirs = {name: home / name for name in SERVER_DIRS}
    template = worker.command if worker.command is not None else ln.command
    tokens = shlex.split(template) if isinstance(template, str) else list(template)
    if not tokens:
        raise ConfigError(f"worker {worker.id}: the command template is empty")
    values = {
        "python": python,
        "comfyui": str(comfyui) if comfyui else "",
        "id": worker.id,
        "port": str(port),
        "listen": listen,
        "cuda_device": "" if worker.cuda_device is None else str(worker.cuda_device),
        "card": worker.card,
        "vram_gb": f"{worker.vram_gb:g}",
        "folder": str(home),
    }
    uses_comfyui = any("{comfyui}" in t for t in tokens)
    if uses_comfyui and comfyui is None:
        raise ConfigError(
            f"worker {worker.id}: no ComfyUI folder; set launcher.comfyui (or the worker's "
            "comfyui:) to the folder you cloned ComfyUI into"
        )
    argv = [_fill(t, values, worker.id) for t in tokens]
    argv += ["--listen", listen, "--port", str(port)]
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1"}
    if worker.cuda_device is not None:
        if ln.gpu_env:
            env["CUDA_VISIBLE_DEVICES"] = str(worker.cuda_device)
        else:
            argv += ["--cuda-device", str(worker.cuda_device)]
    for name in SERVER_DIRS:
        argv += [f"--{name}-directory", str(dirs[name])]
    if ln.models:
        argv += ["--extra-model-paths-config", str(folder / EXTRA_MODEL_PATHS)]
    if ln.extra_model_paths:
        argv += ["--extra-model-paths-config", ln.extra_model_paths]
    argv += ["--disable-auto-launch", *ln.extra_args, *worker.extra_args]
    if len(argv) > 1 and argv[1] == "-m":
        # `{python} -m videofactory.sim`: Python 3.11+ puts nothing of the folder `farm up` was
        # typed in before the standard library (an older Python ignores the variable).
        env["PYTHONSAFEPATH"] = "1"
    if ln.i_know_this_is_exposed and exposed_addresses(listen):
        env[EXPOSED_ENV] = "1"  # a simulator standing in for ComfyUI: the farm file said yes
    env.update(worker.env)
    limit = worker.rss_limit_gb or ln.rss_limit_gb
    return ServerSpec(
        id=worker.id,
        argv=tuple(argv),
        env=env,
        url=worker.url,
        port=port,
        listen=listen,
        cuda_device=worker.cuda_device,
        folder=home,
        log=folder / "logs" / f"{worker.id}.log",
        comfyui=comfyui,
        python=python,
        uses_comfyui=uses_comfyui,
        card=worker.card,
        rss_limit_bytes=None if limit is None else int(limit * 1024**3),
        dirs=dirs,
    )


def _fill(token: str, values: Mapping[str, str], worker: str) -> str:
    try:
        return token.format_map(values)
    except KeyError as exc:
        raise ConfigError(
            f"worker {worker}: the command template names {{{exc.args[0]}}}; it may use "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        ) from None
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"worker {worker}: cannot fill in the command template at {token!r} ({exc}); "
            "write a literal brace as {{ or }}"
        ) from None


def extra_model_paths_yaml(models: Sequence[Path], subfolders: Mapping[Path, Sequence[str]]) -> str:
    """ComfyUI's extra_model_paths.yaml for shared model folders laid out like models/.

    ``subfolders`` gives each folder's subfolders (checkpoints, loras, vae, ...): each becomes
    a model folder name of that section, as ComfyUI's own example file does.
    """
    doc: dict[str, dict[str, object]] = {}
    for i, base in enumerate(models):
        section: dict[str, object] = {"base_path": str(base)}
        if i == 0:
            section["is_default"] = True  # downloads by custom nodes land in the shared folder
        for name in sorted(subfolders.get(base, ())):
            section[name] = f"{name}/"
        doc[f"videofactory_{i}"] = section
    header = "# Written by `videofactory farm up` from the farm file's launcher.models.\n"
    return header + str(yaml.safe_dump(doc, sort_keys=False))


def model_subfolders(models: Sequence[Path]) -> dict[Path, list[str]]:
    """Each shared model folder's subfolders (I/O: lists the folders)."""
    found: dict[Path, list[str]] = {}
    for base in models:
        try:
            found[base] = sorted(p.name for p in base.iterdir() if p.is_dir())
        except OSError:
            found[base] = []
    return found


def environment(spec: ServerSpec, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full environment a server starts with: ours plus the spec's additions."""
    env = dict(os.environ if base is None else base)
    env.update(spec.env)
    return env
