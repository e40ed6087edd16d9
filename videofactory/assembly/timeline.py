"""The timeline of a video: shots, transitions, narration, music, loudness, output. Pure data.

A ``Timeline`` says what the finished video is; ``graph.build_ffmpeg_args`` turns it into one
ffmpeg run. All frame arithmetic lives here so that the graph and the tests agree on it.

How a transition overlaps shots: shot boundaries are where the shot list puts them (each
rounded once to a frame, so errors never accumulate), and every clip's first frame sits at its
shot's start, exactly as in a cut. A transition of ``d`` into shot ``i+1`` begins at that
boundary and lasts ``d``: the outgoing shot ``i`` is shown ``d`` past its end (its clip's next
frames, or its last frame held) while shot ``i+1`` comes in over its first ``d``. So the total
length is exactly the shot list's total, narration and subtitles keep the shot list's times,
and a transition is clamped to the length of the shot it leads into.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from videofactory.assembly.animatic import moves
from videofactory.assembly.reframe import CropPath
from videofactory.constants import DEFAULT_FPS, DEFAULT_HEIGHT, DEFAULT_WIDTH
from videofactory.errors import ConfigError
from videofactory.presets import canonical_transition, frame_size
from videofactory.timing import frames_in

__all__ = [
    "DEFAULT_TRANSITION_S",
    "FIT_MODES",
    "ClipFormat",
    "FitMode",
    "Loudness",
    "Music",
    "OutputSpec",
    "Spoken",
    "Timeline",
    "TimelineShot",
    "Transition",
]

#: Room tone under every video by default, RMS dBFS: 45 dB under -14 LUFS speech, audible only
#: in silence on headphones turned up, as the air of a real room is.
ROOM_TONE_DBFS = -60.0

#: How a clip of another aspect ratio fits the output: letterbox ("pad"), fill from the
#: middle ("crop"), or fill with a window that follows the subject ("follow", see
#: ``reframe``). Shapes within ``reframe.NEAR_ASPECT`` of each other are always filled.
FitMode = Literal["pad", "crop", "follow"]
#: Every fit mode, in the order the command line lists them.
FIT_MODES: tuple[FitMode, ...] = ("follow", "crop", "pad")


def _finite(value: float, what: str, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{what} must be between {low:g} and {high:g}, got {value}")


#: Length of a transition nobody gave a length (``--transition-seconds``).
DEFAULT_TRANSITION_S = 0.5


@dataclass(frozen=True)
class Transition:
    """How one shot gives way to the next: ``cut`` or an xfade transition of ``duration_s``."""

    kind: str = "cut"
    duration_s: float = DEFAULT_TRANSITION_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", canonical_transition(self.kind))
        _finite(self.duration_s, "transition duration (s)", 0.0, 10.0)

    @property
    def is_cut(self) -> bool:
        """True when shots simply follow each other."""
        return self.kind == "cut" or self.duration_s <= 0


@dataclass(frozen=True)
class Music:
    """A background music file, looped or trimmed to the video, faded out and ducked.

    A file shorter than the video is looped; unless it is ``seamless`` (made to loop, as the
    generated bed is), the render first joins its end to its start with a short crossfade at
    the point where the two match best (``soundtrack.loop_for``), so the loop does not click.
    """

    path: Path
    #: Loudness of the music bed relative to the narration (to the target when none), in LU.
    level_lu: float = -8.0
    #: Length of the fade-out at the end of the video.
    fade_out_s: float = 2.0
    #: Lower the music under speech (sidechain compression keyed by the narration).
    duck: bool = True
    #: Length of the fade-in at the start (0: the music starts at full level).
    fade_in_s: float = 0.0
    #: The file's end already joins its start without a step: loop it as it is.
    seamless: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        _finite(self.level_lu, "music level (LU)", -60.0, 20.0)
        _finite(self.fade_out_s, "music fade-out (s)", 0.0, 60.0)
        _finite(self.fade_in_s, "music fade-in (s)", 0.0, 60.0)


@dataclass(frozen=True)
class Spoken:
    """Where the voice is in a narration file, in seconds from the file's start.

    ``start_s`` and ``end_s`` bound the voiced part (the engine's leading and trailing silence
    left out); ``pauses`` are the middles of the silent gaps inside it, where a sentence may
    end. Measured by ``spoken.spoken_of``; subtitles are timed by it.
    """

    start_s: float
    end_s: float
    pauses: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and 0 <= self.start_s <= self.end_s):
            raise ConfigError(f"spoken span must be 0 <= start <= end, got {self.start_s}")
        object.__setattr__(self, "pauses", tuple(self.pauses))


@dataclass(frozen=True)
class Loudness:
    """The loudness the finished mix is normalised to (EBU R128: measured, then one gain, and a
    look-ahead limiter at the true-peak ceiling when the gain needs one; ``audio.py``)."""

    integrated_lufs: float = -14.0
    true_peak_db: float = -1.0
    #: Loudness range the mix may have. Kept for callers of the loudnorm days: the render
    #: keeps the mix's dynamics whatever its range (one gain, the limiter only on peaks).
    lra: float = 20.0

    def __post_init__(self) -> None:
        _finite(self.integrated_lufs, "target loudness (LUFS)", -70.0, -5.0)
        _finite(self.true_peak_db, "true peak (dBTP)", -9.0, 0.0)
        _finite(self.lra, "loudness range (LU)", 1.0, 50.0)


@dataclass(frozen=True)
class ClipFormat:
    """What a probe found in a clip, so that the graph skips normalising what already matches.

    Unknown (None) values are normalised as usual.
    """

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    pix_fmt: str | None = None
    sar: float | None = None
    #: Declared and average frame rate agree (a variable-rate clip keeps the fps filter).
    constant_rate: bool = False

    def fits(self, spec: OutputSpec) -> bool:
        """Already the output's size with square pixels: no scale, pad, crop or setsar."""
        return (self.width, self.height) == (spec.width, spec.height) and self.sar in (None, 1.0)

    def has_rate(self, spec: OutputSpec) -> bool:
        """Already at the output's constant frame rate: no fps filter."""
        return self.constant_rate and self.fps is not None and abs(self.fps - spec.fps) < 1e-6


