"""``videofactory status`` and ``videofactory test``: the farm's health and one server's check."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from videofactory.cliopts import FARM_OPT, JSON_OPT, err, errors, out
from videofactory.constants import DEFAULT_SIM_PORT

__all__ = ["status", "test"]


@errors
def status(farm: str | None = FARM_OPT, as_json: bool = JSON_OPT) -> None:
    """Show the farm: each GPU's card, role, URL, reachability, VRAM and queue."""
    from videofactory.config import builtin_farm, find_farm_file, load_farm
    from videofactory.farm.board import GPU_KINDS
    from videofactory.farm.feasibility import ability_of, impossible_kinds

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
    abilities = [
        ability_of(w, s.memory_gb or 0.0, s.memory_kind, checks[w.id] if s.reachable else None)
        for w, s in zip(config.workers, statuses, strict=True)
    ]
    for row, ability in zip(rows, abilities, strict=True):
        check = checks[row["id"]]
        row["refused"] = sorted(k.value for k in check.refused) if row["reachable"] else []
        row["preflight"] = {k.value: c.to_json() for k, c in check.kinds.items()}
        row["needs_gb"] = {k.value: gb for k, gb in ability.needs.items()}
    # Could the farm run a film at all? (Every plan has keyframes and clips; the planner
    # marks hero shots too.)
    impossible = impossible_kinds(dict.fromkeys(GPU_KINDS), abilities, strict=config.strict)
    reachable = sum(1 for s in statuses if s.reachable)
    if as_json:
        print(
            json.dumps(
                {
                    "farm": config.name,
                    "file": str(path),
                    "simulated": False,
                    "reachable": reachable,
                    "impossible": impossible,
                    "workers": rows,
                }
            )
        )
    else:
        _farm_table(f"{config.name} ({path})", rows)
        for s in statuses:
            if not s.reachable:
                err.print(f"[yellow]{s.id}[/]: {s.error}", highlight=False, markup=False)
            elif s.memory_note:
                err.print(f"[yellow]note:[/] {s.memory_note}", highlight=False)
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
    if reachable and not as_json:
        for line in impossible:
            err.print(f"[bold red]error:[/] {line}", highlight=False)
    if reachable == 0:
        if not as_json:
            err.print("[bold red]error:[/] no worker of the farm is reachable")
        raise typer.Exit(1)
    if impossible:
        raise typer.Exit(1)


async def _probe_and_preflight(config: Any) -> tuple[list[Any], dict[str, Any]]:
    """Each worker's health and, per task kind, its workflow's preflight."""
    from videofactory.comfy.farmcheck import preflight_farm
    from videofactory.farm.workers import probe_farm

    return await asyncio.gather(probe_farm(config), preflight_farm(config))


def _farm_table(title: str, rows: list[dict[str, Any]]) -> None:
    refusals = any("refused" in r for r in rows)
    columns = ["id", "card", "role", "url", "reachable", "memory GB", "free GB", "queue"]
    table = Table(*columns, *(["refused kinds"] if refusals else []), title=title)
    for r in rows:
        reach = {True: "[green]yes[/]", False: "[red]no[/]", None: "sim"}[r["reachable"]]
        queue = "" if r["queue_running"] is None else str(r["queue_running"] + r["queue_pending"])
        free = "" if r["vram_free_gb"] is None else f"{r['vram_free_gb']:g}"
        table.add_row(
            r["id"],
            r["card"],
            "/".join(r["roles"]),
            r["url"] or "(on demand)",
            reach,
            _memory(r),
            free,
            queue,
            *([", ".join(r.get("refused", [])) or "-"] if refusals else []),
        )
    out.print(table)


def _memory(row: dict[str, Any]) -> str:
    """What a worker holds: its VRAM, or its RAM on a CPU-only server ("23.5 RAM")."""
    total = row.get("vram_total_gb")
    if total is None:
        return "?"
    return f"{total:g} RAM" if row.get("device_type") == "cpu" else f"{total:g}"


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
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Keep the outputs here (default with --workflow: a temp dir)."
    ),
    run_timeout: float | None = typer.Option(
        None,
        "--timeout",
        help="Seconds the round trip may take (default 60, 1800 with --workflow).",
    ),
    farm: str | None = FARM_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Check one ComfyUI server: /system_stats, /object_info, preflight and one round trip.

    With --workflow, your own workflow is checked against the server's nodes and model files
    and run once; the report gives each step's time and where the outputs went. Exit code 0
    only if every step worked. Without --url: the farm file's first worker; with no farm file,
    ComfyUI's default http://127.0.0.1:8188, or the built-in simulator when nothing answers.
    """
    from functools import partial

    from videofactory.comfy.check import check_server
    from videofactory.config import builtin_farm, find_farm_file, load_farm
    from videofactory.errors import ConfigError

    if bindings is not None and workflow is None:
        raise ConfigError("--bindings goes with --workflow; pass the workflow file too")
    check_server = partial(
        check_server,
        workflow=workflow,
        bindings=bindings,
        output_dir=output,
        run_timeout=run_timeout,
    )
    note = ""
    path = None if url else find_farm_file(farm)
    target = url or (
        load_farm(path).workers[0].url if path else f"http://127.0.0.1:{DEFAULT_SIM_PORT}"
    )
    report = asyncio.run(check_server(target))
    if url is None and path is None and not report.steps[0].ok:
        # No server named anywhere and none at ComfyUI's default port: like `generate`, fall
        # back to the built-in simulator, and say so.
        note = (
            f"nothing answers at {target}; checked the built-in simulator instead "
            "(start ComfyUI there, or pass --url, to check a real server)"
        )
        from videofactory.factory import running_farm

        one = builtin_farm().model_copy(update={"workers": builtin_farm().workers[:1]})
        with running_farm(one) as live:
            report = asyncio.run(check_server(live.workers[0].url))
    report.note = note
    if as_json:
        print(json.dumps(report.to_json()))
    else:
        if note:
            err.print(f"[yellow]note:[/] {note}")
        for s in report.steps:
            mark = "[green]ok[/]  " if s.ok else "[red]FAIL[/]"
            out.print(
                f"{mark} {s.name:<13} {s.seconds * 1000:7.0f} ms  {s.detail}", highlight=False
            )
            for line in s.lines:
                out.print(f"       {line}", highlight=False, markup=False)
        if report.output_dir:
            out.print(f"outputs: {report.output_dir}", highlight=False)
        out.print(
            (
                "[bold green]ComfyUI server works[/]"
                if report.ok
                else "[bold red]ComfyUI check failed[/]"
            )
            + f": {report.url}"
        )
    if not report.ok:
        raise typer.Exit(1)
