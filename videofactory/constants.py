"""Constants in one place; every value that is not obvious says why it is what it is.

The bounds on what a user gives (lengths, sizes, counts) are in ``limits.py``.
"""

from __future__ import annotations

#: The ComfyUI version whose protocol we follow (docs/comfyui-api.md was written from it).
COMFYUI_PROTOCOL_VERSION = "0.3.64"

#: First port of a local simulated farm, like ComfyUI's default.
DEFAULT_SIM_PORT = 8188

#: The seed's speech server (Chatterbox TTS, ``POST /generate``).
DEFAULT_SPEECH_URL = "http://localhost:8880"

#: Output of a run unless a preset says otherwise: 720p, 24 fps (the seed's "final quality"
#: target is set per farm; 720p keeps the built-in CPU demo under a couple of minutes).
DEFAULT_WIDTH = 1280
DEFAULT_HEIGHT = 720
DEFAULT_FPS = 24

#: A normal speaking rate; narration is written to fit its shot at this rate.
WORDS_PER_SECOND = 2.5

#: Length of one clip the scene workflow produces, in seconds. Image-to-video models make
#: clips of a few seconds (Wan 2.2: 81 frames at 16 fps = 5 s; LTX-Video: ~5 s), so a shot is
#: one clip of about this length.
DEFAULT_CLIP_SECONDS = 5.0

#: Runs go here unless --workdir says otherwise.
DEFAULT_WORKDIR = "runs"

#: Each ComfyUI server holds the running job plus at most this many queued behind it, so the
#: GPU never idles between jobs and the scheduler can still move work that has not started.
JOBS_AHEAD_PER_SERVER = 1

#: Seconds to wait for an HTTP answer from a ComfyUI server.
HTTP_TIMEOUT_S = 30.0

#: How often to poll /history while a websocket is down.
HISTORY_POLL_S = 1.0

#: Simulator device names carry this tag so nobody mistakes it for a GPU.
SIM_TAG = "videofactory simulator"
