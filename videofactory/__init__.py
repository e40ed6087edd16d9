"""videofactory: a video assembly line over a farm of ComfyUI GPUs.

One command turns a concept and a duration into a finished video: plan a shot list, render
keyframes, clips and hero passes on ComfyUI servers (one per GPU), speak the narration, and
assemble everything with FFmpeg.
"""

from __future__ import annotations

from videofactory.errors import FactoryError

__version__ = "0.1.0"

__all__ = ["FactoryError", "__version__"]
