"""``videofactory farm up|down|status``: the farm launcher's commands (a typer sub-app).

Built by ``farm_app(errors, out, err)`` so that it shares the main command's error handling
and consoles without importing it (the main command registers it last).
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from videofactory.cli.options import FARM_GROUP_HELP, example

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["farm_app", "farm_table"]

FARM_HELP = (
    "Farm file (default: $VIDEOFACTORY_FARM, then ./factory.yaml); its workers marked "
    "managed: true are the servers this starts."
)


def _load(farm: str | None) -> tuple[Any, Path]:
    from videofactory.config import find_farm_file, load_farm
    from videofactory.errors import ConfigError

    path = find_farm_file(farm)
    if path is None:
        raise ConfigError(
            "no farm file: pass --farm, set VIDEOFACTORY_FARM, or write ./factory.yaml with "
            "workers marked managed: true (docs/farm-launcher.md)"
        )
    return load_farm(path), path


def _size(n: int | None) -> str:
    return "" if n is None else f"{n / 1024**3:.2f} GB"


def _uptime(s: float | None) -> str:
    if s is None:
        return ""
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def farm_table(status: dict[str, Any]) -> "Table":
    """The farm as a table: each worker's process beside its ComfyUI state."""
    from rich.table import Table

    sup = status["supervisor"]
    title = f"{status['farm']} ({status['folder']}): supervisor " + (
        f"pid {sup['pid']}, {sup['phase']}" if sup["running"] else "not running"
    )
    table = Table(
        "worker", "GPU", "url", "process", "PID", "uptime", "RSS", "restarts", "last exit",
        "ComfyUI", "queue", "device", title=title,
    )  # fmt: skip
    for r in status["workers"]:
        reach = "[green]up[/]" if r["reachable"] else "[red]down[/]"
        queue = "" if r["queue_running"] is None else str(r["queue_running"] + r["queue_pending"])
        limit = r.get("rss_limit_bytes")
        rss = _size(r["rss_bytes"]) + (f" / {_size(limit)}" if limit and r["rss_bytes"] else "")
        table.add_row(
            r["id"],
            "" if r["cuda_device"] is None else str(r["cuda_device"]),
            r["url"],
            r["process"],
            str(r["pid"] or ""),
            _uptime(r["uptime_s"]),
            rss,
            "" if r["restarts"] is None else str(r["restarts"]),
            "" if r["last_exit"] is None else str(r["last_exit"]),
            reach,
            queue,
            r["device"],
        )
    return table


