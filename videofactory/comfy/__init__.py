"""The ComfyUI adapter: an async client per server, workflows with their bindings, preflight."""

from __future__ import annotations

from videofactory.comfy.client import ComfyClient, new_prompt_id
from videofactory.comfy.detect import Detection, detect_bindings
from videofactory.comfy.farmcheck import KindCheck, WorkerPreflight, preflight_farm
from videofactory.comfy.preflight import Problem, check_graph, check_workflow, preflight
from videofactory.comfy.results import OutputRef, Progress, PromptResult
from videofactory.comfy.workflow import (
    Binding,
    Workflow,
    load_spec,
    load_template,
    load_workflow,
    template_names,
)

__all__ = [
    "Binding",
    "ComfyClient",
    "Detection",
    "KindCheck",
    "OutputRef",
    "Problem",
    "Progress",
    "PromptResult",
    "WorkerPreflight",
    "Workflow",
    "check_graph",
    "check_workflow",
    "detect_bindings",
    "load_spec",
    "load_template",
    "load_workflow",
    "new_prompt_id",
    "preflight",
    "preflight_farm",
    "template_names",
]
