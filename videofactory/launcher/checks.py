"""Checks before anything is started: one clear line per problem, naming the worker and the fix.

A ComfyUI folder that is not one, a Python that is not there, a port something else holds,
a GPU index this machine does not have, a url on another machine, a listen address open to
the network that the farm file did not allow: all found here, before any server is started,
so that a bad farm file never leaves half a farm running.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from videofactory.config import FarmConfig
from videofactory.exposure import (
    EXPOSED_FLAG,
    EXPOSED_SETTING,
    exposed_addresses,
    exposure_refusal,
    exposure_warning,
)
from videofactory.launcher.plan import ServerSpec

__all__ = ["count_gpus", "exposure_warnings", "port_problem", "preflight"]

#: How a farm file says that its servers may listen beyond this machine.
EXPOSED_HOW = (
    f"set launcher.{EXPOSED_SETTING}: true in the farm file (or pass {EXPOSED_FLAG} to farm up)"
)

#: nvidia-smi answers in well under a second; a wedged driver must not hang `farm up`.
NVIDIA_SMI_TIMEOUT_S = 10.0


def count_gpus() -> int | None:
    """The NVIDIA GPUs of this machine (``nvidia-smi -L``), or None when unknown.

    ComfyUI's ``--cuda-device N`` sets CUDA_VISIBLE_DEVICES=N itself, so N counts all of them.
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))


def _local_addresses() -> set[str]:
    addresses = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", socket.gethostname()}
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            addresses.add(entry.address.split("%")[0])
    return addresses


def port_problem(spec: ServerSpec, ours: Iterable[int] = ()) -> str:
    """Why a server cannot listen on its port, or "" when it can.

    ``ours`` are the process ids of servers this farm already runs (theirs is no problem).
    """
    hosts = [h.strip() for h in spec.listen.split(",") if h.strip()] or ["127.0.0.1"]
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As a server does: a port in TIME_WAIT after a stop is free to listen on.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, spec.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return _taken(spec)
                if exc.errno == errno.EADDRNOTAVAIL:
                    return (
                        f"{spec.id}: listen address {host} is not an address of this machine; "
                        "fix listen: in the farm file"
                    )
                if exc.errno == errno.EACCES:
                    return (
                        f"{spec.id}: port {spec.port} needs root privileges; use a port above 1023"
                    )
                return f"{spec.id}: cannot listen on {host}:{spec.port}: {exc.strerror or exc}"
    return ""


def _taken(spec: ServerSpec) -> str:
    from videofactory.comfy.probe import is_comfyui

    who = (
        "a ComfyUI server that `farm up` did not start"
        if is_comfyui(spec.url, timeout=2.0)
        else "another program"
    )
    return (
        f"{spec.id}: port {spec.port} is already taken by {who}; stop it or give {spec.id} "
        "another port in the farm file"
    )


def _comfyui_problem(spec: ServerSpec) -> str:
    folder = spec.comfyui
    if folder is None:
        return ""
    if not folder.is_dir():
        return (
            f"{spec.id}: ComfyUI folder {folder} does not exist; set comfyui: to the folder "
            "you cloned ComfyUI into"
        )
    if not (folder / "main.py").is_file() or not (folder / "comfy").is_dir():
        return (
            f"{spec.id}: {folder} is not a ComfyUI folder (no main.py and comfy/ in it); set "
            "comfyui: to the folder you cloned ComfyUI into"
        )
    return ""


def _program_problem(spec: ServerSpec) -> str:
    program = spec.argv[0]
    if "/" in program or os.sep in program:
        path = Path(program).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            what = "Python" if program == spec.python else "program"
            return (
                f"{spec.id}: {what} {program} does not exist or is not executable; fix "
                "python: (or command:) in the farm file"
            )
        return ""
    if shutil.which(program) is None:
        return f"{spec.id}: {program} is not on PATH; give its full path in the farm file"
    return ""


def _by_line(lines: Iterable[tuple[str, str]]) -> list[str]:
    """(worker, line) pairs as one line per distinct line, naming its workers."""
    shared: dict[str, list[str]] = {}
    for wid, line in lines:
        shared.setdefault(line, []).append(wid)
    return [f"{', '.join(ids)}: {line}" for line, ids in shared.items()]


def exposure_warnings(specs: Sequence[ServerSpec]) -> list[str]:
    """One line per listen address open to the network, naming its servers."""
    exposed = [s for s in specs if exposed_addresses(s.listen)]
    return _by_line((s.id, exposure_warning(s.listen)) for s in exposed)


def preflight(
    farm: FarmConfig,
    specs: Sequence[ServerSpec],
    *,
    gpus: int | None = None,
    running: dict[str, int] | None = None,
) -> list[str]:
    """Every problem that would stop a server from starting, one line each.

    ``gpus`` is the number of GPUs (None: unknown, indexes not checked); ``running`` maps
    the ids of servers this farm already runs to their process ids (their ports are theirs).
    """
    running = running or {}
    problems: list[str] = []
    local = None
    # Workers sharing a ComfyUI folder (or a Python) share its problem: one line for all.
    problems += _by_line(
        (spec.id, line.split(": ", 1)[1])
        for spec in specs
        for line in (_comfyui_problem(spec) if spec.uses_comfyui else "", _program_problem(spec))
        if line
    )
    if not farm.launcher.i_know_this_is_exposed:
        problems += _by_line(
            (spec.id, exposure_refusal(spec.listen, EXPOSED_HOW))
            for spec in specs
            if exposed_addresses(spec.listen)
        )
    for spec in specs:
        if gpus is not None and spec.cuda_device is not None and spec.cuda_device >= gpus:
            has = {0: "no GPU", 1: "1 GPU (0)"}.get(gpus, f"{gpus} GPUs (0-{gpus - 1})")
            problems.append(
                f"{spec.id}: GPU {spec.cuda_device} does not exist; this machine has {has}"
            )
        host = urlsplit(spec.url).hostname or ""
        local = local if local is not None else _local_addresses()
        if host not in local:
            problems.append(
                f"{spec.id}: url {spec.url} is on another machine; `farm up` starts servers "
                "on this machine only (run it there, or give a local url)"
            )
        if spec.id not in running:
            problems.append(port_problem(spec))
    for model in farm.launcher.models:
        if not Path(model).is_dir():
            problems.append(f"launcher.models: {model} is not a folder")
    extra = farm.launcher.extra_model_paths
    if extra and not Path(extra).is_file():
        problems.append(f"launcher.extra_model_paths: {extra} does not exist")
    return [p for p in problems if p]
