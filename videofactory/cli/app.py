"""The ``videofactory`` command: thin, it parses, calls the core and prints (rich or --json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from videofactory import __version__
from videofactory.cli.options import (
    DETACH_OPT,
    FARM_OPT,
    FRESH_OPT,
    JSON_OPT,
    LLM_KIND_OPT,
    LLM_MODEL_OPT,
    LLM_URL_OPT,
    MUSIC_OPT,
    PLANNER_OPT,
    RUN_JSON_OPT,
    STYLE_OPT,
    WORKDIR_OPT,
    err,
    example,
    out,
)
from videofactory.cli.options import errors as _errors
from videofactory.cli.options import state as _state
from videofactory.constants import (
    DEFAULT_CLIP_SECONDS,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="videofactory",
    help="A video assembly line: concept -> shot list -> ComfyUI GPU farm -> FFmpeg -> video.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help, not Typer's rich panels: rendering those imports rich's Markdown,
    # tables and tracebacks, which alone would cost `--help` twice a bare `import typer, rich`
    # (bench/startup.py). Paragraphs that must keep their lines start with \b.
    rich_markup_mode=None,
)


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

#: How shots join: the planner's choice per beat, or one for all (``planning.TRANSITION_MODES``).
TRANSITION_PLAN_OPT = typer.Option(
    "auto",
    "--transition",
    help="How shots join: auto (the planner's choice per beat: cuts within a scene, "
    "dissolves where time passes), cut, or crossfade for every shot.",
)


#: The planning options ``generate`` and ``plan`` share.
DURATION_OPT = typer.Option(30.0, "--duration", "-d", help="Length in seconds.")
FPS_OPT = typer.Option(DEFAULT_FPS, "--fps", help="Output frame rate.")
SEED_OPT = typer.Option(0, "--seed", help="Planner seed: the same seed gives the same plan.")
CLIP_SECONDS_OPT = typer.Option(
    None,
    "--clip-seconds",
    help="Length of one generated clip, which sets the number of shots "
    f"(default: the farm file's clip_seconds, else {DEFAULT_CLIP_SECONDS:g}).",
)

#: ``--aspect`` of generate, plan and render: the frame's shape, made natively.
ASPECT_OPT = typer.Option(
    None,
    "--aspect",
    help="Frame shape, e.g. 16:9, 9:16 (vertical, for phones: 720x1280) or 1:1; keyframes "
    "and clips are made in it. With --width or --height, that side sets the other.",
)
WIDTH_OPT = typer.Option(None, "--width", help=f"Output width in pixels (default {DEFAULT_WIDTH}).")
HEIGHT_OPT = typer.Option(
    None, "--height", help=f"Output height in pixels (default {DEFAULT_HEIGHT})."
)


@app.command(epilog=example('videofactory generate "warrior in mystical forest" --duration 30'))
@_errors
def generate(
    concept: str = typer.Argument(..., help="What the video is about."),
    duration: float = DURATION_OPT,
    farm: str | None = FARM_OPT,
    workdir: Path = WORKDIR_OPT,
    aspect: str | None = ASPECT_OPT,
    width: int | None = WIDTH_OPT,
    height: int | None = HEIGHT_OPT,
    fps: int = FPS_OPT,
    seed: int = SEED_OPT,
    clip_seconds: float | None = CLIP_SECONDS_OPT,
    planner: str = PLANNER_OPT,
    llm_url: str | None = LLM_URL_OPT,
    llm_model: str | None = LLM_MODEL_OPT,
    llm_kind: str | None = LLM_KIND_OPT,
    style: str | None = STYLE_OPT,
    music: str | None = MUSIC_OPT,
    transition: str = TRANSITION_PLAN_OPT,
    fresh: bool = FRESH_OPT,
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Plan a shot list for CONCEPT and render it into a finished video.

    --aspect 9:16 makes a vertical video for phones: keyframes and clips are generated
    upright (720x1280), and captions sit clear of the apps' buttons and text. What an earlier
    run in the work directory already made of the same plan (same seed, same farm workflows)
    is reused from its artifact cache; --fresh renders everything.
    """
    from videofactory.assembly.soundtrack import music_setting
    from videofactory.shotlist import frame_for

    sound = music_setting(music)  # a bad file is refused before anything is planned or run
    shotlist = _plan(
        concept,
        duration,
        planner=planner,
        farm=farm,
        style=style,
        llm=(llm_url, llm_kind, llm_model),
        size=(*frame_for(aspect, width, height), fps, seed, clip_seconds),
        transition=transition,
    )
    _render(shotlist, farm, workdir, as_json, detach=detach, music=sound, fresh=fresh)


