"""The ``videofactory`` command: thin, it parses, calls the core and prints (rich or --json)."""

import json
from pathlib import Path
from typing import Any

import typer

from videofactory import __version__
from videofactory.cli.groups import with_lazy_groups
from videofactory.cli.options import (
    CACHE_GROUP_HELP,
    DETACH_OPT,
    FARM_GROUP_HELP,
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
    TAKES_OPT,
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


def _farm_app() -> typer.Typer:
    from videofactory.cli.launcher import farm_app

    return farm_app(_errors, out, err)


def _cache_app() -> typer.Typer:
    from videofactory.cli.reuse import cache_app

    return cache_app()


#: The settings of the app that its groups share.
_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    # Click's plain help, not Typer's rich panels: rendering those imports rich's Markdown,
    # tables and tracebacks, which alone would cost `--help` twice a bare `import typer, rich`
    # (bench/startup.py). Paragraphs that must keep their lines start with \b.
    "rich_markup_mode": None,
}

app = typer.Typer(
    name="videofactory",
    help="A video assembly line: concept -> shot list -> ComfyUI GPU farm -> FFmpeg -> video.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    # `farm` and `cache` are built when invoked, not whenever the program starts (cli.groups).
    cls=with_lazy_groups(
        {"farm": (_farm_app, FARM_GROUP_HELP), "cache": (_cache_app, CACHE_GROUP_HELP)},
        **_SETTINGS,
    ),
    **_SETTINGS,
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

#: ``--preview`` of generate and render: keyframes only, assembled into an animatic.
PREVIEW_OPT = typer.Option(
    False,
    "--preview",
    help="Render keyframes only (on the control GPU) and speak the narration, then assemble "
    "an animatic, <run>/preview.mp4: each keyframe held for its shot under a gentle move of "
    "the shot's camera, with the film's narration, music, subtitles and transitions. It "
    "takes seconds, not GPU hours; `videofactory render RUN` then renders the film, reusing "
    "the keyframes and narration.",
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
    takes: int | None = TAKES_OPT,
    preview: bool = PREVIEW_OPT,
    fresh: bool = FRESH_OPT,
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Plan a shot list for CONCEPT and render it into a finished video.

    --aspect 9:16 makes a vertical video for phones: keyframes and clips are generated
    upright (720x1280), and captions sit clear of the apps' buttons and text. What an earlier
    run in the work directory already made of the same plan (same seed, same farm workflows)
    is reused from its artifact cache; --fresh renders everything.

    --preview judges the plan first: keyframes only, assembled into an animatic in seconds
    (<run>/preview.mp4); `videofactory render RUN` of that run then renders the film.
    """
    from videofactory.assembly.soundtrack import music_setting
    from videofactory.planning.request import PlanRequest
    from videofactory.shotlist import frame_for

    sound = music_setting(music)  # a bad file is refused before anything is planned or run
    w, h = frame_for(aspect, width, height)
    request = PlanRequest(
        concept, duration, planner=planner, seed=seed, width=w, height=h, fps=fps,
        clip_s=clip_seconds, style=style, transition=transition, llm_url=llm_url,
        llm_kind=llm_kind, llm_model=llm_model, takes=takes,
    )  # fmt: skip
    if detach:  # checked here, planned by the background process: the id is printed at once
        from videofactory.cli.runs import detach_new_plan

        detach_new_plan(request, farm, workdir, as_json, debug=bool(_state["debug"]),
                        music=sound, fresh=fresh,
                        settings=_preview_settings(preview))  # fmt: skip
        return
    _render(_plan(request, farm), farm, workdir, as_json, music=sound, fresh=fresh,
            settings=_preview_settings(preview))  # fmt: skip


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
    from videofactory.planning.request import PlanRequest
    from videofactory.shotlist import dump_shotlist, frame_for

    w, h = frame_for(aspect, width, height)
    request = PlanRequest(
        concept, duration, planner=planner, seed=seed, width=w, height=h, fps=fps,
        clip_s=clip_seconds, style=style, transition=transition, llm_url=llm_url,
        llm_kind=llm_kind, llm_model=llm_model,
    )  # fmt: skip
    shotlist = _plan(request, farm)
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


def _plan(request: Any, farm: str | None) -> Any:
    """Plan a request (``planning.request``) with the farm file's LLM section and speech
    rate; what the planner says (the LLM it asks, why it fell back) goes to stderr."""
    from videofactory.config import find_farm_file, load_farm
    from videofactory.planning.request import plan_request

    path = find_farm_file(farm)
    config = load_farm(path) if path else None
    say = lambda line: err.print(line, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    return plan_request(request, config, say=say)


@app.command(epilog=example("videofactory render shots.yaml --preview --json"))
@_errors
def render(
    shotlist_file: Path = typer.Argument(
        ...,
        metavar="SHOTLIST_OR_RUN",
        help="A shot list YAML (from `plan`, maybe edited), or the id of a run in the work "
        "directory (a unique prefix is enough): its shot list is rendered again as a new run, "
        "e.g. the film of a preview.",
    ),
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
    takes: int | None = TAKES_OPT,
    preview: bool = PREVIEW_OPT,
    fresh: bool = FRESH_OPT,
    detach: bool = DETACH_OPT,
    as_json: bool = RUN_JSON_OPT,
) -> None:
    """Render a shot list (written by `plan`, or by hand) into a finished video.

    Edit a shot list and render it again: only the shots that changed (and what depends on
    them: a hero pass on a changed clip, a clip that continues a changed one) are rendered,
    the rest comes from the work directory's artifact cache, and the video is assembled anew.
    --fresh renders everything (what it makes is still cached).

    Preview first: `render shots.yaml --preview` makes the animatic (keyframes only, in
    seconds); `render RUN` of that preview renders the film as a new run, taking the
    keyframes and narration from the cache and its --music unless given again.

    --aspect, --style and --transition change the shot list for this render only (the YAML
    stays as it is; the run records what was rendered).
    """
    from videofactory.assembly.soundtrack import music_setting
    from videofactory.factory import adjusted_shotlist

    shotlist, recorded = _shotlist_or_run(shotlist_file, workdir)
    if music is None and recorded is not None:  # the music the run had (a preview's)
        music = recorded["settings"].get("music")
    sound = music_setting(music)  # a bad file is refused before any GPU work
    shotlist = adjusted_shotlist(
        shotlist, aspect=aspect, style=style, transition=transition, takes=takes
    )
    if dry_run:
        from videofactory.cli.farm import dry_run as check_plan

        check_plan(shotlist, farm, as_json, workdir=None if fresh else workdir, preview=preview)
        return
    _render(
        shotlist, farm, workdir, as_json, assemble=not no_assemble, detach=detach, music=sound,
        fresh=fresh, settings=_preview_settings(preview),
    )  # fmt: skip


def _preview_settings(preview: bool) -> dict[str, Any] | None:
    """What a run records of ``--preview`` (``factory.render_shotlist``'s settings)."""
    return {"preview": True} if preview else None


#: Suffixes of a shot list file (``render`` reads any other argument as a run id first).
SHOTLIST_SUFFIXES = (".yaml", ".yml", ".json")


def _shotlist_or_run(arg: Path, workdir: Path) -> tuple[Any, dict[str, Any] | None]:
    """The shot list ``render`` is given: a file, or the plan a run of ``workdir`` recorded
    (with that run's record: a preview rendered as the film); one clear error otherwise."""
    from videofactory.errors import ShotListError, StoreError
    from videofactory.shotlist import load_shotlist, parse_shotlist
    from videofactory.store import DB_NAME, Store, check_workdir

    if arg.exists() or arg.suffix.lower() in SHOTLIST_SUFFIXES or len(arg.parts) != 1:
        return load_shotlist(arg), None
    if (check_workdir(workdir) / DB_NAME).exists():
        with Store.for_workdir(workdir) as store:
            try:
                record = store.run(str(arg))
            except StoreError:
                record = None
            if record is not None:
                plan = parse_shotlist(store.planned(record["id"]), source=f"run {record['id']}")
                return plan, record
    raise ShotListError(
        f"{arg} is neither a shot list file nor a run in {workdir}; give a YAML from "
        "`videofactory plan` or a run id (`videofactory runs` lists them)"
    )


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
    summary["preview"] = result.preview
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
            f"[bold green]{'preview' if result.preview else 'done'}[/] {result.final}  "
            f"{m.duration_s:.2f} s  {m.width}x{m.height} {m.fps:g} fps  "
            f"{m.video_codec}+{m.audio_codec}  ({shots} shots in {result.elapsed_s:.1f} s)"
        )
    if result.preview:
        out.print(
            "an animatic of the keyframes, not the film; when the plan is right, render the "
            f"film (keyframes reused): videofactory render {result.run_id}",
            highlight=False,
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
            r["state"] + (" (preview)" if _is_preview(r) else ""),
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
    return {**{k: r.get(k) for k in keys}, "preview": _is_preview(r)}


def _is_preview(r: dict[str, Any]) -> bool:
    """Whether a run is a preview (keyframes only, its video an animatic)."""
    return bool((r.get("settings") or {}).get("preview"))


@app.command(epilog=example("videofactory show 20261125-181500-warrior-in-mystical-3f2a --json"))
@_errors
def show(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    shot: str | None = typer.Argument(
        None, help="One shot (e.g. s03): its tasks, artifacts and takes only."
    ),
    workdir: Path = WORKDIR_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Show one run at any time: its state, shot list, tasks, attempts and artifacts.

    The state is told at any moment, also while a detached process renders the run: planning
    (generate --detach plans in its background process), starting, running (with the jobs
    in flight and an estimate of the time left), stopped (no process drives it: resume it),
    done, rendered, failed (a planning failure says why) or cancelled.

    A run rendered with --takes lists each shot's takes with their automatic scores (what the
    score measures is printed with them), the pick (`videofactory pick`), the take the film
    uses and the shot's contact sheet.
    """
    import time

    from rich.table import Table

    from videofactory.cli.runs import status_lines
    from videofactory.planning.choose import planner_summary, planner_text
    from videofactory.report.data import look_rows
    from videofactory.store import DB_NAME, Store, StoreError, check_workdir
    from videofactory.vocabulary import TaskId
    from videofactory.watching.follow import DRIVEN, replay, run_status

    if not (check_workdir(workdir) / DB_NAME).exists():
        raise StoreError(f"no run database in {workdir}; pass --workdir where the runs are")
    with Store.for_workdir(workdir) as store:
        r = store.run(run)
        live = run_status(store, r["id"])
        watch = replay(store, r["id"]) if live.state in DRIVEN else None
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
            "planner": planner_summary(_planned_by(store.plan(r["id"]), r["settings"])),
            "redo_of": _redo_of(r["settings"]),
            "tasks_reused": store.reuse_counts(r["id"])[0],
            **_takes_of(store, r["id"]),
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
        if shot is not None:
            data = _one_shot(data, shot)
    now = time.time()
    data["live"]["eta_s"] = watch.eta_s(now) if watch is not None else None
    if as_json:
        print(json.dumps(data))
        return
    out.print(
        f"[bold]{data['id']}[/]  {data['state']}  {data['concept']!r}  {data['duration']:g} s"
        + ("  [bold]preview[/] (keyframes only, an animatic)" if data["preview"] else "")
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
        out.print(f"{'preview' if data['preview'] else 'final'}: {data['final_path']}")
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
    _print_takes(data)


def _takes_of(store: Any, run_id: str) -> dict[str, Any]:
    """The run's takes for ``show`` (``farm/picking.takes_summary``) and what the score
    measures."""
    from videofactory.assembly.takes import SCORE_MEANS
    from videofactory.farm.picking import takes_summary
    from videofactory.shotlist import parse_shotlist

    plan = store.plan(run_id)
    if not plan.get("shots"):  # not planned yet (generate --detach), or its planning failed
        return {"takes": {}, "score_means": SCORE_MEANS}
    shotlist = parse_shotlist(plan, source=f"run {run_id}")
    return {"takes": takes_summary(store, run_id, shotlist), "score_means": SCORE_MEANS}


def _one_shot(data: dict[str, Any], shot: str) -> dict[str, Any]:
    """``show RUN SHOT``: the run's summary with only that shot's shot, tasks, attempts,
    artifacts and takes."""
    from videofactory.errors import ShotListError

    ids = [s["id"] for s in data["shots"]]
    if not ids:  # not planned yet, or its planning failed: `show RUN` says which
        raise ShotListError(
            f"run {data['id']} has no shots yet ({data['state']}); `videofactory show "
            f"{data['id']}` says more"
        )
    if shot not in ids:
        raise ShotListError(
            f"run {data['id']} has no shot {shot!r}; its shots are {', '.join(ids[:12])}"
            + (f" and {len(ids) - 12} more" if len(ids) > 12 else "")
        )
    tasks = {t["id"] for t in data["tasks"] if t["shot_id"] == shot}
    return {
        **data,
        "shot": shot,
        "shots": [s for s in data["shots"] if s["id"] == shot],
        "tasks": [t for t in data["tasks"] if t["id"] in tasks],
        "attempts": [a for a in data["attempts"] if a["task_id"] in tasks],
        "artifacts": [a for a in data["artifacts"] if a["task_id"] in tasks],
        "takes": {k: v for k, v in data["takes"].items() if k == shot},
    }


def _print_takes(data: dict[str, Any]) -> None:
    if not data["takes"]:
        return
    out.print(f"takes (score: {data['score_means']}):", highlight=False)
    for shot, info in data["takes"].items():
        parts = []
        for t in info["takes"]:
            score = "not scored" if t["score"] is None else f"{t['score']:.2f}"
            mark = " *" if t["used"] else ""
            parts.append(f"take {t['take']} {score}{mark}")
        why = (
            f"picked{' as the best (hero)' if info['pick']['hero'] else ''}"
            if info["pick"]
            else ("best score")
        )
        line = f"  {shot}: {', '.join(parts)}; the film uses take {info['uses']} ({why})"
        if info["hero"] is not None:
            line += f"; hero pass on take {info['hero']['take']} ({info['hero']['state']})"
        out.print(line, highlight=False, markup=False)
        if info["sheet"]:
            out.print(f"    sheet: {info['sheet']}", highlight=False, markup=False)
    out.print(f"pick another with: videofactory pick {data['id']} SHOT TAKE", highlight=False)


def _planned_by(plan: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A recorded plan; for a run not planned yet (``generate --detach``), the planner it
    asked for, marked as such."""
    asked = settings.get("planning") or {}
    if plan.get("shots") or not asked:
        return plan
    return {**plan, "planner": f"{asked.get('planner', 'auto')} (not planned)"}


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

from videofactory.cli.reuse import REDO_EPILOG, redo_command  # noqa: E402

app.command("redo", epilog=REDO_EPILOG)(_errors(redo_command(_print_result)))

from videofactory.cli.takes import PICK_EPILOG, pick_command  # noqa: E402

app.command("pick", epilog=PICK_EPILOG)(_errors(pick_command))

from videofactory.cli.mcp import MCP_EPILOG, mcp_command  # noqa: E402

app.command("mcp", epilog=MCP_EPILOG)(_errors(mcp_command))
