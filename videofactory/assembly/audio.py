"""The sound of a timeline as filtergraph text, and the loudness passes around it. Pure.

::

    silent bed (anullsrc, exactly total) ───────────────┐
    narration_i ─ resample, pin format, adelay(start) ──┴ amix ─ speech ─┬─ asplit ─ key ─┐
    music ─ loop (-stream_loop), trim, gain, fade in/out ─────────────── sidechaincompress ┘
                                  speech + ducked music ─ amix ─ mix (the measuring pass's file)
    mix ─ gain [─ low-pass ─ look-ahead limiter] ─ exact length ─┐
    room tone (pink noise, -60 dBFS RMS) ────────────────────────┴ amix ─ the video's sound

Loudness is set from measurements: audio-only runs measure (with ``ebur128``, ten times
cheaper than a loudnorm measuring pass) the narration and the music (to set the music bed
``level_lu`` below the narration and the duck threshold) and then the mix, which that pass
also writes to a float WAV. The render reads that mix (so the mixing is done once) and applies
the one gain that lands it on the target: a ``volume`` filter, what loudnorm's linear mode
would apply, without loudnorm's trip through 192 kHz. When that gain would push the true peak
over the ceiling, a look-ahead limiter follows the gain, and what it takes off the loudness is
measured on the mix file and added to the gain (``AudioLevels.makeup_db``, ``render._makeup``):
loudnorm's dynamic mode, which did this job before, lands 1 to 2 LU under the target on a
short film with a peaky voice. The room tone goes under everything after the gain, at its own
level, so that no stretch of the video is digital silence.

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
    "limited",
    "linear_gain_db",
    "loudness_gain_db",
    "measure_args",
    "mixed_audio_graph",
    "parse_ebur128",
    "room_tone",
]

#: Which stem a measuring pass hears.
MeasureStage = Literal["speech", "music", "mix", "levelled"]

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
    #: The mix as measured; None (or silent) renders without a loudness gain.
    mix: LoudnessMeasurement | None = None
    #: Gain added to the one that brings the mix to the target: what the limiter takes off
    #: the loudness, and what the room tone moves the meter's gate by (measured on the
    #: levelled mix, ``measure_args(stage="levelled")``).
    makeup_db: float = 0.0


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
    """The music bed: trimmed to the video (the input loops), gain, fade in, fade out at the end."""
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
    fade_in = min(timeline.music.fade_in_s, timeline.total_s / 2)
    if fade_in > 0:
        chain += f",afade=t=in:st=0:d={_num(fade_in)}"
    if fade > 0:
        chain += f",afade=t=out:st={_num(timeline.total_s - fade)}:d={_num(fade)}"
    return [f"{chain},{_fmt(timeline)}[{out}]"]


def _narrations(timeline: Timeline) -> int:
    return sum(1 for shot in timeline.shots if shot.narration is not None)


#: dB under the true-peak ceiling that loudnorm aims for, for the AAC encoder's overshoot.
AAC_PEAK_HEADROOM_DB = 0.5


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
        graph += _finish(timeline, levels, mixed, out)
    else:
        samples = frames_in(timeline.total_s, timeline.output.audio_rate)
        graph.append(f"[{mixed}]apad=whole_len={samples},atrim=end_sample={samples}[{out}]")
    return graph


def loudness_gain_db(timeline: Timeline, mix: LoudnessMeasurement | None) -> float | None:
    """The gain that brings the measured mix to the target; None without a target or a mix
    (a silent mix is not lifted: there is nothing in it to hear)."""
    target = timeline.loudness
    if target is None or mix is None or mix.silent:
        return None
    return target.integrated_lufs - mix.input_i


def limited(timeline: Timeline, mix: LoudnessMeasurement | None) -> bool:
    """True when the gain to the target would lift the mix's true peak over the ceiling (less
    the AAC headroom): the render then limits the peaks after the gain."""
    gain = loudness_gain_db(timeline, mix)
    if gain is None or mix is None or timeline.loudness is None:
        return False
    return mix.input_tp + gain > timeline.loudness.true_peak_db - AAC_PEAK_HEADROOM_DB


def linear_gain_db(timeline: Timeline, mix: LoudnessMeasurement | None) -> float | None:
    """The one gain that brings the measured mix to the target when no peak needs limiting,
    else None."""
    return None if limited(timeline, mix) else loudness_gain_db(timeline, mix)


#: The limiter's look-ahead (alimiter's attack) in ms. Its output comes exactly this late
#: (alimiter's own ``latency`` option is newer than ffmpeg 5.1), so the graph trims it off.
LIMITER_ATTACK_MS = 5
#: The limiter's release in ms: long enough not to distort a voice's low notes.
LIMITER_RELEASE_MS = 60
#: alimiter holds sample peaks; the peaks between samples may rise this much above them.
LIMITER_INTERSAMPLE_DB = 0.5
#: What the limiter hears is first low-passed here: the AAC encoder drops what lies above,
#: and a peak that loses its highest partials after the limiter rings over the ceiling
#: (3 ms clicks: by 1.2 dB without it, none with it).
LIMITER_LOWPASS_HZ = 19000


def _limiter(timeline: Timeline) -> str:
    """A look-ahead limiter at the true-peak ceiling, its delay trimmed off."""
    assert timeline.loudness is not None
    ceiling = timeline.loudness.true_peak_db - AAC_PEAK_HEADROOM_DB - LIMITER_INTERSAMPLE_DB
    late = frames_in(LIMITER_ATTACK_MS / 1000, timeline.output.audio_rate)
    return (
        f"lowpass=f={LIMITER_LOWPASS_HZ},"
        f"alimiter=limit={10 ** (ceiling / 20):.6f}:attack={LIMITER_ATTACK_MS}"
        f":release={LIMITER_RELEASE_MS}:level=0,"
        f"atrim=start_sample={late},asetpts=PTS-STARTPTS,{_fmt(timeline)}"
    )


def _levelled(timeline: Timeline, levels: AudioLevels) -> list[str]:
    """The filters that bring the mix to the target loudness: a gain, and a limiter when the
    gain would lift peaks over the ceiling; exactly the total length."""
    rate = timeline.output.audio_rate
    samples = frames_in(timeline.total_s, rate)
    tail = []
    gain = loudness_gain_db(timeline, levels.mix)
    if gain is not None:
        tail.append(f"volume={_num(gain + levels.makeup_db)}dB")
        if limited(timeline, levels.mix):
            tail.append(_limiter(timeline))
    tail.append(f"apad=whole_len={samples},atrim=end_sample={samples}")
    return tail


def _finish(timeline: Timeline, levels: AudioLevels, label: str, out: str) -> list[str]:
    """The mix's last steps: loudness, exactly the total length, and the room tone under it.

    The loudness is one gain (a ``volume`` filter: what loudnorm's linear mode does, without
    its trip through 192 kHz); when that gain would lift the true peak over the ceiling, a
    look-ahead limiter follows it. The room tone comes after, at its own level: it is the
    floor of the finished video, not part of what is normalised (a video with nothing else in
    it is not lifted to the target). What the limiter takes off the loudness, and what the
    room tone moves the meter's relative gate by (its quiet blocks now count in the gate's
    average), are measured on this very chain and added to the gain
    (``AudioLevels.makeup_db``), so the video lands on the target however peaky or sparse its
    narration. (loudnorm's dynamic mode limits too, but lands 1 to 2 LU under the target on a
    short film.)
    """
    chain = f"[{label}]" + ",".join(_levelled(timeline, levels))
    if timeline.room_tone_dbfs is None:
        return [f"{chain}[{out}]"]
    return [
        f"{chain}[levelled]",
        room_tone(timeline, "tone"),
        "[levelled][tone]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
        f"{_fmt(timeline)}[{out}]",
    ]


#: RMS of ``anoisesrc``'s pink noise at amplitude 1 through the room tone's low-pass, in dBFS
#: (ffmpeg 9's astats over 20 s: -15.07 and -14.99 for two seeds).
PINK_RMS_DBFS = -15.1
#: The room tone's low-pass: the air of a room is darker than pink noise.
ROOM_TONE_LOWPASS_HZ = 6000
#: The room tone's noise seed: the same noise under every render.
ROOM_TONE_SEED = 1618


def room_tone(timeline: Timeline, out: str) -> str:
    """A source of room tone at ``timeline.room_tone_dbfs`` (RMS), exactly the video's length.

    Pink noise, low-passed: steady, without tone or rhythm, felt rather than heard.
    """
    assert timeline.room_tone_dbfs is not None
    rate = timeline.output.audio_rate
    samples = frames_in(timeline.total_s, rate)
    amplitude = 10 ** ((timeline.room_tone_dbfs - PINK_RMS_DBFS) / 20)
    return (
        f"anoisesrc=r={rate}:c=pink:a={amplitude:.8f}:seed={ROOM_TONE_SEED},"
        f"lowpass=f={ROOM_TONE_LOWPASS_HZ},{_fmt(timeline)},atrim=end_sample={samples}[{out}]"
    )


def mixed_audio_graph(timeline: Timeline, index: int, levels: AudioLevels, out: str) -> list[str]:
    """The render's audio from the mix the measuring pass wrote (input ``index``): loudness and
    length only, so the mixing is not done twice."""
    graph = _finish(timeline, levels, "mixin", out)
    return [f"[{index}:a:0]{_fmt(timeline)}[mixin]", *graph]


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
    WAV) when given, for the render to read instead of mixing again; ``levelled`` reads that
    ``mix_file`` and measures it as the render will write it (the gain and limiter of
    ``levels``, the room tone).
    """
    inputs = audio_inputs(timeline)
    rate = timeline.output.audio_rate
    null = ["-f", "null", "-"]
    if stage == "levelled":
        assert mix_file is not None and levels is not None
        graph = [*mixed_audio_graph(timeline, 0, levels, "l"), f"[l]{_METER}:peak=true[lo]"]
        return ["-i", _input(mix_file), "-filter_complex", ";".join(graph), "-map", "[lo]", *null]
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
