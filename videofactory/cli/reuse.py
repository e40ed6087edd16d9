"""``videofactory redo`` and ``videofactory cache status|prune``: iterating on a film without
rendering it again (``app.py`` registers them).

``redo RUN SHOT`` records a new run from the old one's plan with that shot edited; the artifact
cache gives it everything that did not change, so only the shot (and what depends on it)
renders. The cache lives in the work directory (``<workdir>/cache``); ``cache prune`` keeps it
bounded.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from videofactory.cli.options import (
    CACHE_GROUP_HELP,
    DETACH_OPT,
    JSON_OPT,
    RUN_JSON_OPT,
    WORKDIR_OPT,
    err,
    errors,
    example,
    out,
    state,
)
from videofactory.limits import MAX_TAKES

__all__ = ["cache_app", "redo_command"]

REDO_EPILOG = example(
    'videofactory redo 20261125-181500-warrior-in-mystical-3f2a s03 --prompt "the warrior '
    'kneels by the river at dawn"'
)


def redo_command(print_result: Callable[[Any, bool], None]) -> Callable[..., None]:
    """The ``redo`` command, printing its result as ``generate`` does (``print_result``)."""

    def redo(
        run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
        shot: str = typer.Argument(..., help="The shot to render again, by id (e.g. s03)."),
        prompt: str | None = typer.Option(None, "--prompt", help="The shot's new prompt."),
        seed: int | None = typer.Option(None, "--seed", min=0, help="The shot's new seed."),
        duration: float | None = typer.Option(
            None,
            "--duration",
            help="The shot's new length in seconds (the video's changes with it).",
        ),
        takes: int | None = typer.Option(
            None,
            "--takes",
            min=1,
            max=MAX_TAKES,
            help="Render N takes of the shot, each with its own seed (take 1 keeps the shot's "
            "seed); `videofactory pick` chooses one.",
        ),
        farm: str | None = typer.Option(
            None, "--farm", help="Farm file to use instead of the one the run recorded."
        ),
        workdir: Path = WORKDIR_OPT,
        detach: bool = DETACH_OPT,
        as_json: bool = RUN_JSON_OPT,
    ) -> None:
        """Render one shot of a run again, edited, as a new run: only that shot and what depends
        on it (its hero pass, a next shot that continues it) render; every other task comes from
        the artifact cache; the video is assembled anew. The old run is kept as it was.

        With no --prompt, --seed, --duration or --takes the shot gets a new seed: another take.
        """
        from videofactory.factory import redo_run

        if detach:
            from videofactory.cli.runs import detach_resume

            run_id, _, _ = redo_run(
                run, shot, workdir=workdir, prompt=prompt, seed=seed, duration=duration,
                takes=takes, farm_file=farm, detach=True,
            )  # fmt: skip
            detach_resume(run_id, farm, workdir, as_json, debug=bool(state["debug"]))
            return
        from videofactory.watching.live import RunView

        with RunView(json_lines=as_json, workdir=workdir) as view:
            _, _, result = redo_run(
                run, shot, workdir=workdir, prompt=prompt, seed=seed, duration=duration,
                takes=takes, farm_file=farm, on_event=view,
            )  # fmt: skip
        assert result is not None
        print_result(result, as_json)

    return redo


def cache_app() -> typer.Typer:
    """The ``cache`` sub-app."""
    app = typer.Typer(
        name="cache",
        help=CACHE_GROUP_HELP,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.command("status", epilog=example("videofactory cache status --json"))
    @errors
    def cache_status(workdir: Path = WORKDIR_OPT, as_json: bool = JSON_OPT) -> None:
        """Show what the artifact cache holds: entries and size by kind, how much of it run
        folders also hold (pruning that frees nothing), the oldest and newest use."""
        from videofactory.cache.artifacts import ArtifactCache

        with ArtifactCache.for_workdir(_workdir(workdir)) as cache:
            data = cache.status()
        if as_json:
            print(json.dumps({"ok": True, **data}))
            return
        if not data["entries"]:
            err.print(f"the artifact cache in {data['folder']} is empty", highlight=False)
            return
        kinds = ", ".join(
            f"{k} {v['entries']} ({_size(v['bytes'])})" for k, v in sorted(data["kinds"].items())
        )
        out.print(
            f"{data['folder']}: {data['entries']} entries, {_size(data['bytes'])} "
            f"({_size(data['shared_bytes'])} of it also in run folders)",
            highlight=False,
        )
        out.print(f"  {kinds}", highlight=False)
        out.print(
            f"  least recently used {_ago(data['oldest_use'])}, most recently "
            f"{_ago(data['newest_use'])}",
            highlight=False,
        )
        if data["temporary_files"]:
            out.print(
                f"  {data['temporary_files']} temporary file(s) of unfinished writes "
                "(`videofactory cache prune` sweeps those older than an hour)",
                highlight=False,
            )

    @app.command("prune", epilog=example("videofactory cache prune --max-gb 50 --older-than 30"))
    @errors
    def cache_prune(
        max_gb: float | None = typer.Option(
            None,
            "--max-gb",
            min=0,
            metavar="GB",
            help="Keep at most this many GB: least recently used go.",
        ),
        older_than: float | None = typer.Option(
            None,
            "--older-than",
            min=0,
            metavar="DAYS",
            help="Remove what no run has used for DAYS days.",
        ),
        workdir: Path = WORKDIR_OPT,
        as_json: bool = JSON_OPT,
    ) -> None:
        """Keep the artifact cache bounded: remove what was not used for --older-than days,
        then the least recently used until it holds --max-gb. Either way, sweep what killed
        writers left. A run folder's files are never touched: an entry a run folder also
        holds frees its space only once that run is deleted too."""
        from videofactory.cache.artifacts import ArtifactCache

        with ArtifactCache.for_workdir(_workdir(workdir)) as cache:
            report = cache.prune(
                max_bytes=None if max_gb is None else int(max_gb * 1024**3),
                older_than_s=None if older_than is None else older_than * 86400,
            )
        if as_json:
            print(json.dumps({"ok": True, **report.to_json()}))
            return
        out.print(
            f"removed {len(report.removed)} entries ({_size(report.removed_bytes)}, "
            f"{_size(report.freed_bytes)} freed; the rest is still held by run folders), "
            f"swept {report.swept} stray file(s); {report.entries_left} entries "
            f"({_size(report.bytes_left)}) left",
            highlight=False,
        )

    return app


def _workdir(workdir: Path) -> Path:
    from videofactory.errors import StoreError
    from videofactory.store import check_workdir

    checked = check_workdir(workdir)
    if not checked.is_dir():
        raise StoreError(f"no work directory {workdir}; pass --workdir where the runs are")
    return checked


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _ago(ts: Any) -> str:
    if ts is None:
        return "never"
    s = max(0.0, time.time() - float(ts))
    if s < 120:
        return f"{s:.0f} s ago"
    if s < 7200:
        return f"{s / 60:.0f} min ago"
    if s < 172800:
        return f"{s / 3600:.0f} h ago"
    return f"{s / 86400:.0f} days ago"
