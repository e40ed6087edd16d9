"""``videofactory pick RUN SHOT TAKE``: choose the take of a shot the film uses (``app.py``
registers it). The work is ``factory.pick_take``; this parses and prints."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from videofactory.cli.options import FARM_OPT, JSON_OPT, WORKDIR_OPT, example, out

__all__ = ["PICK_EPILOG", "pick_command"]

PICK_EPILOG = example("videofactory pick 20261125-181500-warrior-in-mystical-3f2a s03 2 --hero")


def pick_command(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    shot: str = typer.Argument(..., help="The shot, by id (e.g. s03)."),
    take: int = typer.Argument(..., help="The take the film uses (1, 2 ...: see its sheet)."),
    hero: bool = typer.Option(
        False,
        "--hero",
        help="Pick it as the best: the shot gets a hero pass (final-quality upscale) on this "
        "take even when the shot list did not mark it hero.",
    ),
    farm: str | None = FARM_OPT,
    workdir: Path = WORKDIR_OPT,
    as_json: bool = JSON_OPT,
    detach: bool = typer.Option(
        False,
        "--detach",
        help="A hero pass to render renders in a background process; print at once (follow "
        "it with `videofactory wait RUN`).",
    ),
) -> None:
    """Pick the take of a shot that the film uses (a run rendered with --takes N).

    Each shot's takes are on its contact sheet, takes/<shot>.jpg in the run's folder, with
    their automatic scores (`videofactory show RUN SHOT` lists them). The pick is recorded in
    the run; a run whose video is assembled is re-assembled at once, in place, as the next
    version of its video (final.v2.mp4 ...; the old one is kept). Nothing is rendered again
    but a hero pass on a take that has none yet: a shot marked hero (or picked with --hero)
    gets its hero pass on the picked take. A run still rendering takes the pick for its
    video, unless the pick would move a hero pass (then wait for the run first).
    """
    from videofactory.factory import pick_take

    if as_json:
        result = pick_take(run, shot, take, workdir=workdir, hero=hero, farm_file=farm,
                           detach=detach)  # fmt: skip
        print(json.dumps({"ok": True, **result}))
        return
    from videofactory.watching.live import RunView

    with RunView(json_lines=False, workdir=workdir) as view:
        result = pick_take(run, shot, take, workdir=workdir, hero=hero, farm_file=farm,
                           on_event=view, detach=detach)  # fmt: skip
    out.print(result["message"], highlight=False)
    if result["sheet"]:
        out.print(f"contact sheet: {result['sheet']}", highlight=False)
