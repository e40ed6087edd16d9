"""Commands for watching runs: ``wait``, ``logs``, ``report``, and ``--detach``.

An agent directing the factory never waits on a GPU: ``generate ... --detach`` prints the run id
at once and a background process renders; ``show RUN`` tells where the run stands at any time,
``wait RUN`` follows it to its end (exit code 0 only if it ended well), ``logs RUN`` prints what
it logged, and ``report RUN`` writes its report again. ``app.py`` registers these.
"""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from videofactory.cli.options import console
from videofactory.constants import DEFAULT_WORKDIR
from videofactory.errors import RunFailed, StoreError, WaitTimeout

if TYPE_CHECKING:
    from rich.console import Console

    from videofactory.store import Store

__all__ = [
    "detach_new_plan",
    "detach_new_run",
    "detach_resume",
    "logs_command",
    "report_command",
    "status_lines",
    "wait_command",
]

RUN_ARG = typer.Argument(..., help="Run id (a unique prefix is enough).")
WORKDIR_OPT = typer.Option(
    Path(DEFAULT_WORKDIR), "--workdir", "-w", help="Folder of runs and of the run database."
)


def _out() -> "Console":
    return console()


def _err() -> "Console":
    return console(stderr=True)


def _store(workdir: Path) -> "Store":
    from videofactory.store import DB_NAME, Store, check_workdir

    if not (check_workdir(workdir) / DB_NAME).exists():
        raise StoreError(f"no run database in {workdir}; pass --workdir where the runs are")
    return Store.for_workdir(workdir)


# -- --detach ------------------------------------------------------------------------------------


def detach_new_run(
    shotlist: Any,
    farm: str | None,
    workdir: Path,
    as_json: bool,
    *,
    assemble: bool,
    debug: bool,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> None:
    """Record a new run, start a background process rendering it, print its id at once."""
    from videofactory.config import find_farm_file
    from videofactory.factory import record_run

    path = find_farm_file(farm)
    run_id, run_dir = record_run(
        shotlist, workdir=workdir, farm_file=path, assemble=assemble, music=music, fresh=fresh,
        settings=settings,
    )  # fmt: skip
    _spawn(run_id, run_dir, workdir, path, as_json, debug=debug, state="planned")


def detach_new_plan(
    request: Any,
    farm: str | None,
    workdir: Path,
    as_json: bool,
    *,
    debug: bool,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> None:
    """``generate --detach``: check the request, record the run as ``planning``, start the
    background process that plans and renders it, print its id at once (no planner loaded
    here: spaCy or an LLM would hold the command up for seconds)."""
    from videofactory.config import find_farm_file
    from videofactory.factory import record_planning

    path = find_farm_file(farm)
    run_id, run_dir = record_planning(
        request, workdir=workdir, farm_file=path, music=music, fresh=fresh, settings=settings
    )
    _spawn(run_id, run_dir, workdir, path, as_json, debug=debug, state="planning")


def detach_resume(run: str, farm: str | None, workdir: Path, as_json: bool, *, debug: bool) -> None:
    """Resume a run in a background process (refused while another process drives it)."""
    from videofactory.config import find_farm_file
    from videofactory.watching.follow import DRIVEN, run_status

    with _store(workdir) as store:
        status = run_status(store, run)
    if status.state in DRIVEN:
        raise StoreError(
            f"run {status.run_id} is being driven by process {status.driver_pid}; follow it "
            f"with `videofactory wait {status.run_id}`"
        )
    path = find_farm_file(farm) if farm else None
    _spawn(status.run_id, status.run_dir, workdir, path, as_json, debug=debug)


def _spawn(
    run_id: str,
    run_dir: Path,
    workdir: Path,
    farm: Path | None,
    as_json: bool,
    *,
    debug: bool,
    state: str | None = None,
) -> None:
    """Start ``videofactory resume RUN`` in the background; print the run id (``--json``: the
    run, its process and log, and ``state`` for a new run: planned, or planning)."""
    from videofactory.detach import resume_detached

    started = resume_detached(run_id, run_dir, workdir, farm, debug=debug)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "detached": True,
                    "run_id": run_id,
                    "run_dir": str(run_dir),
                    "pid": started.pid,
                    "log": started.log,
                    **({"state": state} if state else {}),
                }
            )
        )
        return
    print(run_id)  # alone on stdout: RUN=$(videofactory generate ... --detach)
    print(
        f"started in the background (process {started.pid}, log {started.log}); "
        f"follow it with `videofactory wait {run_id}`",
        file=sys.stderr,
    )


# -- wait -----------------------------------------------------------------------------------------