@app.command(epilog=example('videofactory plan "warrior in mystical forest" -d 30 -o shots.yaml'))
@_errors
def plan(
    concept: str = typer.Argument(..., help="What the video is about."),
    duration: float = DURATION_OPT,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the YAML here."),
    aspect: str | None = ASPECT_OPT,
    width: int | None = WIDTH_OPT,
    height: int | None = HEIGHT_OPT,
    fps: int = FPS_OPT,
    seed: int = SEED_OPT,
    clip_seconds: float | None = CLIP_SECONDS_OPT,
    planner: str = PLANNER_OPT,
    llm_url: str | None = LLM_URL_OPT,
    llm_model: str | None = LLM_MODEL_OPT,
    llm_kind: str | None = LLM_KIND_OPT,
    style: str | None = STYLE_OPT,
    transition: str = TRANSITION_PLAN_OPT,
    farm: str | None = FARM_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Write a shot list for CONCEPT (YAML) to edit before rendering; no GPU is used.

    The YAML format is described in docs/shotlist.md. An LLM plans it when one is configured
    (--llm-url/--llm-model, $VIDEOFACTORY_LLM_*, $ANTHROPIC_API_KEY, or the farm file's llm
    section) and answers; else the rules planner. The plan's `planner` and `llm` say which.
    """
    from videofactory.errors import ConfigError
    from videofactory.shotlist import dump_shotlist, frame_for

    shotlist = _plan(
        concept,
        duration,
        planner=planner,
        farm=farm,
        style=style,
        llm=(llm_url, llm_kind, llm_model),
        size=(*frame_for(aspect, width, height), fps, seed, clip_seconds),
        transition=transition,
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
    style: str | None,
    llm: tuple[str | None, str | None, str | None],
    size: tuple[int, int, int, int, float | None],
    transition: str = "auto",
) -> Any:
    """Plan with the named planner; the LLM's settings come from flags, env, then farm file.
    Narration is timed at the rate of the farm's speech engine."""
    from videofactory.config import configured_llm, find_farm_file, load_farm, resolve_llm
    from videofactory.planning import plan_shotlist
    from videofactory.planning.speech import speaking_rate

    width, height, fps, seed, clip_s = size
    settings = None
    path = find_farm_file(farm)
    config = load_farm(path) if path else None
    if clip_s is None:
        # As many shots as the farm's scene workflow makes clips of this length.
        clip_s = config.clip_seconds if config else DEFAULT_CLIP_SECONDS
    url, kind, model = llm
    if planner == "llm":
        settings = resolve_llm(config, endpoint=url, kind=kind, model=model)
    elif planner == "auto":
        settings = configured_llm(config, endpoint=url, kind=kind, model=model)
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
        style=style,
        say=lambda line: err.print(line, markup=False, highlight=False, soft_wrap=True),
        rate=speaking_rate(config.speech if config else None),
        transition=transition,
    )


