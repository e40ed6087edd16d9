"""The ``videofactory`` command: thin, it parses, calls the core and prints (rich or --json)."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from videofactory import __version__
from videofactory.constants import (
    DEFAULT_CLIP_SECONDS,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_SIM_PORT,
    DEFAULT_WIDTH,
    DEFAULT_WORKDIR,
)
from videofactory.errors import FactoryError

__all__ = ["app", "main"]

app = typer.Typer(
    name="videofactory",
    help="A video assembly line: concept -> shot list -> ComfyUI GPU farm -> FFmpeg -> video.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console(*, stderr: bool = False) -> Console:
    # Piped output is read by programs and logs: do not wrap tables at 80 columns.
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=160)


out = _console()
err = _console(stderr=True)
_state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object (for agents and scripts).")
RUN_JSON_OPT = typer.Option(
    False, "--json", help="One JSON object per event, one per line, ending with the result."
)
DETACH_OPT = typer.Option(
    False,
    "--detach",
    help="Run in a background process that outlives the terminal; print the run id at once "
    "(follow it with `videofactory wait RUN`).",
)
WORKDIR_OPT = typer.Option(
    Path(DEFAULT_WORKDIR), "--workdir", "-w", help="Folder of runs and of the run database."
)
FARM_OPT = typer.Option(
    None,
    "--farm",
    help="Farm file (default: $VIDEOFACTORY_FARM, then ./factory.yaml, "
    "else the built-in simulated farm).",
)
PLANNER_OPT = typer.Option(
    "rules",
    "--planner",
    help="rules (default, needs no model) or llm (an OpenAI-compatible or Anthropic endpoint).",
)
LLM_URL_OPT = typer.Option(
    None,
    "--llm-url",
    help="LLM endpoint, e.g. http://localhost:11434/v1 "
    "(default: $VIDEOFACTORY_LLM_URL, then the farm file's llm section).",
)
LLM_MODEL_OPT = typer.Option(
    None, "--llm-model", help="LLM model (default: $VIDEOFACTORY_LLM_MODEL, then the farm file)."
)
LLM_KIND_OPT = typer.Option(
    None, "--llm-kind", help="openai (any OpenAI-compatible server, the default) or anthropic."
)


def _errors(fn: F) -> F:
    """Turn a FactoryError into one line on stderr (or JSON) and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FactoryError as exc:
            if _state["debug"]:
                raise
            if kwargs.get("as_json"):
                failure = {"ok": False, "error": str(exc), "type": type(exc).__name__}
                if getattr(exc, "run_id", None):
                    failure["run_id"] = exc.run_id  # type: ignore[attr-defined]
                print(json.dumps(failure))
            # soft_wrap: one line however long (a program reads it, a terminal wraps it).
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"videofactory {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["debug"] = debug


# -- generate / plan / render ---------------------------------------------------------------


