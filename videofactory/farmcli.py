"""``videofactory status`` and ``videofactory test``: the farm's health and one server's check."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from videofactory.cliopts import FARM_OPT, JSON_OPT, err, errors, out
from videofactory.constants import DEFAULT_SIM_PORT

__all__ = ["DEFAULT_COMFYUI_URL", "status", "test"]

#: Where `test` looks when neither --url nor a farm names a server: ComfyUI's own default.
DEFAULT_COMFYUI_URL = f"http://127.0.0.1:{DEFAULT_SIM_PORT}"


@errors
def status(farm: str | None = FARM_OPT, as_json: bool = JSON_OPT) -> None:
    """Show the farm: each GPU's card, role, URL, reachability, VRAM and queue."""
    from videofactory.config import builtin_farm, find_farm_file, load_farm

    path = find_farm_file(farm)
    if path is None:
        config = builtin_farm()
        rows = [
            {
                "id": w.id,
                "card": w.card,
                "roles": [r.value for r in w.roles],
                "url": "",
                "reachable": None,
                "vram_total_gb": w.vram_gb,
                "vram_free_gb": None,
                "queue_running": None,
                "queue_pending": None,
                "device": "simulated",
                "error": "",
            }
            for w in config.workers
        ]
        note = (
            "no farm file: the built-in simulated farm (six ComfyUI-protocol servers on "
            "loopback) is started by `generate` and stopped when the run ends"
        )
        if as_json:
            print(
                json.dumps({"farm": config.name, "simulated": True, "note": note, "workers": rows})
            )
        else:
            _farm_table(config.name, rows)
            err.print(note)
        return
    config = load_farm(path)
    statuses, checks = asyncio.run(_probe_and_preflight(config))
    rows = [s.to_json() for s in statuses]
    for row in rows:
        check = checks[row["id"]]
        row["refused"] = sorted(k.value for k in check.refused) if row["reachable"] else []
        row["preflight"] = {k.value: c.to_json() for k, c in check.kinds.items()}
    reachable = sum(1 for s in statuses if s.reachable)
    if as_json:
        print(
            json.dumps(
                {
                    "farm": config.name,
                    "file": str(path),
                    "simulated": False,
                    "reachable": reachable,
                    "workers": rows,
                }
            )
        )
    else:
        _farm_table(f"{config.name} ({path})", rows)
        for s in statuses:
            if not s.reachable:
                err.print(f"[yellow]{s.id}[/]: {s.error}")
        for row in rows:
            for kind, c in row["preflight"].items():
                if c["ok"]:
                    continue
                err.print(
                    f"[yellow]{row['id']}[/] gets no {kind} task: workflow {c['workflow']} "
                    f"({c['source']}) fails preflight:",
                    highlight=False,
                )
                for problem in c["problems"]:
                    err.print(f"  - {problem['line']}", highlight=False, markup=False)
    if reachable == 0:
        if not as_json:
            err.print("[bold red]error:[/] no worker of the farm is reachable")
        raise typer.Exit(1)


async def _probe_and_preflight(config: Any) -> tuple[list[Any], dict[str, Any]]:
    """Each worker's health and, per task kind, its workflow's preflight."""
    from videofactory.comfy.farmcheck import preflight_farm
    from videofactory.farm.workers import probe_farm

    return await asyncio.gather(probe_farm(config), preflight_farm(config))


def _farm_table(title: str, rows: list[dict[str, Any]]) -> None:
    refusals = any("refused" in r for r in rows)
    columns = ["id", "card", "role", "url", "reachable", "VRAM GB", "free GB", "queue"]
    table = Table(*columns, *(["refused kinds"] if refusals else []), title=title)
    for r in rows:
        reach = {True: "[green]yes[/]", False: "[red]no[/]", None: "sim"}[r["reachable"]]
        queue = "" if r["queue_running"] is None else str(r["queue_running"] + r["queue_pending"])
        table.add_row(
            r["id"],
            r["card"],
            "/".join(r["roles"]),
            r["url"] or "(on demand)",
            reach,
            _gb(r["vram_total_gb"]),
            _gb(r["vram_free_gb"]),
            queue,
            *([", ".join(r.get("refused", [])) or "-"] if refusals else []),
        )
    out.print(table)


def _gb(value: float | None) -> str:
    """A VRAM figure for the table; blank where an unreachable server told nothing."""
    return "" if value is None else f"{value:g}"


