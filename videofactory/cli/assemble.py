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
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from videofactory.cli.options import console
from videofactory.constants import DEFAULT_WORKDIR
from videofactory.errors import ConfigError
from videofactory.presets import ASPECTS, shape_size

if TYPE_CHECKING:
    from videofactory.assembly.ffmpeg import FFmpeg
    from videofactory.assembly.probe import MediaInfo
    from videofactory.assembly.timeline import FitMode, Timeline

__all__ = ["assemble_command"]


def _assemble_version(
    run_dir: Path, timeline: "Timeline", binary: "FFmpeg", *, quiet: bool
) -> tuple[int, Path, "MediaInfo"]:
    """Render the run's next free version (``final.v2.mp4``...) with a progress bar.

    Two ``assemble`` commands of one run at the same time would pick the same number: the
    one that finds it taken (``OutputBusy``: being made, or made meanwhile) takes the next.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from videofactory.assembly.outputs import OutputBusy
    from videofactory.assembly.render import assemble
    from videofactory.assembly.runfiles import next_version

    progress_console = console(stderr=True)
    making: set[int] = set()
    while True:
        version, out = next_version(run_dir, making=making)
        with Progress(
            TextColumn(f"assembling {out.name}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(),
            console=progress_console,
            disable=quiet or not progress_console.is_terminal,
        ) as bar:
            task = bar.add_task("ffmpeg", total=1.0)
            try:
                info = assemble(
                    timeline,
                    out,
                    ffmpeg=binary,
                    on_progress=lambda done, bar=bar, task=task: bar.update(task, completed=done),
                    new=True,
                )
            except OutputBusy:
                making.add(version)
                continue
        return version, out, info


#: What ``--reframe`` takes: each name and the fit mode it stands for.
REFRAMES: dict[str, str] = {
    "follow": "follow",
    "center": "crop",
    "centre": "crop",
    "crop": "crop",
    "pad": "pad",
}


def _fit_mode(reframe: str) -> "FitMode":
    """The fit mode ``--reframe`` names."""
    mode = REFRAMES.get(reframe.strip().lower())
    if mode is None:
        raise ConfigError(
            f"--reframe must be follow (a crop that follows the subject), center (a crop from "
            f"the middle) or pad (black bars), got {reframe!r}"
        )
    return mode  # type: ignore[return-value]


def _output(plan: dict[str, object], aspect: str | None, resolution: str | None, fit: "FitMode"):
    """The run's own size and rate, or the presets asked for."""
    from videofactory.assembly.timeline import OutputSpec

    width = int(plan.get("width", 1280))  # type: ignore[call-overload]
    height = int(plan.get("height", 720))  # type: ignore[call-overload]
    fps = int(plan.get("fps", 24))  # type: ignore[call-overload]
    if aspect is None and resolution is None:
        return OutputSpec(width, height, fps, fit=fit)
    if aspect is None:
        aspect = "16:9" if width > height else "9:16" if height > width else "1:1"
    if resolution is None:  # the run's short side: a 1280x720 run becomes 720x1280
        width, height = shape_size(aspect, min(width, height))
        return OutputSpec(width, height, fps, fit=fit)
    return OutputSpec.from_presets(aspect, resolution, fps=fps, fit=fit)


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
    from dataclasses import replace

    from videofactory.assembly.ffmpeg import find_ffmpeg
    from videofactory.assembly.outputs import side_files
    from videofactory.assembly.runfiles import run_pieces, run_timeline
    from videofactory.assembly.soundtrack import music_for, music_setting
    from videofactory.assembly.timeline import Loudness, Transition
    from videofactory.errors import StoreError
    from videofactory.stopping import sigterm_as_ctrl_c
    from videofactory.store import DB_NAME, Store

    mode = _fit_mode(fit if fit is not None else reframe)
    setting = music_setting(music) if music is not None else None  # a bad file: refused now
    if not (workdir / DB_NAME).exists():
        raise StoreError(f"no run database in {workdir}; pass --workdir where the runs are")
    binary = find_ffmpeg(ffmpeg)
    with Store.for_workdir(workdir) as store:
        pieces = run_pieces(store, run, workdir)
        if setting is None:  # the run's own: its --music, else the generated bed
            setting = store.run(pieces.run_id)["settings"].get("music")
        output = _output(pieces.plan, aspect, resolution, mode)
        bed, sound = music_for(setting, pieces.plan, pieces.run_dir, output.audio_rate)
        if bed is not None and music_level is not None:
            bed = replace(bed, level_lu=music_level)
        timeline = run_timeline(
            pieces,
            output,
            transition=Transition(transition, transition_seconds) if transition else None,
            transition_s=transition_seconds,
            music=bed,
            loudness=Loudness(integrated_lufs=loudness),
            burn_subtitles=burn_subtitles,
        )
        # "per shot": each shot's own transition, from the shot list
        transition_name = timeline.transition.kind if transition else "per shot"
        with sigterm_as_ctrl_c():  # ffmpeg stopped and its partial files removed either way
            version, out, info = _assemble_version(pieces.run_dir, timeline, binary, quiet=as_json)
        sides = {name: str(path) for name, path in side_files(out).items()}
        options = {
            "version": version,
            "transition": transition_name,
            "transition_s": transition_seconds,
            "music": setting or "auto",
            "sound": sound,
            "burn_subtitles": burn_subtitles,
            "reframe": {"crop": "center"}.get(mode, mode),
            "loudness_lufs": loudness,
            "ffmpeg": f"{binary.source} {binary.version}",
        }
        media = {
            "duration_s": info.duration_s,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "video_codec": info.video_codec,
            "audio_codec": info.audio_codec,
            **options,
            **sides,
        }
        store.add_artifact(pieces.run_id, f"{pieces.run_id}/assemble", "final", out, media)
        store.add_event(
            pieces.run_id, "reassembled", f"{out.name} ({transition_name})", data=options
        )
    summary = {"ok": True, "run_id": pieces.run_id, "final": str(out), **media}
    if as_json:
        print(json.dumps(summary))
        return
    console().print(
        f"[bold green]done[/] {out}  v{version}  {info.duration_s:.2f} s  "
        f"{info.width}x{info.height}  {transition_name}"
        + f"  {sound}"
        + f"\nsubtitles {sides['srt']}, thumbnail {sides['thumbnail']}",
        highlight=False,
    )
