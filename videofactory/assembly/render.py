"""Render a timeline to a finished MP4 with subtitles, a thumbnail and a contact sheet, safely.

Every input is checked before ffmpeg starts (a bad clip fails fast, naming the file and the
task that made it), the loudness is measured by short audio-only runs, and then one ffmpeg run
writes the video and the pictures of the thumbnail and the contact sheet to hidden temporary
names in the destination folder. The video is probed before it is renamed over the final
name: a failed or interrupted render never replaces a good ``final.mp4``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from videofactory.assembly.audio import (
    AudioLevels,
    LoudnessMeasurement,
    MeasureStage,
    levels_for,
    limited,
    measure_args,
    parse_ebur128,
)
from videofactory.assembly.ffmpeg import FFmpeg, find_ffmpeg, run_ffmpeg, xfade_transitions
from videofactory.assembly.graph import build_ffmpeg_args, contact_layout, picture_frames
from videofactory.assembly.outputs import (
    owned,
    partial_path,
    side_files,
    work_files,
    write_text,
)
from videofactory.assembly.probe import DURATION_TOLERANCE_S, MediaInfo, check_media
from videofactory.assembly.reframe import needs_reframe
from videofactory.assembly.sheet import compose, picture_paths
from videofactory.assembly.subtitles import (
    fonts_dir,
    subtitles_ass,
    subtitles_srt,
    subtitles_vtt,
)
from videofactory.assembly.timeline import ClipFormat, Timeline, TimelineShot
from videofactory.errors import AssemblyError, MediaError
from videofactory.presets import XFADE_NEWER
from videofactory.timing import seconds_of

__all__ = [
    "assemble",
    "check_clips",
    "check_inputs",
    "check_sound",
    "clip_task",
    "narration_task",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: stderr lines kept from a loudness pass: two ebur128 summaries and what ffmpeg prints after.
MEASURE_TAIL_LINES = 80


def clip_task(shot_id: str) -> str:
    """The task name a clip's MediaError carries: the scheduler re-renders that task."""
    return f"{shot_id}/clip"


def narration_task(shot_id: str) -> str:
    """The task name a narration's MediaError carries."""
    return f"{shot_id}/narration"


#: Files probed at once: a probe waits on the disk and PyAV's C code, not the interpreter.
PROBE_THREADS = 4


