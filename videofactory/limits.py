"""Every limit on what a user hands us, each defined once and imported where it is checked.

A limit keeps a hostile or mistaken input (a 100 000-shot list, a 10 GB "shot list", a port
past 65535) to one line naming what is wrong, and each message names its limit. Defaults (what
a run uses when nobody says) live in ``constants.py``; this module holds only the bounds.
"""

from __future__ import annotations

__all__ = [
    "MAX_CLIP_SECONDS",
    "MAX_CONCEPT_CHARS",
    "MAX_DURATION_SECONDS",
    "MAX_FILE_BYTES",
    "MAX_FPS",
    "MAX_NESTING",
    "MAX_PORT",
    "MAX_SHOTS",
    "MAX_STYLE_CHARS",
    "MAX_TAKES",
    "MAX_SHOT_LENGTH_S",
    "MAX_SHOT_SECONDS",
    "MAX_SIDES",
    "MAX_WORKERS",
    "MIN_CLIP_SECONDS",
    "MIN_FPS",
    "MIN_LLM_SHOT_S",
    "MIN_PORT",
    "MIN_SHOT_SECONDS",
    "MIN_SIDE",
]

# -- the video ---------------------------------------------------------------------------------

#: Longest video we accept: 3 hours.
MAX_DURATION_SECONDS = 3 * 3600.0
#: Frame sizes a video may have: H.264 in yuv420p (what every player plays) needs even sides;
#: 8K UHD is the largest.
MIN_SIDE = 64
MAX_SIDES = {"width": 7680, "height": 4320}
#: Frame rates, as ComfyUI's CreateVideo encodes them (its ``fps`` input: 1 to 120); a
#: model's own rate in a bindings file is held to the same range.
MIN_FPS, MAX_FPS = 1, 120

# -- shots -------------------------------------------------------------------------------------

#: Shortest and longest shot the planner makes; a video is at least one such shot long.
MIN_SHOT_SECONDS = 2.0
MAX_SHOT_SECONDS = 8.0
#: Longest one shot of a hand-written shot list may be (it may hold a long take). The
#: shortest is one frame at the shot list's rate (``ShotList``).
MAX_SHOT_LENGTH_S = 600.0
#: A shot of an LLM's plan shorter than this (the total over the shots it planned) means the
#: model planned far too many.
MIN_LLM_SHOT_S = 1.0
#: Most shots in one shot list: the longest video (3 hours) cut into the shortest shots the
#: planner makes (2 s). Every shot is several tasks in the run database and a row in `show`.
MAX_SHOTS = int(MAX_DURATION_SECONDS // MIN_SHOT_SECONDS)
#: Most takes of one shot (``--takes``, a shot's ``takes``): each is a full clip render, and
#: a contact sheet of more is too small to judge.
MAX_TAKES = 8
#: Shortest and longest clip a farm's scene workflow may make (``clip_seconds`` of a farm file,
#: ``--clip-seconds``): a second of video at least, a minute at most.
MIN_CLIP_SECONDS = 1.0
MAX_CLIP_SECONDS = 60.0

# -- text --------------------------------------------------------------------------------------

#: A concept is a sentence or a paragraph, not a book.
MAX_CONCEPT_CHARS = 2000
#: A style (``--style``) is a phrase that goes into every prompt: it must leave room for them.
MAX_STYLE_CHARS = 300

# -- the farm ----------------------------------------------------------------------------------

#: Most workers one farm may have: every command probes each of them, and a status table or
#: a run's lanes with more are not read by anybody (the seed's farm has six).
MAX_WORKERS = 256
#: TCP ports a server may listen on or be reached at (0, "any free port", is the simulator's
#: own option, not a port).
MIN_PORT, MAX_PORT = 1, 65535

# -- files -------------------------------------------------------------------------------------

#: Largest file read: a workflow with an embedded picture is a few MB, a 3-hour shot list
#: about one; anything this big is a mistake (the wrong file), not a plan.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Deepest nesting of lists and mappings: an API-format workflow is 4 levels deep, a farm
#: file or a shot list 5; a hundred leaves room for any hand-written file.
MAX_NESTING = 100
