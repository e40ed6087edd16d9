"""One ffmpeg run that renders a timeline: its argv and its ``-filter_complex`` graph. Pure.

::

    clip_i ─ setpts, fps, fit (pad|crop|crop that follows), setsar, yuv420p, tpad, trim ─┐
        split into head | middle | tail; blend(tail_i-1, head_i); concat everything ─┤
                         ┌─ split ─ [subtitles (burned, shipped font)] ─ H.264 ─ out.mp4
                  joined ┴─ select(middle of each shot, thumbnail) ──── MJPEG ─ a JPEG each
    narration, music ─ (audio.audio_graph) ─────────────────────────── AAC ─── out.mp4
      or the mix the loudness pass wrote ─ gain ─────────────────────── AAC ─── out.mp4

Each clip is rendered to its segment's exact frame count (``Timeline.segment_frames``: its
shot plus the transition out of it); a transition into shot ``i`` blends the outgoing clip's
extra frames with shot ``i``'s first frames, so the joined video has exactly
``Timeline.total_frames`` frames. The graph uses only
filters and options present in ffmpeg 5.1 (Debian 12) and 9.
"""

from __future__ import annotations

import math
from pathlib import Path

from videofactory.assembly.animatic import move_filter, moves
from videofactory.assembly.audio import AudioLevels, audio_graph, audio_inputs, mixed_audio_graph
from videofactory.assembly.reframe import CropPath, crop_filter, needs_reframe
from videofactory.assembly.sheet import picture_pattern
from videofactory.assembly.subtitles import escape_filter_value
from videofactory.assembly.timeline import ClipFormat, OutputSpec, Timeline
from videofactory.timing import seconds_of

__all__ = [
    "CONTACT_TILE_PX",
    "build_ffmpeg_args",
    "contact_layout",
    "picture_frames",
    "video_graph",
]

#: Long side of one contact-sheet tile in pixels.
CONTACT_TILE_PX = 320
#: Most tiles in a contact-sheet row.
CONTACT_MAX_COLUMNS = 6


def _num(x: float) -> str:
    """A number as ffmpeg reads it, without float noise: 2.5, 3, 0.041667."""
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def _input(path: Path) -> str:
    # "file:" stops ffmpeg reading a name with a colon ("shot:1.mp4") as a protocol.
    return f"file:{path}"


def _fit(spec: OutputSpec, source: ClipFormat, framing: CropPath | None = None) -> str:
    """Bring a clip to the output's size: letterbox it (pad), fill it from the middle (crop),
    or fill it with the window that follows its subject (``framing``).

    A clip of nearly the output's shape (within ``reframe.NEAR_ASPECT``: a model that makes
    sizes in steps of 32 asked for 720x1280 gives 736x1280) is always filled: cropping a few
    pixels is invisible, a bar of a few pixels is not.
    """
    w, h = spec.width, spec.height
    cover = f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}"
    known = source.width is not None and source.height is not None
    if known and (source.width or 0) * h == (source.height or 0) * w:
        return f"scale={w}:{h}"  # the same shape: only the size changes
    if known and not needs_reframe(source.width or 1, source.height or 1, w, h):
        return cover
    if spec.fit == "follow" and framing is not None and known:
        return crop_filter(framing, source.width or 1, source.height or 1, w, h) + f",scale={w}:{h}"
    if spec.fit in ("crop", "follow"):
        return cover
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black"
    )


def _video_chain(
    index: int,
    frames: int,
    spec: OutputSpec,
    out: str,
    source: ClipFormat | None = None,
    framing: CropPath | None = None,
    move: str | None = None,
) -> str:
    """Normalise input ``index`` and make it exactly ``frames`` long (clone its last frame).

    What ``source`` (the probed clip) shows to match the output already is left alone: a clip
    rendered at the output's size, rate and pixel format costs no scaling or conversion. A
    still with a camera ``move`` (an animatic's keyframe) is made ``frames`` long by the move
    (``animatic.move_filter``); one held ``static`` is its one frame cloned.
    """
    source = source or ClipFormat()
    steps = ["setpts=PTS-STARTPTS"]
    if move is not None and moves(move):  # a still seen through a moving camera (animatic)
        steps += [
            move_filter(move, frames, spec.width, spec.height, spec.fps),
            f"settb=1/{spec.fps}",
            "format=yuv420p",
            f"tpad=stop_mode=clone:stop={frames}",
            f"trim=end_frame={frames}",
        ]
        return f"[{index}:v:0]" + ",".join(steps) + f",setpts=PTS-STARTPTS[{out}]"
    # fps also sets the time base to 1/fps, which xfade and concat need on every input:
    # a clip already at the rate only gets the time base. eof_action=pass keeps a last frame
    # shorter than half an output frame: a still image (one frame of 1/25 s) at 12 fps would
    # otherwise come out with no frame at all.
    rate = f"fps={spec.fps}:eof_action=pass"
    steps.append(f"settb=1/{spec.fps}" if source.has_rate(spec) else rate)
    if not source.fits(spec):
        steps += [_fit(spec, source, framing), "setsar=1"]
    if source.pix_fmt != "yuv420p":
        steps.append("format=yuv420p")
    steps += [f"tpad=stop_mode=clone:stop={frames}", f"trim=end_frame={frames}"]
    return f"[{index}:v:0]" + ",".join(steps) + f",setpts=PTS-STARTPTS[{out}]"


