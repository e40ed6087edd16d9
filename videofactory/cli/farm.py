"""``videofactory status`` and ``videofactory test``: the farm's health and one server's check."""

import json
from pathlib import Path
from typing import Any

import typer

from videofactory.cli.options import FARM_OPT, JSON_OPT, err, errors, out
from videofactory.constants import DEFAULT_SIM_PORT


def escape(text: str) -> str:
    """rich's markup escape, imported when first needed (rich.markup loads rich.text)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


__all__ = ["DEFAULT_COMFYUI_URL", "dry_run", "status", "test"]

#: Where `test` looks when neither --url nor a farm names a server: ComfyUI's own default.
DEFAULT_COMFYUI_URL = f"http://127.0.0.1:{DEFAULT_SIM_PORT}"


@errors
def status(farm: str | None = FARM_OPT, as_json: bool = JSON_OPT) -> None:
    """Show the farm: each GPU's card, role, URL, reachability, VRAM and queue."""
    from videofactory.factory import farm_status

    data = farm_status(farm)
    rows = data["workers"]
    if as_json:
        print(json.dumps(data))
    else:
        _farm_table(f"{data['farm']} ({data['file']})" if "file" in data else data["farm"], rows)
    if data["simulated"]:
        if not as_json:
            err.print(data["note"])
        return
    impossible, reachable, flow = data["impossible"], data["reachable"], data["flow_fallback"]
    if not as_json:
        for row in rows:
            if not row["reachable"]:
                err.print(f"[yellow]{row['id']}[/]: {escape(row['error'])}", highlight=False)
            elif row.get("memory_note"):
                err.print(f"[yellow]note:[/] {row['memory_note']}", highlight=False)
        for row in rows:
            for kind, c in row["preflight"].items():
                if c["ok"]:
                    continue
                err.print(
                    f"[yellow]{row['id']}[/] gets no {kind} task: "
                    + (
                        f"workflow {c['workflow']} ({c['source']}) fails preflight:"
                        if c["workflow"]
                        else f"its {kind} workflow ({c['source']}) cannot be used:"
                    ),
                    highlight=False,
                )
                for problem in c["problems"]:
                    err.print(f"  - {problem['line']}", highlight=False, markup=False)
            keyframes = row.get("keyframes") or {}
            if keyframes.get("fallback"):
                err.print(
                    f"[yellow]{row['id']}[/] makes keyframes from their prompts alone (no edit "
                    "of the look; the same character may look different from shot to shot):",
                    highlight=False,
                )
                err.print(f"  - {keyframes['fallback']}", highlight=False, markup=False)
        for line in flow:
            err.print(f"[yellow]note:[/] {escape(line)}", highlight=False)
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
    from rich.table import Table

    refusals = any("refused" in r for r in rows)
    looks = any(r.get("keyframes") for r in rows)
    columns = ["id", "card", "role", "url", "reachable", "memory GB", "free GB", "queue"]
    table = Table(
        *columns,
        *(["keyframes"] if looks else []),
        *(["refused kinds"] if refusals else []),
        title=title,
    )
    for r in rows:
        reach = {True: "[green]yes[/]", False: "[red]no[/]", None: "sim"}[r["reachable"]]
        queue = "" if r["queue_running"] is None else str(r["queue_running"] + r["queue_pending"])
        table.add_row(
            r["id"],
            r["card"],
            "/".join(r["roles"]),
            r["url"] or "(on demand)",
            reach,
            _memory(r),
            _gb(r["vram_free_gb"]),
            queue,
            *([(r.get("keyframes") or {}).get("mode", "-")] if looks else []),
            *([", ".join(r.get("refused", [])) or "-"] if refusals else []),
        )
    out.print(table)


def dry_run(
    shotlist: Any,
    farm: str | None,
    as_json: bool,
    *,
    workdir: Path | None = None,
    preview: bool = False,
) -> None:
    """``render --dry-run``: what the plan would ask of the farm, checked before any GPU time
    is spent; nothing is recorded or submitted. Exit code 1 when the farm cannot run it.

    With ``workdir`` (None: ``--fresh``), the tasks its artifact cache would give are told
    apart from those that would run, and the GPU seconds are those of the tasks that run.
    ``preview``: the preview's tasks (keyframes, on the control GPU, and narration).
    """
    import asyncio

    from videofactory.config import resolve_farm
    from videofactory.farm.dag import PREVIEW_PINNED, build_tasks
    from videofactory.farm.estimates import Estimates
    from videofactory.farm.feasibility import impossible_kinds, plan_by_kind
    from videofactory.farm.flow import flow_notes
    from videofactory.farm.workers import survey_farm
    from videofactory.vocabulary import TaskKind

    config = resolve_farm(farm)
    survey = asyncio.run(survey_farm(config))
    tasks = build_tasks("dry-run", shotlist, preview=preview)
    reused = _cached(tasks, shotlist, config, survey.checks, workdir)
    seconds = Estimates(config.workers).seconds
    pinned = PREVIEW_PINNED if preview else frozenset()
    kinds = plan_by_kind(
        tasks, survey.abilities, strict=config.strict, seconds=seconds, pinned=pinned
    )
    to_run = [t for t in tasks if t.id not in reused]
    running = {
        k.kind: k
        for k in plan_by_kind(
            to_run, survey.abilities, strict=config.strict, seconds=seconds, pinned=pinned
        )
    }
    impossible = impossible_kinds(
        {k.kind: list(k.shots) for k in kinds}, survey.abilities, strict=config.strict
    )
    unreachable = [s.id for s in survey.statuses if not s.reachable and not config.simulated]
    flows = [s.id for s in shotlist.shots if s.continuity == "flow"]
    clips = {w: c.workflow(TaskKind.clip) for w, c in survey.checks.items()}
    flow = flow_notes(clips) if flows else []
    cached = [t for t in tasks if t.id in reused]
    will_run = [t for t in to_run if t.kind.value != "assemble"]
    summary = {
        "ok": not impossible,
        "dry_run": True,
        "preview": preview,
        "farm": config.name,
        "simulated": config.simulated,
        "shots": len(shotlist.shots),
        "duration_s": shotlist.duration,
        "tasks": len(tasks),
        "gpu_s": round(sum(k.gpu_s for k in running.values()), 1),
        "gpu_s_all": round(sum(k.gpu_s for k in kinds), 1),
        "tasks_reused": len(cached),
        "tasks_to_run": len(will_run),
        "reused": [_label(t) for t in cached],
        "will_run": [_label(t) for t in will_run],
        "kinds": [
            {
                **k.to_json(),
                "reused": sum(1 for t in cached if t.kind is k.kind),
                "to_run": len(running[k.kind].shots) if k.kind in running else 0,
                "gpu_s": round(running[k.kind].gpu_s, 1) if k.kind in running else 0.0,
            }
            for k in kinds
        ],
        "unreachable": unreachable,
        "impossible": impossible,
        "flow_shots": flows,
        "flow_fallback": flow,
    }
    if as_json:
        print(json.dumps(summary))
    else:
        _print_dry_run(summary, kinds, shotlist, config.name, cached, will_run)
        if preview:
            out.print(
                "a preview: keyframes only, then an animatic of them (<run>/preview.mp4); no "
                "clip or hero pass is rendered",
                highlight=False,
            )
    if impossible:
        raise typer.Exit(1)


