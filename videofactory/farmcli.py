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

__all__ = ["dry_run", "status", "test"]


@errors
def status(farm: str | None = FARM_OPT, as_json: bool = JSON_OPT) -> None:
    """Show the farm: each GPU's card, role, URL, reachability, VRAM and queue."""
    from videofactory.config import builtin_farm, find_farm_file, load_farm
    from videofactory.farm.board import GPU_KINDS
    from videofactory.farm.feasibility import impossible_kinds
    from videofactory.farm.workers import survey_farm

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
    survey = asyncio.run(survey_farm(config))
    statuses, checks, abilities = survey.statuses, survey.checks, survey.abilities
    rows = [s.to_json() for s in statuses]
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


def dry_run(shotlist: Any, farm: str | None, as_json: bool) -> None:
    """``render --dry-run``: what the plan would ask of the farm, checked before any GPU time
    is spent; nothing is recorded or submitted. Exit code 1 when the farm cannot run it."""
    from videofactory.config import resolve_farm
    from videofactory.farm.dag import build_tasks
    from videofactory.farm.estimates import Estimates
    from videofactory.farm.feasibility import impossible_kinds, plan_by_kind
    from videofactory.farm.workers import survey_farm

    config = resolve_farm(farm)
    survey = asyncio.run(survey_farm(config))
    tasks = build_tasks("dry-run", shotlist)
    kinds = plan_by_kind(
        tasks,
        survey.abilities,
        strict=config.strict,
        seconds=Estimates(config.workers).seconds,
    )
    impossible = impossible_kinds(
        {k.kind: list(k.shots) for k in kinds}, survey.abilities, strict=config.strict
    )
    unreachable = [s.id for s in survey.statuses if not s.reachable and not config.simulated]
    summary = {
        "ok": not impossible,
        "dry_run": True,
        "farm": config.name,
        "simulated": config.simulated,
        "shots": len(shotlist.shots),
        "duration_s": shotlist.duration,
        "tasks": len(tasks),
        "gpu_s": round(sum(k.gpu_s for k in kinds), 1),
        "kinds": [k.to_json() for k in kinds],
        "unreachable": unreachable,
        "impossible": impossible,
    }
    if as_json:
        print(json.dumps(summary))
    else:
        table = Table("kind", "tasks", "workers able", "est. GPU s", title=f"plan on {config.name}")
        for k in kinds:
            able = ", ".join(k.able) or "[red]none[/]"
            table.add_row(k.kind.value, str(len(k.shots)), able, f"{k.gpu_s:.0f}")
        out.print(table)
        if unreachable:
            err.print(
                f"[yellow]note:[/] not reachable now (judged by the farm file): "
                f"{', '.join(unreachable)}",
                highlight=False,
            )
        for line in impossible:
            err.print(f"[bold red]error:[/] {line}", highlight=False)
        verdict = "cannot run this plan" if impossible else "can run this plan"
        out.print(
            f"{len(tasks)} tasks for {len(shotlist.shots)} shots "
            f"({shotlist.duration:g} s); about {summary['gpu_s']:.0f} GPU seconds; the farm "
            f"{verdict}; nothing was submitted (dry run)",
            highlight=False,
        )
    if impossible:
        raise typer.Exit(1)


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
