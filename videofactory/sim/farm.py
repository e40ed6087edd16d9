"""A local farm of simulated GPUs: one ``python -m videofactory.sim`` process per worker.

Each worker gets its own folder under the farm root (``<root>/<name>/{input,output,temp}``,
stderr in ``<root>/<name>/sim.log``) and its own port. Children watch their parent and exit
when it goes away, so a killed orchestrator never leaves servers behind. They run in their own
folder with ``python -P`` (``videofactory.pychild``): a ``json.py`` in the folder the farm was
started from is never imported. With a ``RestartPolicy`` the farm heals itself: a server that
exits is started again on its port (``videofactory.sim.healer``), as the built-in farm does.

    with SimFarm([SimWorkerSpec("gpu0", "RTX 5090", 32)], "sim-farm") as farm:
        farm.urls["gpu0"]  # "http://127.0.0.1:PORT"
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from videofactory.errors import BackendUnavailable, ConfigError
from videofactory.exposure import EXPOSED_FLAG, exposed_addresses, exposure_refusal
from videofactory.pychild import child_env, python_module
from videofactory.sim.faults import parse_fault_spec
from videofactory.sim.healer import Healer, OnRestart, RestartPolicy
from videofactory.sim.options import SimFaults

__all__ = [
    "RestartPolicy",
    "SimFarm",
    "SimWorkerSpec",
    "fault_args",
    "main_foreground",
    "with_faults",
]

#: Seconds a child has to print its ready line (importing numpy/PyAV cold can take a while).
READY_TIMEOUT_S = 60.0
#: Seconds between SIGTERM and SIGKILL when stopping.
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class SimWorkerSpec:
    """One simulated GPU of a farm."""

    name: str
    card: str
    vram_gb: float
    port: int = 0
    speed: float = 0.0
    #: Relative card speed for modelled GPU time (RTX 5090 1.0, 4080 Super 0.7, 3090 0.55).
    gpu_speed: float = 1.0
    #: Real seconds per modelled GPU second; 0 renders as fast as the CPU goes.
    time_scale: float = 0.0
    faults: SimFaults = field(default_factory=SimFaults)


#: SimFaults field -> flag of ``python -m videofactory.sim``.
_FAULT_FLAGS = {"slow_start_s": "--slow-start", "seed": "--fault-seed"}


def fault_args(faults: SimFaults) -> list[str]:
    """The command-line flags that give a child these faults (only those not at default)."""
    default = SimFaults()
    args: list[str] = []
    for f in fields(faults):
        value = getattr(faults, f.name)
        if value != getattr(default, f.name):
            args += [_FAULT_FLAGS.get(f.name, "--" + f.name.replace("_", "-")), str(value)]
    return args


def with_faults(
    specs: Sequence[SimWorkerSpec], common: Mapping[str, Any], targeted: Sequence[str] = ()
) -> list[SimWorkerSpec]:
    """Give every worker the ``common`` faults, then apply ``WORKER:NAME=VALUE[,...]`` ones.

    Raises ConfigError naming a bad fault, value or worker.
    """
    faults = {s.name: s.faults.updated(common) for s in specs}
    for text in targeted:
        name, sep, rest = text.partition(":")
        if not sep or name.strip() not in faults:
            known = ", ".join(faults)
            raise ConfigError(
                f"bad --fault {text!r}: write WORKER:NAME=VALUE (e.g. gpu2:crash_after=3) "
                f"with WORKER one of {known}"
            )
        name = name.strip()
        faults[name] = faults[name].updated(parse_fault_spec(rest))
    return [replace(s, faults=faults[s.name]) for s in specs]


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:].strip()


class SimFarm:
    """Start, watch (and with ``restart``, heal) and stop a set of simulated ComfyUI servers
    (a sync context manager).

    ``listen`` other than loopback needs ``exposed_ok`` (``videofactory.exposure``); ``on_event``
    hears each restart, return and give-up of a healing farm (from its watching threads).
    """

    def __init__(
        self,
        specs: Sequence[SimWorkerSpec],
        root: str | os.PathLike[str],
        *,
        listen: str = "127.0.0.1",
        ready_timeout: float = READY_TIMEOUT_S,
        stop_grace: float = STOP_GRACE_S,
        extra_args: Sequence[str] = (),
        restart: RestartPolicy | None = None,
        on_event: OnRestart | None = None,
        exposed_ok: bool = False,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"worker names must be unique: {names}")
        if exposed_addresses(listen) and not exposed_ok:
            raise ConfigError(exposure_refusal(listen))
        self.specs = list(specs)
        # Absolute: the children run in their own folders.
        self.root = Path(root).absolute()
        self.listen = listen
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.extra_args = list(extra_args)
        self.restart = restart
        self.on_event = on_event
        self.urls: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen[str]] = {}
        #: Set by ``stop()``: no server is started (or restarted) any more.
        self.stopping = threading.Event()
        self._lines: dict[str, queue.Queue[str | None]] = {}
        self._launching = threading.Lock()
        self._healer: Healer | None = None

    def folder(self, name: str) -> Path:
        """The base directory of one worker."""
        return self.root / name

    def argv(self, spec: SimWorkerSpec) -> list[str]:
        """The command line of one worker."""
        exposed = [EXPOSED_FLAG] if exposed_addresses(self.listen) else []
        return [
            *python_module("videofactory.sim"),
            "--listen",
            self.listen,
            *exposed,
            "--port",
            str(spec.port),
            "--name",
            spec.name,
            "--card",
            spec.card,
            "--vram-gb",
            str(spec.vram_gb),
            "--speed",
            str(spec.speed),
            "--gpu-speed",
            str(spec.gpu_speed),
            "--time-scale",
            str(spec.time_scale),
            *fault_args(spec.faults),
            "--base-directory",
            str(self.folder(spec.name)),
            "--parent-pid",
            str(os.getpid()),
            *self.extra_args,
        ]

    def start(self) -> SimFarm:
        """Launch every worker and wait for all ready lines; raise BackendUnavailable if not."""
        try:
            for spec in self.specs:
                self._launch(spec)
            # A slow start (fault) is on purpose: it does not count against the timeout.
            slow = max((s.faults.slow_start_s for s in self.specs), default=0.0)
            deadline = time.monotonic() + self.ready_timeout + slow
            for spec in self.specs:
                self.urls[spec.name] = self._wait_ready(spec, deadline)
        except BaseException:
            self.stop()
            raise
        if self.restart is not None:
            self._healer = Healer(self, self.restart, self.on_event)
            self._healer.start()
        return self

    def relaunch(self, name: str) -> str:
        """Start a worker that exited again, on the port it had; returns its (same) URL.

        Raises BackendUnavailable when it does not come up (the process is then stopped).
        """
        spec = next(s for s in self.specs if s.name == name)
        url = self.urls[name]
        spec = replace(spec, port=urlsplit(url).port or spec.port)
        try:
            self._launch(spec)
        except OSError as exc:  # no process at all (out of file descriptors, of memory)
            raise BackendUnavailable(f"cannot start simulated worker {name}: {exc}") from exc
        deadline = time.monotonic() + self.ready_timeout + spec.faults.slow_start_s
        try:
            return self._wait_ready(spec, deadline)
        except BaseException:
            proc = self.processes[name]
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise

    def lost(self) -> set[str]:
        """Workers that are down for good: exited, and not to be restarted."""
        return {
            name
            for name, ok in self.alive().items()
            if not ok and (self._healer is None or not self._healer.restarting(name))
        }

    def _launch(self, spec: SimWorkerSpec) -> None:
        folder = self.folder(spec.name)
        folder.mkdir(parents=True, exist_ok=True)
        # The children import this very package, installed or not, and never a module of
        # the folder we were started from: they run in their own, with -P.
        with self._launching:
            if self.stopping.is_set():
                raise BackendUnavailable(f"simulated worker {spec.name}: the farm is stopping")
            with open(folder / "sim.log", "ab") as log:
                proc = subprocess.Popen(
                    self.argv(spec),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    bufsize=1,
                    env=child_env(),
                    cwd=folder,
                    start_new_session=True,
                )  # our Ctrl-C is not theirs
            old = self.processes.get(spec.name)
            self.processes[spec.name] = proc
            lines: queue.Queue[str | None] = queue.Queue()
            self._lines[spec.name] = lines
        if old is not None and old.stdout is not None:
            old.stdout.close()  # it exited: its pump has read its last line
        threading.Thread(
            target=_pump_lines, args=(proc.stdout, lines), daemon=True, name=f"sim-farm-{spec.name}"
        ).start()

    def _wait_ready(self, spec: SimWorkerSpec, deadline: float) -> str:
        proc = self.processes[spec.name]
        lines = self._lines[spec.name]
        while True:
            if self.stopping.is_set():
                raise BackendUnavailable(f"simulated worker {spec.name}: the farm is stopping")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendUnavailable(
                    f"simulated worker {spec.name} did not report ready within "
                    f"{self.ready_timeout:.0f}s; log tail:\n"
                    f"{_tail(self.folder(spec.name) / 'sim.log')}"
                )
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:  # stdout closed: the child died
                code = proc.wait(timeout=self.stop_grace)
                raise BackendUnavailable(
                    f"simulated worker {spec.name} exited with code {code} before it was ready:\n"
                    f"{_tail(self.folder(spec.name) / 'sim.log')}"
                )
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("event") == "ready":
                return str(event["url"])

    def stop(self) -> None:
        """SIGTERM every worker, SIGKILL those still alive after the grace period, reap all."""
        with self._launching:
            self.stopping.set()  # no restart starts after this
        if self._healer is not None:
            # A restart in progress gives up at once (its waits watch ``stopping``).
            self._healer.join(timeout=self.stop_grace + 5.0)
        with self._launching:
            procs = list(self.processes.values())
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def set_faults(self, name: str, **changes: object) -> dict[str, object]:
        """Change one worker's faults at runtime (POST /sim/faults); returns them."""
        answer = httpx.post(f"{self.urls[name]}/sim/faults", json=changes, timeout=10)
        if answer.status_code != 200:
            raise ConfigError(f"{name}: {answer.json().get('error', answer.text)}")
        return dict(answer.json())

    def alive(self) -> dict[str, bool]:
        """Which workers are still running."""
        return {name: proc.poll() is None for name, proc in self.processes.items()}

    def __enter__(self) -> SimFarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pump_lines(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    """Forward a child's stdout lines (and drain it so the child never blocks on a full pipe)."""
    if stream is None:
        lines.put(None)
        return
    try:
        for line in stream:
            lines.put(line)
    except (OSError, ValueError):  # closed by stop()
        pass
    lines.put(None)


def _print_ready(urls: dict[str, str]) -> None:
    for name, url in urls.items():
        print(f"{name}: {url}  (videofactory simulator)", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def main_foreground(
    specs: Sequence[SimWorkerSpec],
    root: str | os.PathLike[str],
    *,
    on_ready: Callable[[dict[str, str]], None] | None = None,
    listen: str = "127.0.0.1",
    exposed_ok: bool = False,
    restart: RestartPolicy | None = None,
) -> int:
    """Run a farm until Ctrl-C / SIGTERM (or every worker is down for good); returns an exit
    code. With ``restart`` a worker that exits is started again (each restart is printed)."""
    farm = SimFarm(
        specs,
        root,
        listen=listen,
        exposed_ok=exposed_ok,
        restart=restart,
        on_event=_print_restart,
    )
    stopping = threading.Event()

    def on_term(signum: int, frame: object) -> None:
        # Set from another thread: the handler runs in the main thread between two bytecodes,
        # maybe inside ``stopping.wait`` while it holds the event's lock, and ``set`` there
        # would wait for that lock for ever.
        threading.Thread(target=stopping.set, name="stop", daemon=True).start()

    # Ctrl-C sets the event too, rather than raising KeyboardInterrupt wherever the main
    # thread happens to be: inside Popen.poll() it can leave the process's wait lock taken,
    # and the stop that follows then waits for ever.
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.signal(s, on_term) for s in stop_signals} if _main_thread() else {}
    try:
        with farm:
            (on_ready or _print_ready)(dict(farm.urls))
            reported: set[str] = set()
            while not stopping.wait(0.5):
                lost = farm.lost()
                for name in sorted(lost - reported):
                    reported.add(name)
                    if restart is None:  # a healing farm printed why it gave up
                        print(
                            f"{name} exited (log: {farm.folder(name) / 'sim.log'})",
                            file=sys.stderr,
                            flush=True,
                        )
                if len(lost) == len(specs):
                    return 1
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _print_restart(event: str, record: dict[str, Any]) -> None:
    """A healing farm's restart, return or give-up, as one line on stderr."""
    name = record.get("worker", "")
    if event == "restart":
        text = f"{name}: restart {record['restart']} ({record['cause']}): {record['detail']}"
    elif event == "up":
        text = f"{name}: back up (pid {record['pid']}) at {record['url']}"
    else:
        text = str(record.get("detail", f"{name}: {event}"))
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