@app.command(epilog=example("videofactory render shots.yaml --aspect 9:16 --json"))
@_errors
def render(
    shotlist_file: Path = typer.Argument(..., help="A shot list YAML (from `plan`, maybe edited)."),
    farm: str | None = FARM_OPT,
    workdir: Path = WORKDIR_OPT,
    no_assemble: bool = typer.Option(
        False, "--no-assemble", help="Render and speak every shot but stop before FFmpeg."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check the plan against the farm and print its tasks per kind, the workers able "
        "to run them, which tasks the artifact cache would give and which would run, and the "
        "estimated GPU seconds of those; nothing is recorded or submitted (exit code 1 when "
        "the farm cannot run it).",
    ),
    aspect: str | None = typer.Option(
        None,
        "--aspect",
        help="Render in another shape than the shot list's, keeping its short side "
        "(a 1280x720 plan at 9:16 is made as 720x1280 keyframes and clips).",
    ),
    style: str | None = typer.Option(
        None,
        "--style",
        help="Render in another look: replaces the shot list's style in every prompt "
        '(e.g. "watercolour, soft pastel light").',
    ),
    transition: str | None = typer.Option(
        None,
        "--transition",
        help="One join for every shot: cut, crossfade, fadeblack or any ffmpeg xfade name "
        "(default: each shot's own, as planned).",
    ),
    music: str | None = MUSIC_OPT,
    fresh: bool = FRESH_OPT,
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Render a shot list (written by `plan`, or by hand) into a finished video.

    Edit a shot list and render it again: only the shots that changed (and what depends on
    them: a hero pass on a changed clip, a clip that continues a changed one) are rendered,
    the rest comes from the work directory's artifact cache, and the video is assembled anew.
    --fresh renders everything (what it makes is still cached).

    --aspect, --style and --transition change the shot list for this render only (the YAML
    stays as it is; the run records what was rendered).
    """
    from videofactory.assembly.soundtrack import music_setting
    from videofactory.shotlist import load_shotlist, reshaped, with_transition

    sound = music_setting(music)  # a bad file is refused before any GPU work
    shotlist = load_shotlist(shotlist_file)
    if aspect is not None:
        shotlist = reshaped(shotlist, aspect)
    if style is not None:
        from videofactory.planning.style import apply_style
        from videofactory.planning.validate import check_style

        shotlist = apply_style(shotlist, check_style(style))
    if transition is not None:
        shotlist = with_transition(shotlist, transition)
    if dry_run:
        from videofactory.cli.farm import dry_run as check_plan

        check_plan(shotlist, farm, as_json, workdir=None if fresh else workdir)
        return
    _render(
        shotlist, farm, workdir, as_json, assemble=not no_assemble, detach=detach, music=sound,
        fresh=fresh,
    )  # fmt: skip


def _render(
    shotlist: Any,
    farm: str | None,
    workdir: Path,
    as_json: bool,
    *,
    assemble: bool = True,
    detach: bool = False,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> None:
    if detach:  # before the imports below: the render's process makes them, not this one
        from videofactory.cli.runs import detach_new_run

        detach_new_run(
            shotlist, farm, workdir, as_json, assemble=assemble, debug=bool(_state["debug"]),
            music=music, fresh=fresh, settings=settings,
        )  # fmt: skip
        return
    from videofactory.factory import render_shotlist
    from videofactory.watching.live import RunView

    with RunView(json_lines=as_json, workdir=workdir) as view:
        result = render_shotlist(
            shotlist, workdir=workdir, farm_file=farm, on_event=view, assemble=assemble,
            music=music, fresh=fresh, settings=settings,
        )  # fmt: skip
    _print_result(result, as_json)


@app.command(epilog=example("videofactory resume 20261125-181500-warrior-in-mystical-3f2a"))
@_errors
def resume(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    farm: str | None = typer.Option(
        None, "--farm", help="Farm file to use instead of the one the run recorded."
    ),
    workdir: Path = WORKDIR_OPT,
    heroes: bool = typer.Option(
        False,
        "--heroes",
        help="Also render the hero passes the run went without (no GPU could take them "
        "then) and assemble a new version of the video; the old one is kept.",
    ),
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Carry a stopped run to its end: finished work is reused, jobs still on the servers are
    collected, and only work that was truly lost is rendered again.

    With --heroes, a finished run whose shots went out without their hero pass gets them now.
    """
    from videofactory.factory import reopen_heroes, resume_run
    from videofactory.watching.live import RunView

    if heroes:
        shots = reopen_heroes(run, workdir=workdir)
        if not as_json:
            err.print(
                f"hero passes due again: {', '.join(shots)}"
                if shots
                else "no shot of this run lacks its hero pass",
                highlight=False,
            )
    if detach:
        from videofactory.cli.runs import detach_resume

        detach_resume(run, farm, workdir, as_json, debug=bool(_state["debug"]))
        return
    with RunView(json_lines=as_json, workdir=workdir) as view:
        result = resume_run(run, workdir=workdir, farm_file=farm, on_event=view)
    _print_result(result, as_json)


@app.command(epilog=example("videofactory cancel 20261125-181500-warrior-in-mystical-3f2a"))
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
    summary["heroes_missing"] = result.heroes_missing
    summary["tasks_reused"] = result.tasks_reused
    summary["tasks_rendered"] = result.tasks_rendered
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
    if result.tasks_reused:
        out.print(
            f"reused {result.tasks_reused} task(s) from the cache, rendered "
            f"{result.tasks_rendered}",
            highlight=False,
        )
    for shot, why in result.heroes_missing.items():
        out.print(f"[yellow]shot {shot} has no hero pass[/]: {why}", highlight=False)
    if result.heroes_missing:
        out.print(f"add them later with: videofactory resume {result.run_id} --heroes")
    if summary["report"]:
        out.print(f"report: {summary['report']}", highlight=False)
    out.print(f"inspect with: videofactory show {result.run_id}")


# -- runs / show ----------------------------------------------------------------------------


@app.command(epilog=example("videofactory runs --json"))
@_errors
def runs(workdir: Path = WORKDIR_OPT, as_json: bool = JSON_OPT) -> None:
    """List the runs in the work directory, newest first."""
    from rich.table import Table

    from videofactory.store import DB_NAME, Store, check_workdir

    if not (check_workdir(workdir) / DB_NAME).exists():
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


@app.command(epilog=example("videofactory show 20261125-181500-warrior-in-mystical-3f2a --json"))
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

    from rich.table import Table

    from videofactory.cli.runs import status_lines
    from videofactory.planning.choose import planner_summary, planner_text
    from videofactory.report.data import look_rows
    from videofactory.store import DB_NAME, Store, StoreError, check_workdir
    from videofactory.vocabulary import TaskId
    from videofactory.watching.follow import replay, run_status

    if not (check_workdir(workdir) / DB_NAME).exists():
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
            "heroes_missing": live.heroes_missing,
            "planner": planner_summary(store.plan(r["id"])),
            "redo_of": _redo_of(r["settings"]),
            "tasks_reused": store.reuse_counts(r["id"])[0],
            "look": [
                {
                    "name": lk.name,
                    "path": str(lk.picture) if lk.picture else None,
                    "given": lk.given,
                    "worker": lk.worker,
                }
                for lk in look_rows(
                    store.plan(r["id"]), store.tasks(r["id"]), store.artifacts(r["id"])
                )
            ],
        }
    now = time.time()
    data["live"]["eta_s"] = watch.eta_s(now) if watch is not None else None
    if as_json:
        print(json.dumps(data))
        return
    out.print(
        f"[bold]{data['id']}[/]  {data['state']}  {data['concept']!r}  {data['duration']:g} s"
    )
    out.print(f"planner: {planner_text(data['planner'])}", highlight=False, markup=False)
    if data["redo_of"]:
        redo = data["redo_of"]
        out.print(
            f"redo of {redo['run']}: shot {redo['shot']} with {', '.join(redo['changes'])} changed",
            highlight=False,
        )
    if data["tasks_reused"]:
        out.print(f"{data['tasks_reused']} task(s) reused from the artifact cache")
    if data["final_path"]:
        out.print(f"final: {data['final_path']}")
    if data["error"]:
        out.print(f"[red]error:[/] {data['error']}")
    for shot, why in live.heroes_missing.items():
        out.print(f"[yellow]no hero pass for {shot}:[/] {why}", highlight=False)
    for lk in data["look"]:
        whence = "your picture" if lk["given"] else f"made on {lk['worker'] or '-'}"
        out.print(f"look {lk['name']}: {lk['path'] or '(not made yet)'} ({whence})",
                  highlight=False, markup=False)  # fmt: skip
    for line in status_lines(live, watch, now):
        out.print(line, highlight=False)
    table = Table("task", "state", "worker", "seconds", "error")
    for t in data["tasks"]:
        secs = (
            f"{t['finished_at'] - t['started_at']:.1f}"
            if t["started_at"] and t["finished_at"] and t["state"] == "done"
            else ""
        )
        table.add_row(
            TaskId.parse(t["id"]).label,
            t["state"],
            t["worker"] or "",
            secs,
            (t["error"] or "")[:60],
        )
    out.print(table)