def _trim(label: str, start: int, end: int, out: str) -> str:
    # format=yuv420p pins this piece: otherwise xfade's 4:4:4-only inputs would negotiate
    # through trim and split up to the whole clip, converting every frame of it twice.
    return (
        f"[{label}]trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS,"
        f"format=yuv420p[{out}]"
    )


def _blend(kind: str, i: int, frames: int, fps: int) -> list[str]:
    """The transition into shot ``i``: shot ``i - 1``'s tail and shot ``i``'s head, ``frames``
    long, blended into ``x{i}``.

    A crossfade is the incoming head laid over the outgoing tail with an alpha that fades in
    frame by frame: the same linear blend as xfade's ``fade`` (frame ``k`` shows ``k/frames`` of
    the new shot), done in 4:2:0 by overlay's SIMD code, about 2.5 times cheaper than xfade,
    which works in 4:4:4 only and converts both pieces there and back. Other kinds are xfade's.
    """
    tail, head, out = f"[v{i - 1}t]", f"[v{i}h]", f"[x{i}]"
    if kind == "fade":
        return [
            f"{head}format=yuva420p,fade=t=in:s=0:n={frames}:alpha=1[v{i}a]",
            f"{tail}[v{i}a]overlay=format=yuv420,format=yuv420p{out}",
        ]
    return [
        f"{tail}{head}xfade=transition={kind}:duration={_num(seconds_of(frames, fps))}"
        f":offset=0,format=yuv420p{out}"
    ]


def video_graph(timeline: Timeline, out: str) -> list[str]:
    """Normalised clips joined by cuts and transitions into one stream labelled ``out``.

    xfade works in 4:4:4 only, so a whole-stream xfade chain would convert every frame of the
    video twice; instead each transition blends just its two ``d``-frame pieces (the outgoing
    clip's tail and the incoming clip's head, ``_blend``), and one concat joins clip middles
    and blends.
    """
    spec = timeline.output
    graph = [
        _video_chain(i, frames, spec, f"v{i}", shot.source, shot.framing, shot.move)
        for i, (shot, frames) in enumerate(
            zip(timeline.shots, timeline.segment_frames(), strict=True)
        )
    ]
    shot_frames = timeline.shot_frames()
    fades = timeline.transition_frames()
    heads = (0, *fades)  # frames of shot i under the transition into it
    tails = (*fades, 0)  # frames shot i is extended by under the transition out of it
    pieces: list[str] = []
    for i, frames in enumerate(shot_frames):
        head, tail = heads[i], tails[i]
        parts = [("h", 0, head), ("m", head, frames), ("t", frames, frames + tail)]
        parts = [part for part in parts if part[2] > part[1]]
        if len(parts) == 1 and parts[0][0] == "m":  # cut in and out: the clip as it is
            pieces.append(f"v{i}")
            continue
        graph.append(f"[v{i}]split={len(parts)}" + "".join(f"[v{i}{p[0]}0]" for p in parts))
        graph += [_trim(f"v{i}{name}0", a, b, f"v{i}{name}") for name, a, b in parts]
        if head:
            graph += _blend(timeline.transition_into(i).kind, i, head, spec.fps)
            pieces.append(f"x{i}")
        if head < frames:
            pieces.append(f"v{i}m")
    if len(pieces) == 1:
        graph.append(f"[{pieces[0]}]null[{out}]")
    else:
        inputs = "".join(f"[{label}]" for label in pieces)
        # Frame n at n/fps: concat times a piece by its frames' durations, which a one-frame
        # piece may lack, and two pieces then share a timestamp (a frame lost at the encoder).
        graph.append(f"{inputs}concat=n={len(pieces)}:v=1:a=0,setpts=N/({spec.fps}*TB)[{out}]")
    return graph


