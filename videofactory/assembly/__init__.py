"""Assembly: probe media, build the ffmpeg graph for a timeline (pure) and render it.

The names below are imported from their modules on first use (``videofactory.lazy``), so that
importing one module of the package (``assembly.timeline``, ``assembly.graph``) does not load
PyAV, Pillow and the ffmpeg runner with it. ``probe`` is imported here: it is also the name of
its module, which would take its place once imported.
"""

from __future__ import annotations

import typing

from videofactory import lazy
from videofactory.assembly.probe import MediaInfo, check_media, probe

if typing.TYPE_CHECKING:
    from videofactory.assembly.audio import AudioLevels, LoudnessMeasurement
    from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg, run_ffmpeg
    from videofactory.assembly.graph import build_ffmpeg_args
    from videofactory.assembly.outputs import side_files
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
    "probe",
    "run_ffmpeg",
    "side_files",
    "subtitles_ass",
    "subtitles_srt",
    "subtitles_vtt",
]

#: Where each name lives (the rest of ``__all__`` is imported above).
_HOMES = {
    "AudioLevels": "audio",
    "LoudnessMeasurement": "audio",
    "FFmpeg": "ffmpeg",
    "find_ffmpeg": "ffmpeg",
    "run_ffmpeg": "ffmpeg",
    "build_ffmpeg_args": "graph",
    "side_files": "outputs",
    "assemble": "render",
    "check_inputs": "render",
    "subtitles_ass": "subtitles",
    "subtitles_srt": "subtitles",
    "subtitles_vtt": "subtitles",
    "Loudness": "timeline",
    "Music": "timeline",
    "OutputSpec": "timeline",
    "Timeline": "timeline",
    "TimelineShot": "timeline",
    "Transition": "timeline",
}

__getattr__, __dir__ = lazy.exports(globals(), _HOMES)