def _redo_of(settings: dict[str, Any]) -> dict[str, Any] | None:
    """What a run made by ``redo`` redid: the run, the shot and the changes (None otherwise)."""
    if not settings.get("redo_of"):
        return None
    return {
        "run": settings["redo_of"],
        "shot": settings.get("redo_shot"),
        "changes": settings.get("changes", {}),
    }


def main() -> None:
    """Console-script entry point."""
    app()


from videofactory.cli.assemble import assemble_command  # noqa: E402 (registered last)
from videofactory.cli.launcher import farm_app  # noqa: E402 (registered last)

app.add_typer(farm_app(_errors, out, err), name="farm")

app.command("assemble", epilog=example("videofactory assemble RUN --transition crossfade --music song.mp3"))(_errors(assemble_command))  # noqa: E501  # fmt: skip

from videofactory.cli.farm import status, test  # noqa: E402
from videofactory.cli.runs import logs_command, report_command, wait_command  # noqa: E402
from videofactory.cli.sim import SIM_EPILOG, sim  # noqa: E402

app.command("status", epilog=example("videofactory status --farm factory.yaml --json"))(status)
app.command("test", epilog=example("videofactory test --url http://127.0.0.1:8188 --workflow my_flux_api.json"))(test)  # noqa: E501  # fmt: skip
# ComfyUI's command line works unchanged for `sim`: flags that mean nothing here are ignored.
app.command(
    "sim",
    epilog=SIM_EPILOG,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)(sim)

app.command("wait", epilog=example("videofactory wait 20261125-181500-warrior-in-mystical-3f2a --json"))(_errors(wait_command))  # noqa: E501  # fmt: skip
app.command("logs", epilog=example("videofactory logs 20261125-181500-warrior-in-mystical-3f2a --follow"))(_errors(logs_command))  # noqa: E501  # fmt: skip
app.command("report", epilog=example("videofactory report 20261125-181500-warrior-in-mystical-3f2a"))(_errors(report_command))  # noqa: E501  # fmt: skip

from videofactory.cli.reuse import REDO_EPILOG, cache_app, redo_command  # noqa: E402

app.command("redo", epilog=REDO_EPILOG)(_errors(redo_command(_print_result)))
app.add_typer(cache_app(), name="cache")
