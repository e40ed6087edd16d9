"""The sound of a timeline as filtergraph text, and the loudness passes around it. Pure.

::

    silent bed (anullsrc, exactly total) ───────────────┐
    narration_i ─ resample, pin format, adelay(start) ──┴ amix ─ speech ─┬─ asplit ─ key ─┐
    music ─ loop (-stream_loop), trim, gain, fade out ─────────────────── sidechaincompress ┘
                                                         speech + ducked music ─ amix ─ loudnorm

Loudness is normalised in two passes, as ``loudnorm`` needs: audio-only runs measure (with
``ebur128``, the meter loudnorm itself uses, ten times cheaper than a loudnorm measuring pass)
the narration and the music (to set the music bed ``level_lu`` below the narration and the
duck threshold) and then the mix, which that pass also writes to a float WAV. The render reads
that mix (so the mixing is done once) and applies the one gain that lands it on the target:
a ``volume`` filter, exactly what loudnorm's linear mode would apply, without loudnorm's trip
through 192 kHz. When that gain would push the true peak over the ceiling (or the mix's range
is wider than allowed), the render runs loudnorm with the measured figures instead, and it
limits the peaks in its dynamic mode.

Every stage pins its sample format with ``aformat``: ffmpeg 5.1 refuses some graphs (amix,
sidechaincompress) that 9 accepts when negotiation is left open.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from videofactory.assembly.timeline import Timeline
from videofactory.errors import AssemblyError
from videofactory.timing import frames_in

__all__ = [
    "AudioLevels",
    "LoudnessMeasurement",
    "MeasureStage",
    "audio_graph",
    "audio_inputs",
    "levels_for",
    "linear_gain_db",
    "measure_args",
    "mixed_audio_graph",
    "parse_ebur128",
]

#: Which stem a measuring pass hears.
MeasureStage = Literal["speech", "music", "mix"]

#: Integrated loudness below which a stem counts as silent (the EBU R128 absolute gate).
SILENT_LUFS = -70.0
#: The duck threshold sits this far under the narration's loudness: speech opens it, the
#: quiet tails between words do not.
DUCK_BELOW_SPEECH_DB = 12.0
#: Threshold used when the narration was not measured (-34 dBFS).
DEFAULT_DUCK_THRESHOLD = 0.02


@dataclass(frozen=True)
class LoudnessMeasurement:
    """What an EBU R128 meter (ffmpeg's ``ebur128``) measured: loudnorm's ``measured_*``."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float = 0.0

    @property
    def silent(self) -> bool:
        """True when there is nothing to normalise (pure silence measures -inf)."""
        return not math.isfinite(self.input_i) or self.input_i <= SILENT_LUFS


@dataclass(frozen=True)
class AudioLevels:
    """Gains and thresholds for the render, from the measuring passes."""

    music_gain_db: float = 0.0
    duck_threshold: float = DEFAULT_DUCK_THRESHOLD
    #: The mix as measured; None (or silent) renders without loudnorm.
    mix: LoudnessMeasurement | None = None


def _num(x: float) -> str:
    """A number as ffmpeg reads it, without float noise: 2.5, 3, 0.041667."""
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def _fmt(timeline: Timeline) -> str:
    rate = timeline.output.audio_rate
    return f"aformat=sample_fmts=fltp:sample_rates={rate}:channel_layouts=stereo"


def _input(path: object) -> str:
    # "file:" stops ffmpeg reading a name with a colon ("shot:1.wav") as a protocol.
    return f"file:{path}"


def audio_inputs(timeline: Timeline) -> list[str]:
    """The ``-i`` arguments of the narration files, then the music, in graph input order."""
    args: list[str] = []
    for shot in timeline.shots:
        if shot.narration is not None:
            args += ["-i", _input(shot.narration)]
    if timeline.music is not None:
        # Loop the file forever; the graph trims it to the video's length.
        args += ["-stream_loop", "-1", "-i", _input(timeline.music.path)]
    return args


def _speech(timeline: Timeline, first_input: int, out: str) -> list[str]:
    """A silent bed of exactly the total length with each narration mixed in at its shot start."""
    rate = timeline.output.audio_rate
    samples = frames_in(timeline.total_s, rate)
    # The bed fixes the length: amix stops with its first input, so narration that runs past
    # the end is cut there instead of making the video longer.
    graph = [f"anullsrc=r={rate}:cl=stereo,{_fmt(timeline)},atrim=end_sample={samples}[bed]"]
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
            f"[{index}:a:0]asetpts=PTS-STARTPTS,aresample={rate},{_fmt(timeline)},"
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


def _music(timeline: Timeline, index: int, gain_db: float, out: str) -> list[str]:
    """The music bed: trimmed to the video (the input loops), gain, fade out at the end."""
    assert timeline.music is not None
    rate = timeline.output.audio_rate
    samples = frames_in(timeline.total_s, rate)
    fade = min(timeline.music.fade_out_s, timeline.total_s / 2)
    chain = (
        f"[{index}:a:0]asetpts=PTS-STARTPTS,aresample={rate},{_fmt(timeline)},"
        f"atrim=end_sample={samples}"
    )
    if gain_db:
        chain += f",volume={_num(gain_db)}dB"
    if fade > 0:
        chain += f",afade=t=out:st={_num(timeline.total_s - fade)}:d={_num(fade)}"
    return [f"{chain},{_fmt(timeline)}[{out}]"]


def _narrations(timeline: Timeline) -> int:
    return sum(1 for shot in timeline.shots if shot.narration is not None)


#: dB under the true-peak ceiling that loudnorm aims for, for the AAC encoder's overshoot.
AAC_PEAK_HEADROOM_DB = 0.5


def _loudnorm_target(timeline: Timeline) -> str:
    target = timeline.loudness
    assert target is not None
    # The AAC encoder that follows overshoots the limiter's peaks by a few tenths of a dB:
    # aim that much lower so that the file itself stays under the ceiling.
    return (
        f"loudnorm=I={_num(target.integrated_lufs)}"
        f":TP={_num(target.true_peak_db - AAC_PEAK_HEADROOM_DB)}:LRA={_num(target.lra)}"
    )


def audio_graph(
    timeline: Timeline,
    first_input: int,
    levels: AudioLevels | None,
    out: str,
    *,
    finish: bool = True,
) -> list[str]:
    """The render's audio: speech, ducked music, loudness; exactly the video's length.

    ``finish=False`` stops at the mix of exactly the video's length (the measuring pass).
    """
    levels = levels or AudioLevels()
    rate = timeline.output.audio_rate
    samples = frames_in(timeline.total_s, rate)
    narrated = _narrations(timeline)
    duck = timeline.music is not None and timeline.music.duck and narrated > 0
    graph = _speech(timeline, first_input, "speechraw" if duck else "speech")
    mixed = "speech"
    if timeline.music is not None:
        graph += _music(timeline, first_input + narrated, levels.music_gain_db, "music")
        music = "music"
        if duck:
            # The narration keys the compressor on the music: one copy to hear, one as key.
            graph.append("[speechraw]asplit=2[speech][key]")
            graph.append(
                f"[music][key]sidechaincompress=threshold={_num(levels.duck_threshold)}"
                f":ratio=8:attack=20:release=400,{_fmt(timeline)}[ducked]"
            )
            music = "ducked"
        graph.append(
            f"[speech][{music}]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
            f"{_fmt(timeline)}[mix]"
        )
        mixed = "mix"
    if finish:
        graph.append(f"[{mixed}]" + _finish(timeline, levels) + f"[{out}]")
    else:
        samples = frames_in(timeline.total_s, timeline.output.audio_rate)
        graph.append(f"[{mixed}]apad=whole_len={samples},atrim=end_sample={samples}[{out}]")
    return graph


def linear_gain_db(timeline: Timeline, mix: LoudnessMeasurement | None) -> float | None:
    """The one gain that brings the measured mix to the target, or None when it cannot.

    loudnorm's own test for its linear mode: the gain must not lift the true peak over the
    ceiling (less the AAC headroom) nor the mix's loudness range exceed the allowed one.
    """
    target = timeline.loudness
    if target is None or mix is None or mix.silent:
        return None
    gain = target.integrated_lufs - mix.input_i
    ceiling = target.true_peak_db - AAC_PEAK_HEADROOM_DB
    if mix.input_tp + gain > ceiling or mix.input_lra > target.lra:
        return None
    return gain


def _finish(timeline: Timeline, levels: AudioLevels) -> str:
    """The mix's last steps: loudness (one gain, else loudnorm), then exactly the total length.

    When one gain is enough it is a ``volume`` filter, which is what loudnorm's linear mode
    does too, without loudnorm's trip to 192 kHz and back. Otherwise loudnorm gets the measured
    figures and limits the true peak itself (its dynamic mode).
    """
    rate = timeline.output.audio_rate
    samples = frames_in(timeline.total_s, rate)
    tail = []
    mix = levels.mix
    gain = linear_gain_db(timeline, mix)
    if gain is not None:
        tail.append(f"volume={_num(gain)}dB")
    elif timeline.loudness is not None and mix is not None and not mix.silent:
        # loudnorm works (and outputs) at 192 kHz: resample back and pin the format.
        tail.append(
            f"{_loudnorm_target(timeline)}:measured_I={_num(max(mix.input_i, -99))}"
            f":measured_TP={_num(min(max(mix.input_tp, -99), 99))}"
            f":measured_LRA={_num(min(max(mix.input_lra, 0), 99))}"
            f":measured_thresh={_num(max(mix.input_thresh, -99))}"
            f":offset={_num(mix.target_offset)}:linear=true:print_format=none"
        )
        tail.append(f"aresample={rate},{_fmt(timeline)}")
    tail.append(f"apad=whole_len={samples},atrim=end_sample={samples}")
    return ",".join(tail)


def mixed_audio_graph(timeline: Timeline, index: int, levels: AudioLevels, out: str) -> list[str]:
    """The render's audio from the mix the measuring pass wrote (input ``index``): loudness and
    length only, so the mixing is not done twice."""
    return [f"[{index}:a:0]{_fmt(timeline)}," + _finish(timeline, levels) + f"[{out}]"]


#: Meters log their summary only: ebur128 otherwise prints a line per 100 ms at info level.
_METER = "ebur128=framelog=verbose"


def measure_args(
    timeline: Timeline,
    stage: MeasureStage,
    levels: AudioLevels | None = None,
    mix_file: Path | None = None,
) -> list[str]:
    """An audio-only ffmpeg run whose stderr ends with an ebur128 summary for ``stage``.

    ``speech`` measures the narration (end to end) and ``music`` the music bed as the video
    will play it (two independent runs, so they can go side by side); ``mix`` measures the mix
    the render will hear, true peak included, and writes it to ``mix_file`` (32-bit float
    WAV) when given, for the render to read instead of mixing again.
    """
    inputs = audio_inputs(timeline)
    rate = timeline.output.audio_rate
    null = ["-f", "null", "-"]
    if stage == "speech":
        # The narrations one after another, without the silence between them: gated loudness
        # leaves silence out anyway, and a 60 s video with 30 s of speech is metered in half
        # the time, without the mix of every narration at its place.
        n = _narrations(timeline)
        graph = [f"[{i}:a:0]aresample={rate},{_fmt(timeline)}[n{i}]" for i in range(n)]
        graph.append("".join(f"[n{i}]" for i in range(n)) + f"concat=n={n}:v=0:a=1[s]")
        graph.append(f"[s]{_METER}[so]")
        inputs = inputs[: 2 * n]
        maps = ["-map", "[so]", *null]
    elif stage == "music":
        graph = [*_music(timeline, 0, 0.0, "m"), f"[m]{_METER}[mo]"]
        inputs = inputs[2 * _narrations(timeline) :]
        maps = ["-map", "[mo]", *null]
    else:
        graph = audio_graph(timeline, 0, levels, "a", finish=False)
        graph.append(f"[a]{_METER}:peak=true[ao]")
        if mix_file is None:
            maps = ["-map", "[ao]", *null]
        else:
            maps = ["-map", "[ao]", "-c:a", "pcm_f32le", "-f", "wav", _input(mix_file)]
    return [*inputs, "-filter_complex", ";".join(graph), *maps]


_SUMMARY = re.compile(r"Parsed_ebur128_(\d+) @ [^\]]*\] Summary:(.*?)(?=\[|\Z)", re.S)


def _field(block: str, pattern: str, default: float | None = None) -> float:
    match = re.search(pattern + r":\s*(-?inf|-?nan|-?[\d.]+)", block)
    if match is None:
        if default is None:
            raise AssemblyError(f"ebur128's summary has no {pattern!r}: {block.strip()[:200]}")
        return default
    return float(match.group(1))


def parse_ebur128(stderr: str) -> list[LoudnessMeasurement]:
    """Every ebur128 summary in ffmpeg's stderr, in the order the meters sit in the graph.

    Raises:
        AssemblyError: no summary, or one without the integrated loudness.
    """
    found = []
    for index, block in _SUMMARY.findall(stderr):
        loudness, lra = (
            block.split("Loudness range:", 1)
            if "Loudness range:" in block
            else (
                block,
                "",
            )
        )
        found.append(
            (
                int(index),
                LoudnessMeasurement(
                    input_i=_field(loudness, r"I"),
                    input_tp=_field(block, r"Peak", 99.0),
                    input_lra=_field(lra, r"LRA", 0.0),
                    input_thresh=_field(loudness, r"Threshold", -70.0),
                ),
            )
        )
    if not found:
        raise AssemblyError("ffmpeg's loudness pass printed no ebur128 summary")
    return [measurement for _index, measurement in sorted(found, key=lambda item: item[0])]


def levels_for(
    timeline: Timeline,
    speech: LoudnessMeasurement | None = None,
    music: LoudnessMeasurement | None = None,
    mix: LoudnessMeasurement | None = None,
) -> AudioLevels:
    """Music gain and duck threshold from the stems' loudness; ``mix`` passed through."""
    gain, threshold = 0.0, DEFAULT_DUCK_THRESHOLD
    if speech is not None and not speech.silent:
        threshold = 10 ** ((speech.input_i - DUCK_BELOW_SPEECH_DB) / 20)
    if timeline.music is not None and music is not None and not music.silent:
        reference = speech.input_i if speech is not None and not speech.silent else None
        if reference is not None:
            gain = reference + timeline.music.level_lu - music.input_i
        elif timeline.loudness is not None:
            gain = timeline.loudness.integrated_lufs - music.input_i
    return AudioLevels(music_gain_db=round(gain, 2), duck_threshold=threshold, mix=mix)