def farm_app(errors: Callable[[Any], Any], out: "Console", err: "Console") -> typer.Typer:
    """The ``farm`` sub-app, wrapped in the main command's error handling."""
    app = typer.Typer(
        name="farm",
        help=FARM_GROUP_HELP,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def print_event(event: str, data: dict[str, Any]) -> None:
        stamp = time.strftime("%H:%M:%S")
        if event == "restart":
            err.print(
                f"{stamp} [yellow]{data['worker']}[/]: restart {data['restart']} "
                f"({data['cause']}): {data['detail']}",
                highlight=False,
            )
        elif event == "up":
            err.print(f"{stamp} {data['worker']}: back up (pid {data['pid']})", highlight=False)
        elif event == "drain":
            err.print(f"{stamp} {data['worker']}: draining: {data['detail']}", highlight=False)
        elif event == "gave_up":
            err.print(f"{stamp} [red]{data['worker']}[/]: {data['detail']}", highlight=False)

    @app.command(epilog=example("videofactory farm up --farm factory.yaml"))
    @errors
    def up(
        farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
        foreground: bool = typer.Option(
            False, "--foreground", help="Supervise here until Ctrl-C (then stop the servers)."
        ),
        on_failure: str = typer.Option(
            "keep",
            "--on-failure",
            help="A server that fails to start: keep the others running, or stop them all.",
        ),
        exposed_ok: bool = typer.Option(
            False,
            "--i-know-this-is-exposed",
            help="Allow listen addresses other than loopback (like launcher."
            "i_know_this_is_exposed: true): ComfyUI has no authentication.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Start one ComfyUI server per managed worker and wait until each answers.

        Each gets its GPU (--cuda-device), its port, its own input/output/temp/user folders
        under the farm folder and the shared model folders. A supervisor stays behind: it
        restarts a server that exits or stops answering (with back-off), recycles one whose
        memory passes rss_limit_gb between jobs, and rotates their logs.

        A listen address other than loopback (0.0.0.0, a LAN address) is refused unless the
        farm file sets launcher.i_know_this_is_exposed: true or --i-know-this-is-exposed is
        given, and then warned about: anyone who reaches ComfyUI can use it.
        """
        from concurrent.futures import ThreadPoolExecutor

        from videofactory.errors import ConfigError
        from videofactory.launcher.checks import exposure_warnings
        from videofactory.launcher.control import farm_status, farm_up
        from videofactory.launcher.plan import build_specs
        from videofactory.launcher.state import farm_paths

        if on_failure not in ("keep", "stop"):
            raise ConfigError(f"--on-failure is keep or stop, not {on_failure!r}")
        config, path = _load(farm)
        if exposed_ok:
            config.launcher.i_know_this_is_exposed = True
        if config.launcher.i_know_this_is_exposed:
            for line in exposure_warnings(build_specs(config, farm_paths(config).folder)):
                err.print(f"[yellow]warning:[/] {line}", highlight=False)
        if foreground:

            def on_event(event: str, data: dict[str, Any]) -> None:
                if event == "ready":
                    for line in data["failures"]:
                        err.print(f"[bold red]error:[/] {line}", highlight=False)
                    if data["up"]:
                        # Called on the supervisor's event loop: probe from another thread.
                        with ThreadPoolExecutor(1) as pool:
                            out.print(farm_table(pool.submit(farm_status, config).result()))
                        err.print("supervising; Ctrl-C stops the servers")
                else:
                    print_event(event, data)

            result = farm_up(
                config, path, foreground=True, on_failure=on_failure, on_event=on_event
            )
            raise typer.Exit(result["exit_code"])
        result = farm_up(config, path, on_failure=on_failure)
        if as_json:
            print(json.dumps({"ok": not result["failures"], **result}))
        else:
            out.print(farm_table(result))
            if result.get("already_up"):
                err.print("the farm was already up; `videofactory farm down` stops it")
            for line in result["failures"]:
                err.print(f"[bold red]error:[/] {line}", highlight=False)
            if result["failures"]:
                kept = [r["id"] for r in result["workers"] if r["pid"]]
                err.print(
                    f"kept running: {', '.join(kept)} (`videofactory farm down` stops them)"
                    if kept
                    else "no server is running"
                )
        if result["failures"]:
            raise typer.Exit(1)

    @app.command(epilog=example("videofactory farm down --farm factory.yaml"))
    @errors
    def down(
        farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
        grace: float | None = typer.Option(
            None,
            "--grace",
            min=0,
            help="Seconds between SIGTERM and SIGKILL (default: the farm's).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Stop the servers `farm up` started (SIGTERM, then SIGKILL after a grace period)."""
        from videofactory.launcher.control import farm_down

        config, _ = _load(farm)
        result = farm_down(config, grace=grace)
        if as_json:
            print(json.dumps({"ok": True, **result}))
            return
        out.print(f"supervisor: {result['supervisor']}")
        for wid, what in result["workers"].items():
            out.print(f"{wid}: {what}")

    @app.command(epilog=example("videofactory farm status --json"))
    @errors
    def status(
        farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Show each managed server's process beside its ComfyUI state.

        The process: PID, uptime, memory (RSS, and its limit), restarts, last exit code; the
        server: reachable, queue, device. Unmanaged workers are shown with their server only.
        """
        from videofactory.launcher.control import farm_status

        config, _ = _load(farm)
        result = farm_status(config)
        if as_json:
            print(json.dumps(result))
            return
        out.print(farm_table(result))
        for r in result["workers"]:
            if r["process_error"]:
                err.print(f"[yellow]{r['id']}[/]: {r['process_error']}", highlight=False)

    return app