@app.command(epilog='Example: videofactory generate "warrior in mystical forest" --duration 30')
@_errors
def generate(
    concept: str = typer.Argument(..., help="What the video is about."),
    duration: float = typer.Option(30.0, "--duration", "-d", help="Length in seconds."),
    farm: str | None = FARM_OPT,
    workdir: Path = WORKDIR_OPT,
    width: int = typer.Option(DEFAULT_WIDTH, help="Output width in pixels."),
    height: int = typer.Option(DEFAULT_HEIGHT, help="Output height in pixels."),
    fps: int = typer.Option(DEFAULT_FPS, help="Output frame rate."),
    seed: int = typer.Option(0, help="Planner seed: the same seed gives the same plan."),
    clip_seconds: float | None = typer.Option(
        None,
        help="Length of one generated clip, which sets the number of shots "
        f"(default: the farm file's clip_seconds, else {DEFAULT_CLIP_SECONDS:g}).",
    ),
    planner: str = PLANNER_OPT,
    llm_url: str | None = LLM_URL_OPT,
    llm_model: str | None = LLM_MODEL_OPT,
    llm_kind: str | None = LLM_KIND_OPT,
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Plan a shot list for CONCEPT and render it into a finished video."""
    shotlist = _plan(
        concept,
        duration,
        planner=planner,
        farm=farm,
        llm=(llm_url, llm_kind, llm_model),
        size=(width, height, fps, seed, clip_seconds),
    )
    _render(shotlist, farm, workdir, as_json, detach=detach)


@app.command(epilog='Example: videofactory plan "warrior in mystical forest" -d 30 -o shots.yaml')
@_errors
def plan(
    concept: str = typer.Argument(..., help="What the video is about."),
    duration: float = typer.Option(30.0, "--duration", "-d", help="Length in seconds."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the YAML here."),
    width: int = typer.Option(DEFAULT_WIDTH, help="Output width in pixels."),
    height: int = typer.Option(DEFAULT_HEIGHT, help="Output height in pixels."),
    fps: int = typer.Option(DEFAULT_FPS, help="Output frame rate."),
    seed: int = typer.Option(0, help="Planner seed: the same seed gives the same plan."),
    clip_seconds: float | None = typer.Option(
        None,
        help="Length of one generated clip, which sets the number of shots "
        f"(default: the farm file's clip_seconds, else {DEFAULT_CLIP_SECONDS:g}).",
    ),
    planner: str = PLANNER_OPT,
    llm_url: str | None = LLM_URL_OPT,
    llm_model: str | None = LLM_MODEL_OPT,
    llm_kind: str | None = LLM_KIND_OPT,
    farm: str | None = FARM_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Write a shot list for CONCEPT (YAML) to edit before rendering; no GPU is used.

    The YAML format is described in docs/shotlist.md. With --planner llm the plan comes from
    an LLM (--llm-url/--llm-model, $VIDEOFACTORY_LLM_*, or the farm file's llm section).
    """
    from videofactory.errors import ConfigError
    from videofactory.shotlist import dump_shotlist

    shotlist = _plan(
        concept,
        duration,
        planner=planner,
        farm=farm,
        llm=(llm_url, llm_kind, llm_model),
        size=(width, height, fps, seed, clip_seconds),
    )
    if output:
        try:
            output.write_text(dump_shotlist(shotlist), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from exc
    if as_json:
        print(json.dumps(shotlist.model_dump(mode="json")))
    elif not output:
        print(dump_shotlist(shotlist), end="")
    else:
        err.print(
            f"wrote {len(shotlist.shots)} shots to {output}; render with "
            f"`videofactory render {output}`"
        )


def _plan(
    concept: str,
    duration: float,
    *,
    planner: str,
    farm: str | None,
    llm: tuple[str | None, str | None, str | None],
    size: tuple[int, int, int, int, float | None],
) -> Any:
    """Plan with the named planner; the LLM's settings come from flags, env, then farm file."""
    from videofactory.config import find_farm_file, load_farm, resolve_llm
    from videofactory.planning import plan_shotlist

    width, height, fps, seed, clip_s = size
    settings = None
    path = find_farm_file(farm)
    config = load_farm(path) if path else None
    if clip_s is None:
        # As many shots as the farm's scene workflow makes clips of this length.
        clip_s = config.clip_seconds if config else DEFAULT_CLIP_SECONDS
    if planner == "llm":
        url, kind, model = llm
        settings = resolve_llm(config, endpoint=url, kind=kind, model=model)
    return plan_shotlist(
        concept,
        duration,
        planner=planner,
        seed=seed,
        width=width,
        height=height,
        fps=fps,
        clip_s=clip_s,
        llm=settings,
    )


@app.command(epilog="Example: videofactory render shots.yaml --json")
@_errors
def render(
    shotlist_file: Path = typer.Argument(..., help="A shot list YAML (from `plan`, maybe edited)."),
    farm: str | None = FARM_OPT,
    workdir: Path = WORKDIR_OPT,
    no_assemble: bool = typer.Option(
        False, "--no-assemble", help="Render and speak every shot but stop before FFmpeg."
    ),
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Render a shot list (written by `plan`, or by hand) into a finished video."""
    from videofactory.shotlist import load_shotlist

    shotlist = load_shotlist(shotlist_file)
    _render(shotlist, farm, workdir, as_json, assemble=not no_assemble, detach=detach)


def _render(
    shotlist: Any,
    farm: str | None,
    workdir: Path,
    as_json: bool,
    *,
    assemble: bool = True,
    detach: bool = False,
) -> None:
    from videofactory.console import RunView
    from videofactory.factory import render_shotlist

    if detach:
        from videofactory.runcli import detach_new_run

        detach_new_run(
            shotlist, farm, workdir, as_json, assemble=assemble, debug=bool(_state["debug"])
        )
        return
    with RunView(json_lines=as_json, workdir=workdir) as view:
        result = render_shotlist(
            shotlist, workdir=workdir, farm_file=farm, on_event=view, assemble=assemble
        )
    _print_result(result, as_json)


@app.command(epilog="Example: videofactory resume 20261125-181500-warrior-in-mystical-3f2a")
@_errors
def resume(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    farm: str | None = typer.Option(
        None, "--farm", help="Farm file to use instead of the one the run recorded."
    ),
    workdir: Path = WORKDIR_OPT,
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Carry a stopped run to its end: finished work is reused, jobs still on the servers are
    collected, and only work that was truly lost is rendered again."""
    from videofactory.console import RunView
    from videofactory.factory import resume_run

    if detach:
        from videofactory.runcli import detach_resume

        detach_resume(run, farm, workdir, as_json, debug=bool(_state["debug"]))
        return
    with RunView(json_lines=as_json, workdir=workdir) as view:
        result = resume_run(run, workdir=workdir, farm_file=farm, on_event=view)
    _print_result(result, as_json)


@app.command(epilog="Example: videofactory cancel 20261125-181500-warrior-in-mystical-3f2a")
@_errors
def cancel(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    workdir: Path = WORKDIR_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Cancel a run: interrupt its running jobs, take its queued ones off the servers, and stop
    the process driving it. What finished is kept."""
    from videofactory.factory import cancel_run

    outcome = cancel_run(run, workdir=workdir)
    if as_json:
        print(json.dumps({"ok": True, **outcome}))
        return
    out.print(f"{outcome['run_id']}: {outcome['state']}")
    for job in outcome["jobs"]:
        out.print(f"  {job['task'].split('/', 1)[-1]} on {job['worker']}: {job['outcome']}")


def _print_result(result: Any, as_json: bool) -> None:
    m = result.media
    shots = len(result.shots)
    summary: dict[str, Any] = {
        "ok": True,
        "run_id": result.run_id,
        "run_dir": str(result.run_dir),
        "final": str(result.final) if result.final else None,
        "shots": shots,
        "elapsed_s": round(result.elapsed_s, 2),
    }
    report = Path(result.run_dir) / "report.html"
    summary["report"] = str(report) if report.is_file() else None
    if m is not None:
        summary.update(
            duration_s=round(m.duration_s, 3),
            width=m.width,
            height=m.height,
            fps=m.fps,
            video_codec=m.video_codec,
            audio_codec=m.audio_codec,
        )
    if as_json:
        print(json.dumps(summary))
        return
    if m is None:
        out.print(
            f"[bold green]rendered[/] {shots} shots in {result.elapsed_s:.1f} s "
            f"(not assembled) in {result.run_dir}"
        )
    else:
        out.print(
            f"[bold green]done[/] {result.final}  {m.duration_s:.2f} s  "
            f"{m.width}x{m.height} {m.fps:g} fps  {m.video_codec}+{m.audio_codec}  "
            f"({shots} shots in {result.elapsed_s:.1f} s)"
        )
    if summary["report"]:
        out.print(f"report: {summary['report']}", highlight=False)
    out.print(f"inspect with: videofactory show {result.run_id}")


# -- runs / show ----------------------------------------------------------------------------


@app.command(epilog="Example: videofactory runs --json")
@_errors
def runs(workdir: Path = WORKDIR_OPT, as_json: bool = JSON_OPT) -> None:
    """List the runs in the work directory, newest first."""
    from videofactory.store import DB_NAME, Store

    if not (workdir / DB_NAME).exists():
        rows: list[dict[str, Any]] = []
    else:
        with Store.for_workdir(workdir) as store:
            rows = store.runs()
    if as_json:
        print(json.dumps([_run_summary(r) for r in rows]))
        return
    if not rows:
        err.print(f'no runs in {workdir} yet; start one with `videofactory generate "..."`')
        return
    table = Table("run", "state", "duration", "concept", "final")
    for r in rows:
        table.add_row(
            r["id"],
            r["state"],
            f"{r['duration']:g} s",
            r["concept"][:40],
            r["final_path"] or (r["error"] or "")[:60],
        )
    out.print(table)


def _run_summary(r: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "state",
        "concept",
        "duration",
        "run_dir",
        "final_path",
        "error",
        "created_at",
        "updated_at",
    )
    return {k: r.get(k) for k in keys}


@app.command(epilog="Example: videofactory show 20261125-181500-warrior-in-mystical-3f2a --json")
@_errors
def show(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    workdir: Path = WORKDIR_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Show one run at any time: its state, shot list, tasks, attempts and artifacts.

    The state is told at any moment, also while a detached process renders the run: starting,
    running (with the jobs in flight and an estimate of the time left), stopped (no process
    drives it: resume it), done, rendered, failed or cancelled.
    """
    import time

    from videofactory.follow import replay, run_status
    from videofactory.runcli import status_lines
    from videofactory.store import DB_NAME, Store, StoreError

    if not (workdir / DB_NAME).exists():
        raise StoreError(f"no run database in {workdir}; pass --workdir where the runs are")
    with Store.for_workdir(workdir) as store:
        r = store.run(run)
        live = run_status(store, r["id"])
        watch = replay(store, r["id"]) if live.state in ("running", "starting") else None
        data = {
            **_run_summary(r),
            "farm": r["farm"],
            "shots": store.shots(r["id"]),
            "tasks": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "shot_id": t.shot_id,
                    "state": t.state,
                    "worker": t.worker,
                    "prompt_id": t.prompt_id,
                    "attempts": t.attempts,
                    "created_at": t.created_at,
                    "started_at": t.started_at,
                    "finished_at": t.finished_at,
                    "error": t.error,
                    "deps": list(t.deps),
                }
                for t in store.tasks(r["id"])
            ],
            "attempts": store.attempts(r["id"]),
            "artifacts": store.artifacts(r["id"]),
            "live": live.to_json(),
        }
    now = time.time()
    data["live"]["eta_s"] = watch.eta_s(now) if watch is not None else None
    if as_json:
        print(json.dumps(data))
        return
    out.print(
        f"[bold]{data['id']}[/]  {data['state']}  {data['concept']!r}  {data['duration']:g} s"
    )
    if data["final_path"]:
        out.print(f"final: {data['final_path']}")
    if data["error"]:
        out.print(f"[red]error:[/] {data['error']}")
    for line in status_lines(live, watch, now):
        out.print(line, highlight=False)
    table = Table("task", "state", "worker", "seconds", "error")
    for t in data["tasks"]:
        secs = (
            f"{t['finished_at'] - t['started_at']:.1f}"
            if t["started_at"] and t["finished_at"]
            else ""
        )
        table.add_row(
            t["id"].split("/", 1)[-1], t["state"], t["worker"] or "", secs, (t["error"] or "")[:60]
        )
    out.print(table)


# -- status / test / sim --------------------------------------------------------------------


@app.command(epilog="Example: videofactory status --farm factory.yaml --json")
@_errors
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
        free = "" if r["vram_free_gb"] is None else f"{r['vram_free_gb']:g}"
        table.add_row(
            r["id"],
            r["card"],
            "/".join(r["roles"]),
            r["url"] or "(on demand)",
            reach,
            f"{r['vram_total_gb']:g}",
            free,
            queue,
            *([", ".join(r.get("refused", [])) or "-"] if refusals else []),
        )
    out.print(table)


@app.command(
    epilog="Example: videofactory test --url http://127.0.0.1:8188 --workflow my_flux_api.json"
)
@_errors
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


@app.command(
    epilog="Example: videofactory sim --workers 6 --port 8188 --time-scale 0.1 "
    "--fail-rate 0.05 --fault gpu2:crash_after=3",
    # ComfyUI's command line works unchanged: flags that mean nothing here are ignored.
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@_errors
def sim(
    ctx: typer.Context,
    workers: int = typer.Option(6, "--workers", "-n", min=1, max=64, help="Simulated GPUs."),
    port: int = typer.Option(DEFAULT_SIM_PORT, "--port", help="First port; one port per GPU."),
    root: Path = typer.Option(Path("sim-farm"), "--root", help="Folder for the servers' files."),
    time_scale: float = typer.Option(
        0.0,
        "--time-scale",
        min=0.0,
        help="Real seconds per modelled GPU second (each card at its own speed); 0 = CPU speed.",
    ),
    fail_rate: float | None = typer.Option(
        None, "--fail-rate", help="Chance a prompt fails with a CUDA error (every worker)."
    ),
    oom_above_gb: float | None = typer.Option(
        None, "--oom-above-gb", help="Out of memory when a prompt needs more VRAM than this."
    ),
    hang_rate: float | None = typer.Option(
        None, "--hang-rate", help="Chance a render hangs mid-way until /interrupt."
    ),
    hang_after: int | None = typer.Option(
        None, "--hang-after", help="The prompt after this many hangs."
    ),
    crash_after: int | None = typer.Option(
        None, "--crash-after", help="The server dies in the middle of the prompt after this many."
    ),
    drop_ws_rate: float | None = typer.Option(
        None, "--drop-ws-rate", help="Chance every websocket is cut mid-prompt."
    ),
    corrupt_rate: float | None = typer.Option(
        None, "--corrupt-rate", help="Chance saved files are overwritten with undecodable bytes."
    ),
    slow_start: float | None = typer.Option(
        None, "--slow-start", help="Seconds each server waits before listening."
    ),
    leak_mb_per_job: float | None = typer.Option(
        None, "--leak-mb-per-job", help="Megabytes each prompt leaves behind (memory grows)."
    ),
    fault_seed: int | None = typer.Option(None, "--fault-seed", help="Seed of the fault draws."),
    listen: str = typer.Option("127.0.0.1", "--listen", help="Address(es) to listen on."),
    cuda_device: int | None = typer.Option(
        None,
        "--cuda-device",
        min=0,
        help="Stand in for one ComfyUI server on GPU N: one simulated card, the seed's gpuN.",
    ),
    output_directory: Path | None = typer.Option(
        None, "--output-directory", help="ComfyUI's flag (one server)."
    ),
    input_directory: Path | None = typer.Option(
        None, "--input-directory", help="ComfyUI's flag (one server)."
    ),
    temp_directory: Path | None = typer.Option(
        None, "--temp-directory", help="ComfyUI's flag (one server)."
    ),
    base_directory: Path | None = typer.Option(
        None, "--base-directory", help="ComfyUI's flag (one server)."
    ),
    fault: list[str] = typer.Option(
        [],
        "--fault",
        help="Faults of one worker, WORKER:NAME=VALUE[,NAME=VALUE] (repeatable), "
        "e.g. gpu2:crash_after=3.",
    ),
) -> None:
    """Run a simulated ComfyUI farm in the foreground (one server per GPU) until Ctrl-C.

    Cards model their VRAM and speed; fault flags hit every worker, --fault just one.

    Faults can also be changed while it runs: POST /sim/faults to a server.

    Given ComfyUI's own flags (--cuda-device, --output-directory, ...) it stands in for one
    ComfyUI server, as the farm launcher starts it; other ComfyUI flags are ignored.
    """
    from videofactory.config import builtin_farm
    from videofactory.sim.farm import SimWorkerSpec, main_foreground, with_faults

    if ctx.args:
        err.print(f"note: ignoring {' '.join(ctx.args)} (nothing to the simulator)", markup=False)
    seed = builtin_farm().workers
    dirs = {
        "--output-directory": output_directory,
        "--input-directory": input_directory,
        "--temp-directory": temp_directory,
        "--base-directory": base_directory,
    }
    single = cuda_device is not None or any(v is not None for v in dirs.values())
    first = cuda_device or 0
    specs = []
    for i in range(first, first + 1) if single else range(workers):
        w = seed[i] if i < len(seed) else seed[1].model_copy(update={"id": f"gpu{i}"})
        specs.append(
            SimWorkerSpec(
                name=w.id,
                card=w.card,
                vram_gb=w.vram_gb,
                port=port if single else port + i,
                gpu_speed=w.speed,
                time_scale=time_scale,
            )
        )
    common = {
        "fail_rate": fail_rate,
        "oom_above_gb": oom_above_gb,
        "hang_rate": hang_rate,
        "hang_after": hang_after,
        "crash_after": crash_after,
        "drop_ws_rate": drop_ws_rate,
        "corrupt_rate": corrupt_rate,
        "slow_start_s": slow_start,
        "leak_mb_per_job": leak_mb_per_job,
        "seed": fault_seed,
    }
    specs = with_faults(specs, {k: v for k, v in common.items() if v is not None}, fault)
    if single:
        raise typer.Exit(_sim_one(specs[0], listen, cuda_device or 0, dirs, root))
    main_foreground(specs, root, listen=listen)


def _sim_one(spec: Any, listen: str, cuda_device: int, dirs: dict[str, Any], root: Path) -> int:
    """Serve one simulated GPU in this process, like the ComfyUI server it stands in for."""
    from videofactory.sim.__main__ import main as sim_main
    from videofactory.sim.farm import fault_args

    argv = ["--listen", listen, "--port", str(spec.port), "--name", spec.name]
    argv += ["--card", spec.card, "--vram-gb", str(spec.vram_gb), "--gpu-speed"]
    argv += [str(spec.gpu_speed), "--time-scale", str(spec.time_scale)]
    argv += ["--cuda-device", str(cuda_device), *fault_args(spec.faults)]
    if all(v is None for v in dirs.values()):
        dirs = {"--base-directory": root / spec.name}
    for flag, value in dirs.items():
        if value is not None:
            argv += [flag, str(value)]
    return sim_main(argv)


def main() -> None:
    """Console-script entry point."""
    app()


from videofactory.assembly.command import assemble_command  # noqa: E402 (registered last)
from videofactory.launcher.cli import farm_app  # noqa: E402 (registered last)

app.add_typer(farm_app(_errors, out, err), name="farm")

app.command("assemble", epilog="Example: videofactory assemble RUN --transition crossfade --music song.mp3")(_errors(assemble_command))  # noqa: E501  # fmt: skip

from videofactory.runcli import logs_command, report_command, wait_command  # noqa: E402

app.command("wait", epilog="Example: videofactory wait 20261125-181500-warrior-in-mystical-3f2a --json")(_errors(wait_command))  # noqa: E501  # fmt: skip
app.command("logs", epilog="Example: videofactory logs 20261125-181500-warrior-in-mystical-3f2a --follow")(_errors(logs_command))  # noqa: E501  # fmt: skip
app.command("report", epilog="Example: videofactory report 20261125-181500-warrior-in-mystical-3f2a")(_errors(report_command))  # noqa: E501  # fmt: skip
