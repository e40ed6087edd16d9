"""Render a timeline to a finished MP4 with subtitles beside it, safely.

Every input is checked before ffmpeg starts (a bad clip fails fast, naming the file and the
shot), ffmpeg writes to a hidden temporary name in the destination folder, and the result is
probed before it is renamed over the final name: a failed or interrupted render never replaces
a good ``final.mp4``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg, run_ffmpeg
from videofactory.assembly.probe import MediaInfo, check_media, probe
from videofactory.assembly.timeline import (
    Timeline,
    build_ffmpeg_args,
    subtitles_srt,
    subtitles_vtt,
)
from videofactory.errors import AssemblyError, MediaError

__all__ = ["assemble", "check_inputs", "clip_task", "narration_task"]

log = logging.getLogger(__name__)


def clip_task(shot_id: str) -> str:
    """The task name a clip's MediaError carries: the scheduler re-renders that task."""
    return f"{shot_id}/clip"


def narration_task(shot_id: str) -> str:
    """The task name a narration's MediaError carries."""
    return f"{shot_id}/narration"


def check_inputs(timeline: Timeline) -> None:
    """Refuse the first unusable clip or narration with a MediaError naming file and shot."""
    for shot in timeline.shots:
        check_media(shot.clip, kind="video", task=clip_task(shot.shot_id))
        if shot.narration is not None:
            check_media(shot.narration, kind="audio", task=narration_task(shot.shot_id))


def _partial(path: Path) -> Path:
    """A hidden, unique name beside ``path`` with the same suffix (ffmpeg picks the muxer by it)."""
    return path.with_name(f".{path.stem}.partial-{secrets.token_hex(4)}{path.suffix}")


def _write_text(path: Path, text: str) -> None:
    """Write a text file atomically (temporary name, then rename)."""
    tmp = _partial(path)
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def assemble(
    timeline: Timeline,
    out_path: Path,
    *,
    ffmpeg: FFmpeg | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> MediaInfo:
    """Render ``timeline`` to ``out_path`` and write ``<stem>.srt`` and ``<stem>.vtt`` beside it.

    Arguments:
        timeline: shots, narration and output settings.
        out_path: the final video (``.mp4``); replaced only when the new one is good.
        ffmpeg: the binary to use; ``find_ffmpeg()`` when None.
        on_progress: called with the rendered fraction, 0..1.

    Returns:
        The probe of the finished video.

    Raises:
        MediaError: an input clip or narration is missing, empty, corrupt or has no stream.
        AssemblyError: ffmpeg failed, or its output is not the video the timeline describes.
    """
    out_path = Path(out_path)
    check_inputs(timeline)
    ffmpeg = ffmpeg or find_ffmpeg()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial(out_path)
    try:
        run_ffmpeg(
            ffmpeg,
            build_ffmpeg_args(timeline, tmp),
            duration_s=timeline.total_s,
            on_progress=on_progress,
        )
        _verify(timeline, tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    _write_text(out_path.with_suffix(".srt"), subtitles_srt(timeline))
    _write_text(out_path.with_suffix(".vtt"), subtitles_vtt(timeline))
    info = probe(out_path)
    log.info("assembled %s: %.3f s, %dx%d", out_path, info.duration_s, info.width, info.height)
    return info


def _verify(timeline: Timeline, path: Path) -> None:
    """Refuse ffmpeg output that is not what was asked for (length, size, streams)."""
    spec = timeline.output
    try:
        # One frame of slack, plus an AAC packet: the container ends with the longer stream.
        info = check_media(
            path,
            kind="video",
            expected_duration_s=timeline.total_s,
            tolerance_s=1.0 / spec.fps + 1024 / spec.audio_rate,
        )
    except MediaError as exc:
        raise AssemblyError(f"ffmpeg wrote an unusable video: {exc}") from exc
    problems = []
    if (info.width, info.height) != (spec.width, spec.height):
        problems.append(f"size {info.width}x{info.height} != {spec.width}x{spec.height}")
    if not info.has_audio:
        problems.append("no audio stream")
    if problems:
        raise AssemblyError(f"ffmpeg wrote {path.name} with " + "; ".join(problems))
