"""Subtitles from the narration: SRT and WebVTT beside the video, ASS for burning in. Pure.

Cues last as long as their words. A narrated shot's cue starts when its voice starts and ends
``LINGER_S`` after the voice stops (``TimelineShot.spoken``, measured from the narration
file), not at the end of the shot; a narration of several sentences gets a cue per sentence,
the spoken time shared among them by their length in characters, and each change moved to the
pause in the voice nearest to it (where the sentence really ends). Without a measured voice a
shot's cues share the whole shot.

SRT and WebVTT keep the text verbatim (players have fonts for everything); the ASS script for
burning in uses the shipped DejaVu Sans, so it drops what that font cannot draw (emoji) rather
than burn empty boxes, and it neutralises the few sequences libass reads as commands
(backslash escapes, override braces).
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
    "sentences",
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


#: A cue stays up this long after its voice stops: the eye finishes the line.
LINGER_S = 0.25
#: Shortest time a cue is shown (when its shot and the next cue leave room): a one-word line
#: spoken in 0.4 s still needs to be read.
MIN_CUE_S = 0.8
#: A change of cue moves to a pause in the voice at most this far from where the characters
#: put it.
SNAP_S = 0.6

# A sentence ends at . ! ? … (maybe followed by closing quotes or brackets) and whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])([\"'”’)\]]*)\s+")


# A full stop that ends an abbreviation or an initial ("Dr. Jones", "J. R. R. Tolkien").
_NOT_AN_END = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|e\.g|i\.e|[A-Z])\.)$")


def sentences(text: str) -> list[str]:
    """The sentences of a cue text, in order (one when it has no sentence break)."""
    parts, last = [], 0
    for match in _SENTENCE_END.finditer(text):
        following = text[match.end() : match.end() + 1]
        # "Dr. Jones", and '"Really?" she asked': no sentence ends there.
        if _NOT_AN_END.search(text, 0, match.start()) or following.islower():
            continue
        parts.append(text[last : match.end(1)].strip())
        last = match.end()
    parts.append(text[last:].strip())
    return [part for part in parts if part]


def _weight(part: str) -> int:
    """How long a sentence takes to say, in characters that are spoken."""
    return max(1, sum(ch.isalnum() for ch in part))


def _splits(parts: list[str], begin: float, end: float, pauses: list[float]) -> list[float]:
    """Times at which each sentence after the first begins: shared out by characters, each
    moved to the nearest unused pause within ``SNAP_S`` (in order)."""
    total = sum(_weight(p) for p in parts)
    out: list[float] = []
    done = 0
    for part in parts[:-1]:
        done += _weight(part)
        guess = begin + (end - begin) * done / total
        low = out[-1] if out else begin
        near = [p for p in pauses if low < p < end and abs(p - guess) <= SNAP_S]
        out.append(min(near, key=lambda p: abs(p - guess)) if near else max(guess, low))
    return out


def _cues(timeline: Timeline) -> list[tuple[str, float, float, str]]:
    """(cue id, start, end, text) for every sentence of every shot with narration text."""
    cues: list[tuple[str, float, float, str]] = []
    starts = timeline.starts()
    for index, shot in enumerate(timeline.shots):
        text = _cue_text(shot.narration_text)
        if not text:
            continue
        start = starts[index]
        shot_end = start + shot.duration_s
        spoken = shot.spoken
        if spoken is None:
            begin, end, pauses, hold = start, shot_end, [], shot_end
        else:
            begin, end = start + spoken.start_s, start + spoken.end_s
            pauses = [start + p for p in spoken.pauses]
            # Up to LINGER_S after the voice, at least MIN_CUE_S, within the shot unless the
            # voice itself runs past it.
            hold = min(max(end + LINGER_S, begin + MIN_CUE_S), max(shot_end, end))
        parts = sentences(text)
        bounds = [begin, *_splits(parts, begin, end, pauses), hold]
        for k, part in enumerate(parts):
            ident = shot.shot_id if k == 0 else f"{shot.shot_id}.{k + 1}"
            cues.append((ident, bounds[k], bounds[k + 1], part))
    # A voice that runs past its shot gives way to the next cue; nothing outlasts the video.
    out = []
    for k, (ident, begin, end, text) in enumerate(cues):
        limit = cues[k + 1][1] if k + 1 < len(cues) else timeline.total_s
        end = min(end, max(limit, begin))
        out.append((ident, begin, end, text))
    return out


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def subtitles_srt(timeline: Timeline) -> str:
    """SubRip subtitles: a cue per sentence, timed to the voice; text verbatim."""
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
    """WebVTT subtitles: a cue per sentence, timed to the voice, text HTML-escaped.

    The cue id is the shot id, with ``.2``, ``.3``... after it for a shot's later sentences
    (a dot cannot appear in a shot id, so the ids stay unique).
    """
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