def _label(task: Any) -> str:
    """``s03/clip`` (``speech`` of a shot alike; ``s03/clip.2``: its second take)."""
    from videofactory.vocabulary import TaskId

    return TaskId.parse(task.id).label


def _cached(
    tasks: list[Any], shotlist: Any, config: Any, checks: dict[str, Any], workdir: Path | None
) -> dict[str, str]:
    """Task id -> the key the artifact cache of ``workdir`` would give it under (judged from
    its index); empty without a cache."""
    from videofactory.cache.artifacts import CACHE_DIR, ArtifactCache, file_sha256
    from videofactory.farm.reuse import farm_speaker, farm_workflows, plan_reuse

    if workdir is None or not (Path(workdir) / CACHE_DIR).is_dir():
        return {}

    def file_sha(name: str | None) -> str | None:
        try:
            return file_sha256(Path(name)) if name else None
        except OSError:
            return None

    with ArtifactCache.for_workdir(workdir) as cache:
        plan = plan_reuse(
            {t.id: t for t in tasks},
            shotlist,
            cache,
            workflows=farm_workflows(config, checks),
            speaker=farm_speaker(config.speech),
            file_sha=file_sha,
        )
    return dict(plan.reused)


def _print_dry_run(
    summary: dict[str, Any],
    kinds: list[Any],
    shotlist: Any,
    farm_name: str,
    cached: list[Any],
    will_run: list[Any],
) -> None:
    from rich.table import Table

    table = Table(
        "kind",
        "tasks",
        "reused",
        "to run",
        "workers able",
        "est. GPU s",
        title=f"plan on {farm_name}",
    )
    for k, row in zip(kinds, summary["kinds"], strict=True):
        able = ", ".join(k.able) or "[red]none[/]"
        table.add_row(
            k.kind.value, str(len(k.shots)), str(row["reused"]), str(row["to_run"]), able,
            f"{row['gpu_s']:.0f}",
        )  # fmt: skip
    out.print(table)
    if cached:
        out.print(f"reused from the cache ({len(cached)}): {_named(cached)}", highlight=False)
    out.print(f"will run ({len(will_run)}): {_named(will_run) or 'nothing'}", highlight=False)
    if summary["unreachable"]:
        err.print(
            f"[yellow]note:[/] not reachable now (judged by the farm file): "
            f"{', '.join(summary['unreachable'])}",
            highlight=False,
        )
    for line in summary["flow_fallback"]:
        err.print(f"[yellow]note:[/] {escape(line)}", highlight=False)
    for line in summary["impossible"]:
        err.print(f"[bold red]error:[/] {line}", highlight=False)
    verdict = "cannot run this plan" if summary["impossible"] else "can run this plan"
    saved = (
        f" (of {summary['gpu_s_all']:.0f} for the whole plan)" if summary["tasks_reused"] else ""
    )
    out.print(
        f"{summary['tasks']} tasks for {len(shotlist.shots)} shots "
        f"({shotlist.duration:g} s); about {summary['gpu_s']:.0f} GPU seconds{saved}; the farm "
        f"{verdict}; nothing was submitted (dry run)",
        highlight=False,
    )


#: Shots named per kind in the dry run's lists before "and N more".
NAMED = 8


def _named(tasks: list[Any]) -> str:
    """``clip s03, s07; hero s03`` (per kind, at most NAMED shots each)."""
    by_kind: dict[str, list[str]] = {}
    for t in tasks:
        # a shot's second and later takes by their take: ``clip s03, s03.take2``
        by_kind.setdefault(t.kind.value, []).append(t.stem if t.shot_id else "")
    parts = []
    for kind, shots in by_kind.items():
        named = ", ".join(shots[:NAMED])
        if len(shots) > NAMED:
            named += f" and {len(shots) - NAMED} more"
        parts.append(f"{kind} {named}")
    return "; ".join(parts)


def _memory(row: dict[str, Any]) -> str:
    """What a worker holds: its VRAM, or its RAM on a CPU-only server ("23.5 RAM")."""
    total = _gb(row.get("vram_total_gb"))
    return f"{total} RAM" if total and row.get("device_type") == "cpu" else total


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
    import asyncio
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
