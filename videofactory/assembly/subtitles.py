"""Subtitles from the narration: SRT and WebVTT beside the video, ASS for burning in. Pure.

One cue per narrated shot, timed to the shot. SRT and WebVTT keep the text verbatim (players
have fonts for everything); the ASS script for burning in uses the shipped DejaVu Sans, so it
drops what that font cannot draw (emoji) rather than burn empty boxes, and it neutralises the
few sequences libass reads as commands (backslash escapes, override braces).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from videofactory.assembly.safearea import CAPTION_CLEARANCE, PHONE, caption_margins
from videofactory.assembly.timeline import Timeline

__all__ = [
    "FONT_FAMILY",
    "escape_filter_value",
    "fonts_dir",
    "subtitles_ass",
    "subtitles_srt",
    "subtitles_vtt",
    "vtt_settings",
]

#: The family name inside the shipped font file (assets/DejaVuSans.ttf).
FONT_FAMILY = "DejaVu Sans"

_WORD_JOINER = "\u2060"  # invisible, and stops libass reading "\n" in "C:\new" as a newline


def fonts_dir() -> Path:
    """The folder of the shipped font, for libass's ``fontsdir``."""
    return Path(str(resources.files("videofactory") / "assets"))


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


def vtt_settings(width: int, height: int) -> str:
    """WebVTT cue settings that keep a cue in the phone apps' safe area (``safearea.PHONE``)
    in a vertical video: its box ends just above the covered bottom band, between the left
    edge and the button column; empty for other shapes (players place cues well there)."""
    if height <= width:
        return ""
    left, _top, right, _bottom = PHONE.box(100, 100)  # percentages of the frame
    line = round(100 * (1 - PHONE.bottom - CAPTION_CLEARANCE))
    centre = (left + right) / 2
    return f" line:{line}%,end position:{centre:g}%,center size:{right - left}% align:center"


def subtitles_vtt(timeline: Timeline) -> str:
    """WebVTT subtitles: one cue per narrated shot (cue id = shot id), text HTML-escaped."""
    blocks = ["WEBVTT\n"]
    settings = vtt_settings(timeline.output.width, timeline.output.height)
    for shot_id, start, end, text in _cues(timeline):
        # WebVTT cue text is markup: a bare "<" or "&" would start a tag or an entity.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        ident = re.sub(r"\s+", " ", shot_id).replace("-->", "->")
        stamps = f"{_stamp(start, '.')} --> {_stamp(end, '.')}{settings}"
        blocks.append(f"{ident}\n{stamps}\n{text}\n")
    return "\n".join(blocks)


def _ass_stamp(seconds: float) -> str:
    cs = round(seconds * 100)
    hours, cs = divmod(cs, 360_000)
    minutes, cs = divmod(cs, 6000)
    secs, cs = divmod(cs, 100)
    return f"{hours:d}:{minutes:02d}:{secs:02d}.{cs:02d}"


def _ass_text(text: str) -> str:
    """Cue text as an ASS event: no commands, no glyphs the shipped font lacks."""
    # Astral-plane characters (emoji and friends), emoji presentation selectors and joiners.
    text = re.sub("[\U00010000-\U0010ffff\ufe0f\u200d]", "", text)
    text = text.replace("\\", "\\" + _WORD_JOINER)  # "\N", "\h", "\n" stay literal
    text = text.replace("{", "\\{").replace("}", "\\}")  # "{...}" would be an override block
    return "\\N".join(line.strip() for line in text.split("\n"))


def subtitles_ass(timeline: Timeline) -> str:
    """An ASS script of the narration, styled for burning into a frame of the output's size;
    in a vertical frame the captions stay in the phone apps' safe area (``safearea``)."""
    spec = timeline.output
    size = max(12, round(min(spec.width, spec.height) * 0.055))
    outline = max(1, round(size / 12))
    left, right, bottom = caption_margins(spec.width, spec.height)
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {spec.width}",
        f"PlayResY: {spec.height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        # White text, black outline, bottom centre (alignment 2), inside the safe area.
        f"Style: Default,{FONT_FAMILY},{size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
        f"0,0,0,0,100,100,0,0,1,{outline},0,2,{left},{right},{bottom},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    for _id, start, end, text in _cues(timeline):
        body = _ass_text(text)
        if body.replace("\\N", "").strip():
            stamps = f"{_ass_stamp(start)},{_ass_stamp(end)}"
            lines.append(f"Dialogue: 0,{stamps},Default,,0,0,0,,{body}")
    return "\n".join(lines) + "\n"


def escape_filter_value(value: str) -> str:
    """Quote a string (a file name) as one option value inside a ``-filter_complex`` graph.

    Two levels, as ffmpeg reads them: the option parser first (``\\``, ``'`` and ``:``), then
    the graph parser (``\\``, ``'``, ``[``, ``]``, ``,`` and ``;``).
    """
    for ch in "\\':":
        value = value.replace(ch, "\\" + ch)
    out = []
    for ch in value:
        out.append("\\" + ch if ch in "\\'[],;" else ch)
    return "".join(out)