def wait_command(
    run: str = RUN_ARG,
    workdir: Path = WORKDIR_OPT,
    timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="Give up after this many seconds (exit 1; the run goes on)."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Show only the result, not the run's progress."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON object per event, one per line, ending with the result."
    ),
) -> None:
    """Follow a run to its end: its progress as it happens, then its result.

    Exit code 0 only if the run ended well (done, or rendered with --no-assemble); 1 if it
    failed, was cancelled, stopped with no process driving it, or --timeout passed.
    """
    from videofactory.watching.follow import follow, run_result
    from videofactory.watching.live import RunView

    with _store(workdir) as store:
        if quiet:
            status = follow(store, run, lambda ev: None, timeout_s=timeout)
        else:
            with RunView(json_lines=as_json, workdir=workdir) as view:
                status = follow(store, run, view, timeout_s=timeout)
        result = run_result(store, status)
    if not status.finished:
        raise WaitTimeout(
            f"run {status.run_id} is still {status.state} after {timeout:g} s; it goes on: "
            f"`videofactory wait {status.run_id}` again, or `videofactory show {status.run_id}`",
            run_id=status.run_id,
        )
    if not status.ok:
        why = " ".join((status.error or status.state).split())  # one line
        raise RunFailed(f"run {status.run_id} {status.state}: {why}", run_id=status.run_id)
    if as_json:
        print(json.dumps(result))
        return
    _print_done(result)


def _print_done(result: dict[str, Any]) -> None:
    out = _out()
    if result.get("duration_s") is not None:
        out.print(
            f"[bold green]{'preview' if result.get('preview') else 'done'}[/] {result['final']}  "
            f"{result['duration_s']:.2f} s  "
            f"{result['width']}x{result['height']} {result['fps']:g} fps  "
            f"{result['video_codec']}+{result['audio_codec']}  ({result['shots']} shots)"
        )
    else:
        out.print(f"[bold green]{result['state']}[/] {result['shots']} shots: {result['run_dir']}")
    if result.get("report"):
        out.print(f"report: {result['report']}", highlight=False)


# -- logs -----------------------------------------------------------------------------------------


def logs_command(
    run: str = RUN_ARG,
    workdir: Path = WORKDIR_OPT,
    follow_: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new lines until the run ends."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event, per line."),
) -> None:
    """Print a run's log: every event it recorded (retries, outages, tasks), oldest first."""
    from videofactory.events import Event
    from videofactory.watching.follow import follow, run_status, stored_events
    from videofactory.watching.live import format_line

    t0: list[float] = []

    def show(ev: Event) -> None:
        if as_json:
            print(json.dumps(ev.to_json()), flush=True)
            return
        if ev.kind == "run_started" and not t0:
            t0.append(ev.ts)
        print(format_line(ev, t0[0] if t0 else None), flush=True)

    with _store(workdir) as store:
        if follow_:
            status = follow(store, run, show)
        else:
            status = run_status(store, run)
            for ev in stored_events(store, status.run_id):
                show(ev)
    if status.state == "stopped" and not as_json:
        _err().print(f"[yellow]note:[/] {status.error}", highlight=False)


# -- report ---------------------------------------------------------------------------------------


def report_command(
    run: str = RUN_ARG,
    workdir: Path = WORKDIR_OPT,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder to write into (default: the run's folder)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Write a run's report: report.html (self-contained) and timeline.png, beside final.mp4."""
    from videofactory.report import TIMELINE_FILE, write_report

    with _store(workdir) as store:
        run_id = store.run(run)["id"]
        page = write_report(store, run_id, output)
    if as_json:
        print(json.dumps({"ok": True, "run_id": run_id, "report": str(page),
                          "timeline": str(page.with_name(TIMELINE_FILE))}))  # fmt: skip
        return
    print(page)


# -- show -----------------------------------------------------------------------------------------


def status_lines(status: Any, watch: Any, now: float) -> list[str]:
    """What ``show`` says of a run's state beyond the stored record (rich markup)."""
    from videofactory.watching.follow import DRIVEN

    done, total = status.tasks.get("done", 0), sum(status.tasks.values())
    style = {"done": "green", "rendered": "green", **dict.fromkeys(DRIVEN, "cyan")}.get(
        status.state, "red"
    )
    lines = [f"state: [bold {style}]{status.state}[/]  ({done}/{total} tasks done)"]
    if status.driver_pid and status.state in DRIVEN:
        how = "detached process" if status.detached else "process"
        lines.append(f"driven by {how} {status.driver_pid}")
        eta = watch.eta_s(now) if watch is not None else None
        if eta is not None:
            lines.append(f"about {eta:.0f} s left (estimate)")
    for job in status.in_flight if status.state in DRIVEN else []:
        lines.append(f"  {job['kind']} {job['shot_id'] or ''} on {job['worker']}: {job['state']}")
    if status.detached:
        lines.append(f"log: {status.detached.log}")
    if status.report:
        lines.append(f"report: {status.report}")
    if status.state == "stopped":
        lines.append(f"[yellow]{status.error}[/]")
    elif status.state == "planning":
        lines.append(f"planning its shot list; `videofactory wait {status.run_id}` follows it")
    return lines
