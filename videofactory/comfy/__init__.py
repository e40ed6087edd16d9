"""The ComfyUI adapter: an async client per server, workflows with their bindings, preflight.

The names below are imported from their modules on first use (``videofactory.lazy``): reading
a workflow (``comfy.workflow``) does not load aiohttp and websockets with the client.
``preflight`` is imported here: it is also the name of its module, which would take its place
once imported.
"""

from __future__ import annotations

import typing

from videofactory import lazy
from videofactory.comfy.preflight import Problem, check_graph, check_workflow, preflight

if typing.TYPE_CHECKING:
    from videofactory.comfy.client import ComfyClient, new_prompt_id
    from videofactory.comfy.detect import Detection, detect_bindings
    from videofactory.comfy.farmcheck import KindCheck, WorkerPreflight, preflight_farm
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

#: Where each name lives (the rest of ``__all__`` is imported above).
_HOMES = {
    "ComfyClient": "client",
    "new_prompt_id": "client",
    "Detection": "detect",
    "detect_bindings": "detect",
    "KindCheck": "farmcheck",
    "WorkerPreflight": "farmcheck",
    "preflight_farm": "farmcheck",
    "OutputRef": "results",
    "Progress": "results",
    "PromptResult": "results",
    "Binding": "workflow",
    "Workflow": "workflow",
    "load_spec": "workflow",
    "load_template": "workflow",
    "load_workflow": "workflow",
    "template_names": "workflow",
}

__getattr__, __dir__ = lazy.exports(globals(), _HOMES)