def _each(check: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``check`` of every item, a few at a time; the first failure in item order is raised."""
    if len(items) < 2:
        return [check(item) for item in items]
    with ThreadPoolExecutor(min(PROBE_THREADS, len(items)), thread_name_prefix="probe") as pool:
        return list(pool.map(check, items))


def _sound(timeline: Timeline) -> tuple[Timeline, MediaInfo | None]:
    """``check_sound``, and the music's probe (None without music)."""
    from videofactory.assembly.soundtrack import check_music_file
    from videofactory.assembly.spoken import spoken_of

    def narration(shot: TimelineShot) -> TimelineShot:
        if shot.narration is None:
            return shot
        check_media(shot.narration, kind="audio", task=narration_task(shot.shot_id))
        return replace(shot, spoken=spoken_of(shot.narration))

    music = check_music_file(timeline.music.path) if timeline.music is not None else None
    shots = _each(narration, timeline.shots)
    return replace(timeline, shots=tuple(shots)), music


def check_sound(timeline: Timeline) -> Timeline:
    """Refuse the first unusable narration or music file, naming the file and its task.

    Returns the timeline with where the voice is in every narration (``TimelineShot.spoken``),
    which times the subtitles.
    """
    return _sound(timeline)[0]


def check_clips(timeline: Timeline) -> Timeline:
    """Refuse the first unusable clip, naming the file and its task.

    Returns the timeline with every clip's probed format (``TimelineShot.source``), so that the
    graph normalises only what needs it, and, when the output reframes to follow the subject
    (``fit="follow"``), the crop path of every clip of another shape (``TimelineShot.framing``).
    """
    spec = timeline.output
    tolerance = max(DURATION_TOLERANCE_S, seconds_of(1.5, spec.fps))
    seconds = {
        shot.shot_id: seconds_of(frames, spec.fps)
        for shot, frames in zip(timeline.shots, timeline.segment_frames(), strict=True)
    }

    def check(shot: TimelineShot) -> TimelineShot:
        info = check_media(
            shot.clip,
            kind="video",
            expected_duration_s=shot.clip_duration_s,
            tolerance_s=tolerance,
            task=clip_task(shot.shot_id),
        )
        source = ClipFormat(
            info.width, info.height, info.fps, info.pix_fmt, info.sar, info.constant_rate
        )
        framing = None
        size = (info.width or 0, info.height or 0)
        if spec.fit == "follow" and all(size) and needs_reframe(*size, spec.width, spec.height):
            from videofactory.assembly.subject import track_subject

            framing = track_subject(
                shot.clip, seconds[shot.shot_id], size, (spec.width, spec.height)
            )
            log.info(
                "shot %s: reframed to follow its subject (%s, %d keys)",
                shot.shot_id,
                framing.motion,
                len(framing.keys),
            )
        return replace(shot, source=source, framing=framing)

    return replace(timeline, shots=tuple(_each(check, timeline.shots)))


def check_inputs(timeline: Timeline) -> Timeline:
    """Refuse the first unusable narration, music or clip (``check_sound``, ``check_clips``)."""
    return check_clips(check_sound(timeline))


def _require(timeline: Timeline, ffmpeg: FFmpeg) -> None:
    """Refuse, with how to get them, the features this timeline needs and the binary lacks."""
    filters = {"tpad", "amix", "adelay", "anullsrc", "concat", "apad", "select"}
    kinds = {timeline.transition_into(i).kind for i in range(1, len(timeline.shots))}
    frames = timeline.transition_frames()
    blends = {timeline.transition_into(i + 1).kind for i, n in enumerate(frames) if n}
    if "fade" in blends:
        filters |= {"overlay", "fade"}  # a crossfade (graph._blend)
    if blends - {"fade"}:
        filters.add("xfade")
    if timeline.music is not None:
        filters |= {"afade", "sidechaincompress", "asplit"}
    if timeline.room_tone_dbfs is not None:
        filters |= {"anoisesrc", "lowpass"}
    if timeline.loudness is not None:
        filters |= {"alimiter", "lowpass"}
    if timeline.burn_subtitles:
        filters.add("subtitles")
    ffmpeg.require(filters, {"libx264", "aac", "mjpeg"})
    newer = (kinds & XFADE_NEWER) - xfade_transitions(ffmpeg)
    if newer:
        raise AssemblyError(
            f"ffmpeg at {ffmpeg.path} ({ffmpeg.version}) has no xfade transition "
            f"{', '.join(sorted(newer))} (ffmpeg 7.0 or later has it); pick another "
            "transition or use a newer ffmpeg (`pip install -U imageio-ffmpeg`)"
        )


def _meters(
    timeline: Timeline,
    ffmpeg: FFmpeg,
    stage: MeasureStage,
    levels: AudioLevels | None = None,
    mix_file: Path | None = None,
) -> list[LoudnessMeasurement]:
    """One audio-only loudness pass: the summaries of its meters, in graph order."""
    tail = run_ffmpeg(
        ffmpeg,
        measure_args(timeline, stage, levels, mix_file),
        tail_lines=MEASURE_TAIL_LINES,
        label=f"the loudness measurement ({stage})",
    )
    return parse_ebur128(tail)


def _measure(
    timeline: Timeline, ffmpeg: FFmpeg, mix_file: Path | None
) -> tuple[AudioLevels, Timeline]:
    """Check the clips and run the audio-only loudness passes this timeline needs; return the
    levels and the timeline with the clips' formats (``check_clips``).

    The narration and the music are measured side by side, in two ffmpeg runs, while the
    clips are checked here. With ``mix_file``, the pass that measures the mix also writes it
    there, for the render.
    """
    if timeline.loudness is None:
        # Music stays at its own level: there is nothing to set it by.
        return AudioLevels(), check_clips(timeline)
    speech = music = None
    if any(shot.narration is not None for shot in timeline.shots) and timeline.music is not None:
        with ThreadPoolExecutor(2, thread_name_prefix="loudness") as pool:
            stems = [pool.submit(_meters, timeline, ffmpeg, s) for s in ("speech", "music")]
            try:
                timeline = check_clips(timeline)
            finally:
                wait(stems)  # a clip's error wins over theirs: it is the one to fix
            speech, music = (stem.result()[-1] for stem in stems)
    else:
        timeline = check_clips(timeline)
    levels = levels_for(timeline, speech, music)
    mix = _meters(timeline, ffmpeg, "mix", levels, mix_file)[-1]
    log.info("loudness: mix %.1f LUFS, music gain %.1f dB", mix.input_i, levels.music_gain_db)
    levels = levels_for(timeline, speech, music, mix)
    if (
        mix_file is not None
        and not mix.silent
        and (limited(timeline, mix) or timeline.room_tone_dbfs is not None)
    ):
        levels = _makeup(timeline, ffmpeg, levels, mix_file)
    return levels, timeline


#: Passes that measure the levelled mix, and how close to the target they may stop.
MAKEUP_PASSES = 3
MAKEUP_TOLERANCE_LU = 0.15
#: The most gain added back: a mix that needs more is mostly peaks.
MAX_MAKEUP_DB = 8.0


def _makeup(timeline: Timeline, ffmpeg: FFmpeg, levels: AudioLevels, mix_file: Path) -> AudioLevels:
    """The levels with the gain the limiter and the room tone move the loudness by added back.

    Each pass measures the mix file as the render will write it (gain, limiter, room tone; a
    fast audio-only run); the next gain comes from the last two by the secant rule, since
    what the limiter takes grows with the gain: peaky narration lands on the target in two or
    three passes, a mix that needs no limiting in one.
    """
    assert timeline.loudness is not None
    target = timeline.loudness.integrated_lufs
    tried: list[tuple[float, float]] = []  # (makeup, loudness it gave)
    makeup = 0.0
    for _ in range(MAKEUP_PASSES):
        levels = replace(levels, makeup_db=round(makeup, 2))
        measured = _meters(timeline, ffmpeg, "levelled", levels, mix_file)[-1]
        if measured.silent or abs(target - measured.input_i) <= MAKEUP_TOLERANCE_LU:
            break
        tried.append((levels.makeup_db, measured.input_i))
        slope = 1.0
        if len(tried) > 1:
            (m0, i0), (m1, i1) = tried[-2:]
            if m1 != m0:
                slope = min(max((i1 - i0) / (m1 - m0), 0.2), 1.0)
        makeup = min(
            max(tried[-1][0] + (target - tried[-1][1]) / slope, -MAX_MAKEUP_DB), MAX_MAKEUP_DB
        )
    else:
        levels = replace(levels, makeup_db=round(makeup, 2))
    log.info("loudness: levelled, %+.1f dB made up", levels.makeup_db)
    return levels


def assemble(
    timeline: Timeline,
    out_path: Path,
    *,
    ffmpeg: FFmpeg | None = None,
    on_progress: Callable[[float], None] | None = None,
    new: bool = False,
) -> MediaInfo:
    """Render ``timeline`` to ``out_path``; write subtitles, thumbnail and contact sheet beside it.

    Beside ``final.mp4`` go ``final.srt``, ``final.vtt``, ``final.thumb.jpg`` and
    ``final.contact.jpg`` (see ``side_files``).

    Arguments:
        timeline: shots, transitions, sound and output settings.
        out_path: the final video (``.mp4``); replaced only when the new one is good.
        ffmpeg: the binary to use; ``find_ffmpeg()`` when None.
        on_progress: called with the rendered fraction, 0..1.
        new: make a new file: refuse (``OutputBusy``) when ``out_path`` exists already.

    One assembly of an output at a time: a second one waits ``LOCK_WAIT_S`` for the first,
    then gives up with ``OutputBusy`` (at once when ``new``). The temporary files of an
    assembly that was killed are removed first.

    Returns:
        The probe of the finished video.

    Raises:
        MediaError: an input is missing, empty, corrupt, of the wrong length or has no stream.
        OutputBusy: another process is assembling ``out_path``.
        AssemblyError: ffmpeg lacks a feature or failed, or its output is not the video asked.
    """
    out_path = Path(out_path)
    timeline, music = _sound(timeline)
    ffmpeg = ffmpeg or find_ffmpeg()
    _require(timeline, ffmpeg)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with owned(out_path, new=new):
        return _assemble(timeline, out_path, ffmpeg, on_progress, music)


def _assemble(
    timeline: Timeline,
    out_path: Path,
    ffmpeg: FFmpeg,
    on_progress: Callable[[float], None] | None,
    music: MediaInfo | None = None,
) -> MediaInfo:
    sides = side_files(out_path)
    work = work_files(out_path)
    tmp = partial_path(work["video"])
    sheet = partial_path(work["contact_sheet"])
    script = partial_path(work["script"]) if timeline.burn_subtitles else None
    mix = partial_path(work["mix"]) if timeline.loudness is not None else None
    looped = partial_path(work["music"])
    pictures = partial_path(work["pictures"])
    try:
        pictures.mkdir()
        timeline = _looped(timeline, music, looped)
        levels, timeline = _measure(timeline, ffmpeg, mix)  # the clips checked meanwhile
        if script is not None:
            script.write_text(subtitles_ass(timeline), encoding="utf-8")
        args = build_ffmpeg_args(
            timeline,
            tmp,
            levels=levels,
            subtitles_file=script,
            fonts_dir=fonts_dir() if script is not None else None,
            pictures=pictures,
            mix_file=mix,
        )
        run_ffmpeg(
            ffmpeg, args, duration_s=timeline.total_s, on_progress=on_progress, label=str(out_path)
        )
        checked = _verify(timeline, tmp)
        shown = picture_frames(timeline)
        files = dict(zip(shown, picture_paths(pictures, len(shown)), strict=True))
        middles = [files[n] for n in timeline.shot_middle_frames()]
        compose(middles, contact_layout(timeline), sheet)
        thumb = files[timeline.thumbnail_frame()]
        if not thumb.is_file():
            raise AssemblyError(f"ffmpeg wrote no thumbnail (frame {timeline.thumbnail_frame()})")
        os.replace(tmp, out_path)
        os.replace(thumb, sides["thumbnail"])
        os.replace(sheet, sides["contact_sheet"])
    finally:
        for path in (tmp, sheet, script, mix, looped):
            if path is not None:
                path.unlink(missing_ok=True)
        shutil.rmtree(pictures, ignore_errors=True)
    write_text(sides["srt"], subtitles_srt(timeline))
    write_text(sides["vtt"], subtitles_vtt(timeline))
    info = replace(checked, path=out_path)  # probed as the temporary file, before the rename
    log.info("assembled %s: %.3f s, %dx%d", out_path, info.duration_s, info.width, info.height)
    return info


def _looped(timeline: Timeline, info: MediaInfo | None, dest: Path) -> Timeline:
    """The timeline with music shorter than the video looped without clicks into ``dest``
    (``soundtrack.loop_for``); as it is when no loop is needed."""
    if timeline.music is None or info is None:
        return timeline
    from videofactory.assembly.soundtrack import loop_for

    rate = timeline.output.audio_rate
    if loop_for(timeline.music, info, timeline.total_s, rate, dest) is None:
        return timeline
    log.info("music %s looped with crossfaded seams", timeline.music.path)
    return replace(timeline, music=replace(timeline.music, path=dest, seamless=True))


def _verify(timeline: Timeline, path: Path) -> MediaInfo:
    """Refuse ffmpeg output that is not what was asked for (length, size, streams); return
    its probe."""
    spec = timeline.output
    try:
        # One frame of slack, plus an AAC packet: the container ends with the longer stream.
        info = check_media(
            path,
            kind="video",
            expected_duration_s=timeline.total_s,
            tolerance_s=seconds_of(1, spec.fps) + seconds_of(1024, spec.audio_rate),
        )
    except MediaError as exc:
        raise AssemblyError(f"ffmpeg wrote an unusable video: {exc}") from exc
    problems = []
    if (info.width, info.height) != (spec.width, spec.height):
        problems.append(f"size {info.width}x{info.height} != {spec.width}x{spec.height}")
    # The container lasts as long as its longer stream: frames missing from the video show
    # only in its frame count.
    if info.frames is not None and abs(info.frames - timeline.total_frames) > 1:
        problems.append(f"{info.frames} video frames of {timeline.total_frames}")
    if not info.has_audio:
        problems.append("no audio stream")
    if problems:
        raise AssemblyError(f"ffmpeg wrote {path.name} with " + "; ".join(problems))
    return info