def contact_layout(timeline: Timeline) -> tuple[int, int, int, int]:
    """Columns, rows, tile width and tile height of the contact sheet."""
    spec = timeline.output
    n = len(timeline.shots)
    columns = min(CONTACT_MAX_COLUMNS, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    scale = CONTACT_TILE_PX / max(spec.width, spec.height)
    tile_w = max(2, 2 * round(spec.width * scale / 2))
    tile_h = max(2, 2 * round(spec.height * scale / 2))
    return columns, rows, tile_w, tile_h


#: JPEG is full range. Converting on the picture branches keeps the range of the shared
#: stream (and so of the H.264 video) limited: ffmpeg 7.1+ negotiates colour range through
#: split, and would otherwise flag the whole video full range to suit the JPEG encoder.
_JPEG_RANGE = "scale=out_range=full"


def picture_frames(timeline: Timeline) -> list[int]:
    """The frames the render writes as pictures: every shot's middle and the thumbnail, in
    frame order, each once."""
    return sorted({*timeline.shot_middle_frames(), timeline.thumbnail_frame()})


def _select(frames: list[int]) -> str:
    # "\," keeps the comma inside eq() from ending the filter in the graph parser.
    return "select=" + "+".join(f"eq(n\\,{n})" for n in frames)


def build_ffmpeg_args(
    timeline: Timeline,
    out_path: Path,
    *,
    levels: AudioLevels | None = None,
    subtitles_file: Path | None = None,
    fonts_dir: Path | None = None,
    pictures: Path | None = None,
    mix_file: Path | None = None,
) -> list[str]:
    """The argv (without the binary) of one ffmpeg run that renders ``timeline``.

    Arguments:
        timeline: what to render.
        out_path: the video (its suffix picks the muxer).
        levels: gains and the mix's loudness from the measuring passes (``audio.py``).
        subtitles_file: an ASS script to burn in (``timeline.burn_subtitles``).
        fonts_dir: the folder of the font the script names.
        pictures: a folder where to write the frames of ``picture_frames`` (every shot's
            middle frame and the thumbnail), one full-size JPEG each, numbered in frame order;
            ``sheet.py`` makes the thumbnail and the contact sheet of them.
        mix_file: the mix as the measuring pass wrote it (``audio.measure_args``); when given,
            the audio is read from it and only its loudness gain is applied, instead of mixing
            the narration and music again.
    """
    spec = timeline.output
    args: list[str] = []
    for shot in timeline.shots:
        args += ["-i", _input(shot.clip)]
    args += ["-i", _input(mix_file)] if mix_file is not None else audio_inputs(timeline)

    shown = picture_frames(timeline)
    branches = ["main"] + (["pics"] if pictures else [])
    burn = subtitles_file is not None
    joined = "vout" if len(branches) == 1 and not burn else "vjoin"
    graph = video_graph(timeline, joined)
    main = joined
    if len(branches) > 1:
        graph.append(f"[{joined}]split={len(branches)}" + "".join(f"[s{b}]" for b in branches))
        main = "smain"
    if burn:
        assert subtitles_file is not None
        source = f"filename={escape_filter_value(str(subtitles_file))}"
        if fonts_dir is not None:
            source += f":fontsdir={escape_filter_value(str(fonts_dir))}"
        graph.append(f"[{main}]subtitles={source}[vout]")
    elif main != "vout":
        graph.append(f"[{main}]null[vout]")
    if pictures:
        graph.append(f"[spics]{_select(shown)},{_JPEG_RANGE}[vpics]")
    if mix_file is not None:
        graph += mixed_audio_graph(timeline, len(timeline.shots), levels or AudioLevels(), "aout")
    else:
        graph += audio_graph(timeline, len(timeline.shots), levels, "aout")

    args += [
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
    if pictures is not None:
        # One JPEG per picture as it passes, not one at the end (sheet.py says why);
        # passthrough: a constant rate would repeat a picture until the next one comes.
        args += ["-map", "[vpics]", "-frames:v", str(len(shown)), "-q:v", "2"]
        args += ["-fps_mode", "passthrough", "-start_number", "0", "-f", "image2"]
        args.append("file:" + picture_pattern(pictures))
    return args
