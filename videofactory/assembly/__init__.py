"""Assembly: probe media, build the ffmpeg graph for a timeline (pure) and render it."""

from __future__ import annotations

from videofactory.assembly.audio import AudioLevels, LoudnessMeasurement
from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg, run_ffmpeg
from videofactory.assembly.graph import build_ffmpeg_args
from videofactory.assembly.outputs import side_files
from videofactory.assembly.presets import frame_size
from videofactory.assembly.probe import MediaInfo, check_media, probe
from videofactory.assembly.render import assemble, check_inputs
from videofactory.assembly.subtitles import subtitles_ass, subtitles_srt, subtitles_vtt
from videofactory.assembly.timeline import (
    Loudness,
    Music,
    OutputSpec,
    Timeline,
    TimelineShot,
    Transition,
)

__all__ = [
    "AudioLevels",
    "FFmpeg",
    "Loudness",
    "LoudnessMeasurement",
    "MediaInfo",
    "Music",
    "OutputSpec",
    "Timeline",
    "TimelineShot",
    "Transition",
    "assemble",
    "build_ffmpeg_args",
    "check_inputs",
    "check_media",
    "find_ffmpeg",
    "frame_size",
    "probe",
    "run_ffmpeg",
    "side_files",
    "subtitles_ass",
    "subtitles_srt",
    "subtitles_vtt",
]
