"""``videofactory assemble RUN``: re-assemble a finished run as a new version, no GPU work.

It finds every shot's clip (or hero pass) and narration in the run database, builds a
timeline with the options given (transition, music, aspect, resolution, reframing, burned
subtitles; the music the run was made with unless ``--music`` says otherwise), renders it
beside the old final as ``final.v2.mp4`` (then ``.v3``...) with its subtitles, thumbnail and
contact sheet, and records it in the run database.

Another aspect (``--aspect 9:16`` of a 16:9 run) is reframed by a crop that follows each
shot's subject (``--reframe follow``, the default; see ``reframe`` and ``saliency``), or
from the middle (``center``), or letterboxed as before (``pad``).
"""

import json
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from videofactory.cli.options import console
from videofactory.constants import DEFAULT_WORKDIR
from videofactory.presets import ASPECTS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from videofactory.assembly.reassemble import Progress

__all__ = ["assemble_command"]


@contextmanager
def _progress_bar(*, quiet: bool) -> "Iterator[Progress]":
    """A progress bar on stderr (none when quiet or not a terminal), told by the assembly."""
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    progress_console = console(stderr=True)
    with Bar(
        TextColumn("assembling {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=progress_console,
        disable=quiet or not progress_console.is_terminal,
    ) as bar:
        task = bar.add_task("", total=1.0)
        yield lambda name, done: bar.update(task, description=name, completed=done)


def assemble_command(
    run: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    transition: str | None = typer.Option(
        None,
        "--transition",
        "-t",
        help="One transition for every shot: cut, crossfade, fadeblack, or any ffmpeg xfade "
        "transition (wipeleft, circleopen, dissolve, ...). Default: each shot's own, as the "
        "shot list says (the planner's choice per beat; cut where it says none).",
    ),
    transition_seconds: float = typer.Option(
        0.5, "--transition-seconds", help="Length of each transition."
    ),
    music: str | None = typer.Option(
        None,
        "--music",
        "-m",
        metavar="FILE|none|auto",
        help="Background music (looped or trimmed, ducked, faded out), 'none', or 'auto' (the "
        "bed generated for the film). Default: what the run was made with.",
    ),
    music_level: float | None = typer.Option(
        None,
        "--music-level",
        help="Music loudness relative to the narration, in LU (default: -8 for a file, -10 "
        "for the generated bed).",
    ),
    aspect: str | None = typer.Option(
        None, "--aspect", help=f"Aspect preset: {', '.join(ASPECTS)} (default: the run's)."
    ),
    resolution: str | None = typer.Option(
        None, "--resolution", help="Resolution preset: 480p, 720p, 1080p, 4K (default: the run's)."
    ),
    reframe: str = typer.Option(
        "follow",
        "--reframe",
        help="How clips of another shape fill the frame: follow (a crop that follows each "
        "shot's subject), center (a crop from the middle) or pad (black bars).",
    ),
    fit: str | None = typer.Option(None, "--fit", hidden=True, help="Old name of --reframe."),
    burn_subtitles: bool = typer.Option(
        False, "--burn-subtitles", help="Burn the narration into the picture too."
    ),
    loudness: float = typer.Option(
        -14.0, "--loudness", help="Target integrated loudness in LUFS (true peak <= -1 dBTP)."
    ),
    ffmpeg: str | None = typer.Option(
        None,
        "--ffmpeg",
        envvar="VIDEOFACTORY_FFMPEG",
        help="The ffmpeg binary to use (default: a capable one on PATH, else the bundled one).",
    ),
    workdir: Path = typer.Option(
        Path(DEFAULT_WORKDIR), "--workdir", "-w", help="Folder of runs and of the run database."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Re-assemble a finished run with new settings as a new version (no GPU work).

    With --aspect 9:16 a 16:9 run becomes a vertical video: each shot is cropped to a window
    that follows its subject (measured in the pictures), not letterboxed; --reframe pad
    keeps the black bars, --reframe center crops the middle.
    """
    # Imported here, not at the top: `videofactory --help` imports this module to list the
    # command, and should not load the database, the ffmpeg runner or PyAV for it.
    from videofactory.assembly.reassemble import reassemble_run

    with _progress_bar(quiet=as_json) as progress:
        summary = reassemble_run(
            run,
            workdir=workdir,
            transition=transition,
            transition_seconds=transition_seconds,
            music=music,
            music_level=music_level,
            aspect=aspect,
            resolution=resolution,
            reframe=fit if fit is not None else reframe,
            burn_subtitles=burn_subtitles,
            loudness=loudness,
            ffmpeg=ffmpeg,
            on_progress=progress,
        )
    if as_json:
        print(json.dumps(summary))
        return
    console().print(
        f"[bold green]done[/] {summary['final']}  v{summary['version']}  "
        f"{summary['duration_s']:.2f} s  {summary['width']}x{summary['height']}  "
        f"{summary['transition']}  {summary['sound']}"
        f"\nsubtitles {summary['srt']}, thumbnail {summary['thumbnail']}",
        highlight=False,
    )
