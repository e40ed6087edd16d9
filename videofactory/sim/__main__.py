"""``python -m videofactory.sim``: one simulated ComfyUI server in the foreground.

Takes ComfyUI's own flags where they mean something here (--listen, --port, the directory flags,
--cuda-device, --cpu, --disable-metadata, --max-upload-size) and accepts and ignores the rest
(--highvram, --preview-method X ...), so a command line written for ComfyUI works unchanged.
When it listens it prints one JSON line ``{"event": "ready", "name", "url", "pid"}`` to stdout.
A --listen address other than loopback is refused without --i-know-this-is-exposed (see
``videofactory.exposure``): like ComfyUI, the server has no authentication.
Simulator-only flags set the simulated card (--name, --card, --vram-gb, --gpu-speed), its time
(--speed, --time-scale) and injected faults (--fail-rate ... --fault-seed, see SimFaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from videofactory.errors import ConfigError
from videofactory.exposure import (
    EXPOSED_ENV,
    EXPOSED_FLAG,
    exposed_addresses,
    exposed_allowed,
    exposure_refusal,
    exposure_warning,
)
from videofactory.sim.options import SimFaults, SimOptions, check_ports
from videofactory.sim.server import SimServer

__all__ = ["FAULT_FLAGS", "build_parser", "main"]

#: Fault flags: (flag, SimFaults field, help). Values are checked by SimFaults.
FAULT_FLAGS = (
    ("--fail-rate", "fail_rate", "chance a prompt fails with a CUDA error in its render node"),
    ("--oom-above-gb", "oom_above_gb", "out of memory when a prompt needs more VRAM than this"),
    (
        "--oom-kill-above-gb",
        "oom_kill_above_gb",
        "the process is killed (as by the kernel's OOM killer) when a prompt needs more than this",
    ),
    ("--hang-rate", "hang_rate", "chance a render node hangs mid-way (until /interrupt)"),
    ("--hang-after", "hang_after", "the prompt after this many hangs"),
    (
        "--crash-after",
        "crash_after",
        "the process dies in the middle of the prompt after this many",
    ),
    ("--drop-ws-rate", "drop_ws_rate", "chance every websocket is cut mid-prompt"),
    (
        "--corrupt-rate",
        "corrupt_rate",
        "chance saved files are overwritten with bytes that do not decode",
    ),
    (
        "--http-error-rate",
        "http_error_rate",
        "chance an HTTP request is answered 500 (half of them after taking effect)",
    ),
    ("--slow-start", "slow_start_s", "seconds to wait before listening"),
    ("--leak-mb-per-job", "leak_mb_per_job", "megabytes each prompt leaves behind (RSS grows)"),
    ("--fault-seed", "seed", "seed of the fault draws (with the worker name)"),
)


def build_parser() -> argparse.ArgumentParser:
    """The command line (unknown flags are left for parse_known_args to ignore)."""
    p = argparse.ArgumentParser(
        prog="python -m videofactory.sim",
        allow_abbrev=False,
        description="A ComfyUI-compatible server that renders real media on the CPU "
        "(videofactory simulator; no model weights).",
        epilog="Example: python -m videofactory.sim --port 8188 --name gpu0 --card 'RTX 5090' "
        "--vram-gb 32 --base-directory sim-farm/gpu0",
    )
    p.add_argument(
        "--listen",
        nargs="?",
        const="0.0.0.0,::",
        default="127.0.0.1",
        help="address(es) to listen on, comma separated (default 127.0.0.1)",
    )
    p.add_argument(
        EXPOSED_FLAG,
        dest="exposed_ok",
        action="store_true",
        help="allow a --listen address other than loopback: the server has no authentication, "
        f"like ComfyUI (the farm launcher says so with {EXPOSED_ENV}=1)",
    )
    p.add_argument("--port", type=int, default=8188, help="TCP port; 0 picks a free one")
    p.add_argument("--name", default="gpu0", help="worker name (simulator only)")
    p.add_argument("--card", default="RTX 5090", help="simulated GPU model (simulator only)")
    p.add_argument("--vram-gb", type=float, default=32.0, help="simulated VRAM (simulator only)")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="seconds of simulated GPU time per megapixel-step (simulator only)",
    )
    p.add_argument(
        "--gpu-speed",
        type=float,
        default=1.0,
        help="relative speed of the simulated card: RTX 5090 1.0, 3090 0.55 (simulator only)",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=0.0,
        help="real seconds per modelled GPU second of the render nodes; 0 = as fast as the CPU "
        "(simulator only)",
    )
    faults = p.add_argument_group("fault injection (simulator only)")
    for flag, name, text in FAULT_FLAGS:
        faults.add_argument(flag, dest=f"fault_{name}", default=None, metavar="N", help=text)
    for kind in ("output", "input", "temp", "base"):
        p.add_argument(f"--{kind}-directory", type=Path, default=None)
    p.add_argument("--cuda-device", type=int, default=0)
    p.add_argument(
        "--cpu",
        action="store_true",
        help="run 'on the CPU' like ComfyUI --cpu: /system_stats reports a cpu device whose "
        "memory (--vram-gb) is RAM",
    )
    p.add_argument("--disable-metadata", action="store_true")
    p.add_argument("--max-upload-size", type=float, default=100.0, help="MB")
    p.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="exit when this process is no longer our parent (simulator only)",
    )
    return p


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    # A SIGKILLed parent cannot stop us; being re-parented tells us it is gone.
    while not stop.is_set():
        if os.getppid() != parent_pid:
            logging.getLogger("videofactory.sim").warning(
                "parent %s went away; exiting", parent_pid
            )
            stop.set()
            return
        await asyncio.sleep(0.5)


async def serve(options: SimOptions, parent_pid: int | None = None) -> int:
    """Run until SIGTERM/SIGINT (or the parent dies); returns the exit code."""
    server = SimServer(options)
    server.crash_hard = True  # a crash fault kills this process, like a segfault or OOM kill
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Handlers go in before the ready line: whoever reads it may signal us at once.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await server.start()
    except OSError as exc:
        print(
            f"videofactory.sim: cannot listen on {options.listen}:{options.port}: {exc}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    print(
        json.dumps({"event": "ready", "name": options.name, "url": url, "pid": os.getpid()}),
        flush=True,
    )
    watcher = loop.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    await server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = build_parser()
    args, _ignored = parser.parse_known_args(argv)
    changes = {
        name: getattr(args, f"fault_{name}")
        for _, name, _ in FAULT_FLAGS
        if getattr(args, f"fault_{name}") is not None
    }
    try:
        faults = SimFaults().updated(changes)
        if args.gpu_speed <= 0 or args.time_scale < 0:
            raise ConfigError("--gpu-speed must be positive and --time-scale 0 or more")
        check_ports(args.port)
    except ConfigError as exc:
        parser.error(str(exc))
    if exposed_addresses(args.listen):
        if not exposed_allowed(args.exposed_ok):
            print(f"{parser.prog}: error: {exposure_refusal(args.listen)}", file=sys.stderr)
            return 2
        print(f"{parser.prog}: warning: {exposure_warning(args.listen)}", file=sys.stderr)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {args.name} %(levelname)s %(message)s",
    )
    options = SimOptions(
        name=args.name,
        card=args.card,
        vram_gb=args.vram_gb,
        speed=args.speed,
        listen=args.listen,
        port=args.port,
        cuda_device=args.cuda_device,
        cpu=args.cpu,
        base_directory=args.base_directory,
        output_directory=args.output_directory,
        input_directory=args.input_directory,
        temp_directory=args.temp_directory,
        disable_metadata=args.disable_metadata,
        max_upload_size_mb=args.max_upload_size,
        gpu_speed=args.gpu_speed,
        time_scale=args.time_scale,
        faults=faults,
    )
    return asyncio.run(serve(options, args.parent_pid))


if __name__ == "__main__":
    sys.exit(main())
