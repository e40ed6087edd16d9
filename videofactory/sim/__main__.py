"""``python -m videofactory.sim``: one simulated ComfyUI server in the foreground.

Takes ComfyUI's own flags where they mean something here (--listen, --port, the directory flags,
--cuda-device, --disable-metadata, --max-upload-size) and accepts and ignores the rest (--cpu,
--highvram, --preview-method X ...), so a command line written for ComfyUI works unchanged.
When it listens it prints one JSON line ``{"event": "ready", "name", "url", "pid"}`` to stdout.
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

from videofactory.sim.options import SimOptions
from videofactory.sim.server import SimServer

__all__ = ["build_parser", "main"]


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
    for kind in ("output", "input", "temp", "base"):
        p.add_argument(f"--{kind}-directory", type=Path, default=None)
    p.add_argument("--cuda-device", type=int, default=0)
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
    args, _ignored = build_parser().parse_known_args(argv)
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
        base_directory=args.base_directory,
        output_directory=args.output_directory,
        input_directory=args.input_directory,
        temp_directory=args.temp_directory,
        disable_metadata=args.disable_metadata,
        max_upload_size_mb=args.max_upload_size,
    )
    return asyncio.run(serve(options, args.parent_pid))


if __name__ == "__main__":
    sys.exit(main())