@errors
def test(
    url: str | None = typer.Option(None, "--url", help="ComfyUI server to check."),
    workflow: Path | None = typer.Option(
        None, "--workflow", help="Your API-format workflow JSON (default: a tiny built-in one)."
    ),
    bindings: Path | None = typer.Option(
        None,
        "--bindings",
        help="Bindings YAML for --workflow (default: <name>.bindings.yaml beside it, else "
        "detected).",
    ),
    input_file: Path | None = typer.Option(
        None,
        "--input",
        help="Your own picture, clip or sound for the workflow's LoadImage, LoadVideo or "
        "LoadAudio (default: a small sample made and uploaded for each).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Keep the outputs here (default with --workflow: a temp dir)."
    ),
    run_timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=1,
        max=86400,
        help="Seconds the round trip may take (default 60, 1800 with --workflow).",
    ),
    sim: bool = typer.Option(
        False,
        "--sim",
        help="Check a built-in simulated server (started here, no GPU) instead of a real one.",
    ),
    farm: str | None = typer.Option(
        None,
        "--farm",
        help="Farm file whose first worker to check (default: $VIDEOFACTORY_FARM, then "
        "./factory.yaml).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Check one ComfyUI server: /system_stats, /object_info, preflight and one round trip.

    With --workflow, your own workflow is checked against the server's nodes and model files
    and run once; a LoadImage, LoadVideo or LoadAudio in it gets a small sample input (or
    your --input file), uploaded and bound, so it runs on a fresh server too. The report
    gives each step's time, what was uploaded and where the outputs went. Exit code 0 only
    if every step worked. Without --url: the farm file's first worker, else ComfyUI's default
    http://127.0.0.1:8188; --sim checks the built-in simulator instead.
    """
    from functools import partial

    from videofactory.comfy.check import check_server
    from videofactory.config import check_url, find_farm_file, load_farm
    from videofactory.errors import BackendUnavailable, ConfigError

    for flag, value in (("--bindings", bindings), ("--input", input_file)):
        if value is not None and workflow is None:
            raise ConfigError(f"{flag} goes with --workflow; pass the workflow file too")
    if sim and (url or farm):
        raise ConfigError("--sim checks the built-in simulator; leave out --url and --farm")
    check_server = partial(
        check_server,
        workflow=workflow,
        bindings=bindings,
        output_dir=output,
        run_timeout=run_timeout,
        input_file=input_file,
    )
    note = ""
    if sim:
        from videofactory.config import builtin_farm
        from videofactory.factory import running_farm

        one = builtin_farm().model_copy(update={"workers": builtin_farm().workers[:1]})
        with running_farm(one) as live:
            report = asyncio.run(check_server(live.workers[0].url))
        note = "checked the built-in simulator (a ComfyUI-protocol server on loopback, no GPU)"
    else:
        path = None if url else find_farm_file(farm)
        if url:
            target = check_url(url, "--url")
        else:
            target = load_farm(path).workers[0].url if path else DEFAULT_COMFYUI_URL
        report = asyncio.run(check_server(target))
        if url is None and path is None and not report.reachable:
            raise BackendUnavailable(
                f"nothing answers at {target}; start ComfyUI there, pass --url URL, name a "
                "farm with --farm FILE (or ./factory.yaml), or pass --sim to check the "
                "built-in simulator",
                url=target,
            )
    report.note = note
    if as_json:
        print(json.dumps(report.to_json()))
    else:
        if note:
            err.print(f"[yellow]note:[/] {note}")
        for s in report.steps:
            mark = "[green]ok[/]  " if s.ok else "[red]FAIL[/]"
            out.print(
                f"{mark} {s.name:<13} {s.seconds * 1000:7.0f} ms  {escape(s.detail)}",
                highlight=False,
                soft_wrap=True,  # one line each, however long: a program reads it
            )
            for line in s.lines:
                out.print(f"       {line}", highlight=False, markup=False, soft_wrap=True)
        if report.output_dir:
            out.print(f"outputs: {report.output_dir}", highlight=False)
        out.print(
            (
                "[bold green]ComfyUI server works[/]"
                if report.ok
                else "[bold red]ComfyUI check failed[/]"
            )
            + f": {report.url}"
            + (" (the built-in simulator)" if sim else "")
        )
    if not report.ok:
        raise typer.Exit(1)
