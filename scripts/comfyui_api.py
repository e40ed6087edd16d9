#!/usr/bin/env python3
"""The seed's ComfyUI quick command, verbatim: ``python scripts/comfyui_api.py test``.

Same as ``videofactory test``: checks /system_stats, /object_info and one tiny workflow round
trip against a ComfyUI server (``--url``, the farm file's first worker, or :8188).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from videofactory.cli import app  # noqa: E402

if __name__ == "__main__":
    app(prog_name="comfyui_api.py")
