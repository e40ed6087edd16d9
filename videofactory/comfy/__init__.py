"""The ComfyUI adapter: an async client per server, and workflows with their bindings."""

from __future__ import annotations

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.results import OutputRef, PromptResult
from videofactory.comfy.workflow import Workflow, load_template

__all__ = ["ComfyClient", "OutputRef", "PromptResult", "Workflow", "load_template"]
