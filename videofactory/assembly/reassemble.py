"""Re-assemble a finished run as a new version (``final.v2.mp4``, then ``.v3`` ...), no GPU work.

``videofactory assemble RUN`` and the MCP server's ``assemble`` tool both call
``reassemble_run``: it finds every shot's clip (or hero pass) and narration in the run
database, builds a timeline with the options given (transition, music, aspect, resolution,
reframing, burned subtitles; the music the run was made with unless told otherwise), renders
it beside the old final with its subtitles, thumbnail and contact sheet, and records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videofactory.errors import ConfigError, StoreError
from videofactory.presets import shape_size

if TYPE_CHECKING:
    from videofactory.assembly.ffmpeg import FFmpeg
    from videofactory.assembly.probe import MediaInfo
    from videofactory.assembly.timeline import FitMode, OutputSpec, Timeline

__all__ = ["REFRAMES", "Progress", "fit_mode", "reassemble_run"]

#: What ``--reframe`` takes: each name and the fit mode it stands for.
REFRAMES: dict[str, str] = {
    "follow": "follow",
    "center": "crop",
    "centre": "crop",
    "crop": "crop",
    "pad": "pad",
}

#: Told the file being made and how much of it is done (0..1).
Progress = Callable[[str, float], None]


def fit_mode(reframe: str) -> FitMode:
    """The fit mode a ``--reframe`` name stands for."""
    mode = REFRAMES.get(reframe.strip().lower())
    if mode is None:
        raise ConfigError(
            f"--reframe must be follow (a crop that follows the subject), center (a crop from "
            f"the middle) or pad (black bars), got {reframe!r}"
        )
    return mode  # type: ignore[return-value]


def output_for(
    plan: dict[str, object], aspect: str | None, resolution: str | None, fit: FitMode
) -> OutputSpec:
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


def _next_version(
    run_dir: Path, timeline: Timeline, binary: FFmpeg, on_progress: Progress | None
) -> tuple[int, Path, MediaInfo]:
    """Render the run's next free version. Two assemblies of one run at the same time would
    pick the same number: the one that finds it taken (``OutputBusy``) takes the next."""
    from videofactory.assembly.outputs import OutputBusy
    from videofactory.assembly.render import assemble
    from videofactory.assembly.runfiles import next_version

    making: set[int] = set()
    while True:
        version, out = next_version(run_dir, making=making)
        tell = (lambda done, name=out.name: on_progress(name, done)) if on_progress else None
        try:
            info = assemble(timeline, out, ffmpeg=binary, on_progress=tell, new=True)
        except OutputBusy:
            making.add(version)
            continue
        return version, out, info


def reassemble_run(
    run: str,
    *,
    workdir: Path,
    transition: str | None = None,
    transition_seconds: float = 0.5,
    music: str | None = None,
    music_level: float | None = None,
    aspect: str | None = None,
    resolution: str | None = None,
    reframe: str = "follow",
    burn_subtitles: bool = False,
    loudness: float = -14.0,
    ffmpeg: str | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Assemble a run's next version with these options; returns what ``assemble --json``
    prints (``ok``, ``run_id``, ``final``, the media, the options, the side files).

    Raises:
        StoreError: no run database, no such run; ConfigError: a bad option or music file;
        MediaError: a shot's clip or narration is missing, ffmpeg failed.
    """
    from videofactory.assembly.ffmpeg import find_ffmpeg
    from videofactory.assembly.outputs import side_files
    from videofactory.assembly.runfiles import run_pieces, run_timeline
    from videofactory.assembly.soundtrack import music_for, music_setting
    from videofactory.assembly.timeline import Loudness, Transition
    from videofactory.stopping import sigterm_as_ctrl_c
    from videofactory.store import DB_NAME, Store

    mode = fit_mode(reframe)
    setting = music_setting(music) if music is not None else None  # a bad file: refused now
    if not (Path(workdir) / DB_NAME).exists():
        raise StoreError(f"no run database in {workdir}; pass --workdir where the runs are")
    binary = find_ffmpeg(ffmpeg)
    with Store.for_workdir(Path(workdir)) as store:
        pieces = run_pieces(store, run, Path(workdir))
        if setting is None:  # the run's own: its --music, else the generated bed
            setting = store.run(pieces.run_id)["settings"].get("music")
        output = output_for(pieces.plan, aspect, resolution, mode)
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
            version, out, info = _next_version(pieces.run_dir, timeline, binary, on_progress)
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
    return {"ok": True, "run_id": pieces.run_id, "final": str(out), **media}
