"""Assembly: probe media, build the ffmpeg graph for a timeline (pure) and render it."""

from __future__ import annotations

from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg, run_ffmpeg
from videofactory.assembly.probe import MediaInfo, check_media, probe
from videofactory.assembly.render import assemble, check_inputs
from videofactory.assembly.timeline import (
    OutputSpec,
    Timeline,
    TimelineShot,
    build_ffmpeg_args,
    subtitles_srt,
    subtitles_vtt,
)

__all__ = [
    "FFmpeg",
    "MediaInfo",
    "OutputSpec",
    "Timeline",
    "TimelineShot",
    "assemble",
    "build_ffmpeg_args",
    "check_inputs",
    "check_media",
    "find_ffmpeg",
    "probe",
    "run_ffmpeg",
    "subtitles_srt",
    "subtitles_vtt",
]