@dataclass(frozen=True)
class TimelineShot:
    """One shot: a clip held or trimmed to ``duration_s``, with optional narration."""

    shot_id: str
    clip: Path
    duration_s: float
    narration: Path | None = None
    narration_text: str = ""
    #: The transition into this shot; None uses the timeline's.
    transition: Transition | None = None
    #: The length the clip was rendered to; when given, a clip of another length is refused.
    clip_duration_s: float | None = None
    #: The clip's format as probed (``render.check_inputs`` fills it in); None: unknown.
    source: ClipFormat | None = None
    #: Where the crop window goes when the clip is reframed to follow its subject
    #: (``render.check_clips`` measures it for ``fit="follow"``); None: the middle.
    framing: CropPath | None = None
    #: Where the voice is in the narration file (``render.check_sound`` fills it in); None:
    #: unknown, and the subtitles last the whole shot.
    spoken: Spoken | None = None
    #: The camera move over ``clip`` when it is a still picture, as an animatic shows a
    #: keyframe (``animatic.MOVES``: ``static`` holds it); None: ``clip`` plays as it is.
    move: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "clip", Path(self.clip))
        if self.narration is not None:
            object.__setattr__(self, "narration", Path(self.narration))
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ConfigError(f"shot {self.shot_id}: duration must be > 0 s, got {self.duration_s}")
        if self.move is not None:
            moves(self.move)  # refuses a move it does not know


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
        if self.fit not in FIT_MODES:
            raise ConfigError(f"fit must be one of {', '.join(FIT_MODES)}, got {self.fit!r}")

    @classmethod
    def from_presets(
        cls,
        aspect: str = "16:9",
        resolution: str = "720p",
        *,
        fps: int = DEFAULT_FPS,
        fit: FitMode = "pad",
        **settings: object,
    ) -> OutputSpec:
        """An output of a named aspect ("16:9", "9:16", "1:1") and resolution ("1080p", "4K")."""
        width, height = frame_size(aspect, resolution)
        return cls(width, height, fps, fit=fit, **settings)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Timeline:
    """Shots in order, how they join, the sound, and the output settings."""

    shots: tuple[TimelineShot, ...]
    output: OutputSpec = field(default_factory=OutputSpec)
    #: The transition between shots (a shot's own ``transition`` wins).
    transition: Transition = field(default_factory=Transition)
    music: Music | None = None
    #: None leaves the mix's level as it is.
    loudness: Loudness | None = field(default_factory=Loudness)
    #: Burn the narration into the picture (with the shipped font) besides the SRT/VTT files.
    burn_subtitles: bool = False
    #: Time of the thumbnail frame; None takes the middle of the first shot.
    thumbnail_s: float | None = None
    #: Level of the room tone laid under the whole mix after its loudness is set (RMS dBFS):
    #: a faint, steady noise floor, so the video never falls into digital silence between
    #: words or after the music. None: none.
    room_tone_dbfs: float | None = ROOM_TONE_DBFS

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
        if self.room_tone_dbfs is not None:
            _finite(self.room_tone_dbfs, "room tone level (dBFS)", -90.0, -30.0)
        if self.thumbnail_s is not None and not 0 <= self.thumbnail_s <= self.total_s:
            raise ConfigError(
                f"thumbnail time {self.thumbnail_s} s is outside the video (0-{self.total_s} s)"
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

    def boundaries(self) -> tuple[int, ...]:
        """Frame index where each shot starts, then the total: rounded once, never drifting."""
        return tuple(frames_in(t, self.output.fps) for t in (*self.starts(), self.total_s))

    def shot_frames(self) -> tuple[int, ...]:
        """Frames of each shot in the cut."""
        bounds = self.boundaries()
        return tuple(b - a for a, b in zip(bounds, bounds[1:], strict=False))

    @property
    def total_frames(self) -> int:
        """Video frames in the whole video."""
        return self.boundaries()[-1]

    def transition_into(self, index: int) -> Transition:
        """The transition that leads into shot ``index`` (``index`` >= 1)."""
        return self.shots[index].transition or self.transition

    def transition_frames(self) -> tuple[int, ...]:
        """Frames of each transition between shot ``j`` and ``j+1``; 0 for a cut.

        A transition is clamped to the shot it leads into, so that two never overlap.
        """
        frames = self.shot_frames()
        out = []
        for j in range(1, len(self.shots)):
            t = self.transition_into(j)
            out.append(0 if t.is_cut else min(frames_in(t.duration_s, self.output.fps), frames[j]))
        return tuple(out)

    def segment_frames(self) -> tuple[int, ...]:
        """Frames each clip is rendered to: its shot plus the transition out of it."""
        tails = (*self.transition_frames(), 0)
        return tuple(f + t for f, t in zip(self.shot_frames(), tails, strict=True))

    def thumbnail_frame(self) -> int:
        """Frame index of the thumbnail."""
        if self.thumbnail_s is not None:
            return min(frames_in(self.thumbnail_s, self.output.fps), self.total_frames - 1)
        bounds = self.boundaries()
        return (bounds[0] + bounds[1]) // 2

    def shot_middle_frames(self) -> tuple[int, ...]:
        """The middle frame of each shot once its incoming transition is over (contact sheet);
        the last frame for a last shot wholly under its transition."""
        bounds = self.boundaries()
        leads = (0, *self.transition_frames())
        last = self.total_frames - 1
        return tuple(
            min((a + lead + b) // 2, last)
            for a, b, lead in zip(bounds, bounds[1:], leads, strict=False)
        )
