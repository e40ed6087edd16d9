"""The timeline of a video and the one ffmpeg invocation that renders it. Pure: no I/O.

``build_ffmpeg_args`` turns a ``Timeline`` into the argv (after the binary) of a single ffmpeg
run with one ``-filter_complex`` graph::

    clip_i ─ setpts, fps, scale+pad|crop, setsar, yuv420p, tpad(clone), trim(frames) ─┐
                                                                                       ├ join ─ vout
    silent bed (anullsrc, exactly total) ─────────────────────────────┐               │
    narration_i ─ resample, fltp/48k/stereo, adelay(shot start) ──────┴ amix ─ atrim ─ aout

The graph sticks to filters and options present in ffmpeg 5.1 (Debian 12) and 9, and pins
sample formats with ``aformat`` so that negotiation cannot differ between them.
Subtitles (SRT, WebVTT) are built here too: one cue per narrated shot.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from videofactory.constants import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError

__all__ = [
    "OutputSpec",
    "Timeline",
    "TimelineShot",
    "build_ffmpeg_args",
    "subtitles_srt",
    "subtitles_vtt",
]

#: How a clip of another aspect ratio fits the output: letterbox ("pad") or fill ("crop").
FitMode = Literal["pad", "crop"]


@dataclass(frozen=True)
class TimelineShot:
    """One shot: a clip held or trimmed to ``duration_s``, with optional narration."""

    shot_id: str
    clip: Path
    duration_s: float
    narration: Path | None = None
    narration_text: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "clip", Path(self.clip))
        if self.narration is not None:
            object.__setattr__(self, "narration", Path(self.narration))
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ConfigError(f"shot {self.shot_id}: duration must be > 0 s, got {self.duration_s}")


@dataclass(frozen=True)
class OutputSpec:
    """Size, rate and encoder settings of the finished video."""

    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    fps: int = DEFAULT_FPS
    crf: int = 20
    preset: str = "veryfast"
    audio_rate: int = 48000
    audio_bitrate: str = "192k"
    fit: FitMode = "pad"

    def __post_init__(self) -> None:
        # yuv420p halves chroma in both directions, so libx264 refuses odd sizes.
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ConfigError(
                f"output size must be positive and even, got {self.width}x{self.height}"
            )
        if self.fps <= 0:
            raise ConfigError(f"output fps must be > 0, got {self.fps}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must be 0..51 (x264's range), got {self.crf}")
        if self.audio_rate <= 0:
            raise ConfigError(f"audio rate must be > 0, got {self.audio_rate}")
        if self.fit not in ("pad", "crop"):
            raise ConfigError(f"fit must be 'pad' or 'crop', got {self.fit!r}")


@dataclass(frozen=True)
class Timeline:
    """Shots in order plus the output settings; validates that every shot gets a frame."""

    shots: tuple[TimelineShot, ...]
    output: OutputSpec = field(default_factory=OutputSpec)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shots", tuple(self.shots))
        if not self.shots:
            raise ConfigError("a timeline needs at least one shot")
        ids = [shot.shot_id for shot in self.shots]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"shot ids must be unique: {ids}")
        for shot, frames in zip(self.shots, self.shot_frames(), strict=True):
            if frames < 1:
                raise ConfigError(
                    f"shot {shot.shot_id}: {shot.duration_s} s is shorter than one frame "
                    f"at {self.output.fps} fps"
                )

    @property
    def total_s(self) -> float:
        """Length of the whole video in seconds."""
        return math.fsum(shot.duration_s for shot in self.shots)

    def starts(self) -> tuple[float, ...]:
        """Start time of each shot in seconds."""
        starts, t = [], 0.0
        for shot in self.shots:
            starts.append(t)
            t = math.fsum((t, shot.duration_s))
        return tuple(starts)

    def shot_frames(self) -> tuple[int, ...]:
        """Frames of each shot: boundaries are rounded once, so errors never accumulate."""
        bounds = [round(t * self.output.fps) for t in (*self.starts(), self.total_s)]
        return tuple(b - a for a, b in zip(bounds, bounds[1:], strict=False))

    @property
    def total_frames(self) -> int:
        """Video frames in the whole video."""
        return sum(self.shot_frames())


def _num(x: float) -> str:
    """A number as ffmpeg reads it, without float noise: 2.5, 3, 0.041667."""
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def _input(path: Path) -> str:
    # "file:" stops ffmpeg reading a name with a colon ("shot:1.mp4") as a protocol.
    return f"file:{path}"


def _fit(spec: OutputSpec) -> str:
    """Scale to fit the output, then letterbox (pad) or fill (crop) to its exact size."""
    w, h = spec.width, spec.height
    if spec.fit == "crop":
        return f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black"
    )


def _video_chain(index: int, frames: int, spec: OutputSpec, out: str) -> str:
    """Normalise input ``index`` and make it exactly ``frames`` long (clone its last frame)."""
    return (
        f"[{index}:v:0]setpts=PTS-STARTPTS,fps={spec.fps},{_fit(spec)},setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop={frames},trim=end_frame={frames},setpts=PTS-STARTPTS[{out}]"
    )


def _join_video(labels: list[str], out: str) -> list[str]:
    """Join the normalised shots into one stream; this version cuts.

    Transitions come here next (crossfade, fade through black, the xfade family): an xfade of
    length d between shots a and b starts at offset = end(a) - d and overlaps them, so each shot
    with an incoming transition must be rendered d longer in ``_video_chain`` to keep the total
    exact, and the audio timeline (which does not overlap) stays as it is.
    """
    if len(labels) == 1:
        return [f"[{labels[0]}]null[{out}]"]
    return ["".join(f"[{label}]" for label in labels) + f"concat=n={len(labels)}:v=1:a=0[{out}]"]


def _audio_format(spec: OutputSpec) -> str:
    return f"aformat=sample_fmts=fltp:sample_rates={spec.audio_rate}:channel_layouts=stereo"


def _audio_graph(timeline: Timeline, first_input: int, out: str) -> list[str]:
    """A silent bed of exactly the total length with each narration mixed in at its shot start."""
    spec = timeline.output
    samples = round(timeline.total_s * spec.audio_rate)
    # The bed fixes the length: amix stops with its first input, so narration that runs past
    # the end is cut there instead of making the video longer.
    graph = [
        f"anullsrc=r={spec.audio_rate}:cl=stereo,{_audio_format(spec)},"
        f"atrim=end_sample={samples}[bed]"
    ]
    labels = ["bed"]
    index = first_input
    for shot, start in zip(timeline.shots, timeline.starts(), strict=True):
        if shot.narration is None:
            continue
        ms = round(start * 1000)
        label = f"n{index}"
        # Delay after converting to stereo, giving one delay per channel: adelay's "all=1"
        # option is newer than some ffmpeg builds we support.
        graph.append(
            f"[{index}:a:0]asetpts=PTS-STARTPTS,aresample={spec.audio_rate},{_audio_format(spec)},"
            f"adelay={ms}|{ms}[{label}]"
        )
        labels.append(label)
        index += 1
    if len(labels) == 1:
        graph.append(f"[bed]anull[{out}]")
    else:
        # normalize=0: a sum, not an average, so narration keeps its level however many mix.
        graph.append(
            "".join(f"[{label}]" for label in labels)
            + f"amix=inputs={len(labels)}:duration=first:dropout_transition=0:normalize=0,"
            f"atrim=end_sample={samples}[{out}]"
        )
    return graph


def build_ffmpeg_args(timeline: Timeline, out_path: Path) -> list[str]:
    """The argv (without the binary) of one ffmpeg run that renders ``timeline`` to ``out_path``."""
    spec = timeline.output
    args: list[str] = []
    for shot in timeline.shots:
        args += ["-i", _input(shot.clip)]
    narrations = [shot.narration for shot in timeline.shots if shot.narration is not None]
    for narration in narrations:
        args += ["-i", _input(narration)]

    graph: list[str] = []
    labels = []
    for index, frames in enumerate(timeline.shot_frames()):
        labels.append(f"v{index}")
        graph.append(_video_chain(index, frames, spec, labels[-1]))
    graph += _join_video(labels, "vout")
    graph += _audio_graph(timeline, len(timeline.shots), "aout")

    return [
        *args,
        "-filter_complex",
        ";".join(graph),
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-c:v",
        "libx264",
        "-preset",
        spec.preset,
        "-crf",
        str(spec.crf),
        "-pix_fmt",
        "yuv420p",
        "-r",
        str(spec.fps),
        "-c:a",
        "aac",
        "-b:a",
        spec.audio_bitrate,
        "-ar",
        str(spec.audio_rate),
        "-ac",
        "2",
        # moov before mdat: players can start before the whole file has arrived.
        "-movflags",
        "+faststart",
        "-t",
        _num(timeline.total_s),
        _input(out_path),
    ]


# --- subtitles -------------------------------------------------------------------------------


def _cue_text(text: str) -> str:
    """Narration as cue text: kept verbatim except what would break the cue format."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    text = re.sub(r"\n\s*\n+", "\n", text)  # a blank line ends a cue in both formats
    return text.replace("-->", "->")  # the timing arrow cannot appear in cue text


def _cues(timeline: Timeline) -> list[tuple[str, float, float, str]]:
    """(shot id, start, end, text) for every shot with narration text."""
    cues = []
    for shot, start in zip(timeline.shots, timeline.starts(), strict=True):
        text = _cue_text(shot.narration_text)
        if text:
            cues.append((shot.shot_id, start, start + shot.duration_s, text))
    return cues


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def subtitles_srt(timeline: Timeline) -> str:
    """SubRip subtitles: one cue per narrated shot, timed to the shot; text verbatim."""
    blocks = [
        f"{n}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n"
        for n, (_id, start, end, text) in enumerate(_cues(timeline), start=1)
    ]
    return "\n".join(blocks)


def subtitles_vtt(timeline: Timeline) -> str:
    """WebVTT subtitles: one cue per narrated shot (cue id = shot id), text HTML-escaped."""
    blocks = ["WEBVTT\n"]
    for shot_id, start, end, text in _cues(timeline):
        # WebVTT cue text is markup: a bare "<" or "&" would start a tag or an entity.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        ident = re.sub(r"\s+", " ", shot_id).replace("-->", "->")
        blocks.append(f"{ident}\n{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text}\n")
    return "\n".join(blocks)
