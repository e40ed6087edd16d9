"""Preflight: check a workflow against a server's ``/object_info`` before any GPU time is spent.

``check_graph`` is pure (graph + object_info -> problems); ``preflight`` asks the server for its
node catalogue (cached per client) and runs it. It finds what ComfyUI would refuse with a 400
and more: combo inputs of the newer node schema (SaveVideo format, UpscaleModelLoader model,
LoadVideo file, ...) that the server accepts unchecked and then fails on at run time, model
files a loader cannot find, values out of range, required inputs missing, links to missing
nodes or outputs, links of the wrong type, literals where a link is needed, and the
``"false"``-is-true trap of BOOLEAN inputs. One ``Problem`` per finding, ``str()`` one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from videofactory.comfy.detect import is_link
from videofactory.comfy.references import drop_references, reference_name, reference_slots
from videofactory.comfy.workflow import Workflow

if TYPE_CHECKING:
    from videofactory.comfy.client import ComfyClient

__all__ = ["Problem", "check_graph", "check_workflow", "preflight"]

#: Loader input -> the models/ folder its file goes in (for the "put it in" hint).
MODEL_FOLDERS = {
    "ckpt_name": "checkpoints",
    "unet_name": "diffusion_models",
    "clip_name": "text_encoders",
    "clip_name1": "text_encoders",
    "clip_name2": "text_encoders",
    "vae_name": "vae",
    "lora_name": "loras",
    "model_name": "upscale_models",
    "control_net_name": "controlnet",
    "style_model_name": "style_models",
}
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
#: Parameters whose file the dispatcher uploads just before submitting: their combo choices
#: (the files in input/ when /object_info was read) cannot include it yet.
UPLOADED = ("input_image", "input_video", "input_audio", "end_image")
#: Most choices listed in one problem line.
MAX_CHOICES = 12


@dataclass(frozen=True)
class Problem:
    """One thing that would make the workflow fail on this server."""

    #: What kind of problem: unknown_node, missing_model, not_in_list, out_of_range,
    #: bad_value, missing_input, bad_link, no_output, workflow, unreachable.
    kind: str
    message: str
    node_id: str | None = None
    title: str = ""
    class_type: str = ""
    input: str | None = None
    choices: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = ""
        if self.node_id is not None:
            label = self.class_type or "no class_type"
            if self.title and self.title != self.class_type:
                label = f"{self.title}, {self.class_type}"
            where = f"node {self.node_id} ({label})"
            if self.input:
                where += f" input {self.input!r}"
            where += ": "
        text = where + self.message
        if self.choices or self.kind in ("missing_model", "not_in_list"):
            text += f"; it has: {_choices(self.choices)}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict (with its one-line rendering)."""
        return {
            "kind": self.kind,
            "node_id": self.node_id,
            "title": self.title,
            "class_type": self.class_type,
            "input": self.input,
            "message": self.message,
            "choices": list(self.choices),
            "line": str(self),
        }


async def preflight(
    client: ComfyClient,
    workflow: Workflow | Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    refresh: bool = False,
) -> list[Problem]:
    """Check a workflow (bound with ``params`` when given) against the server's node catalogue.

    Raises a BackendError when the server cannot be asked; returns [] when all is well.
    """
    info = await client.object_info(refresh=refresh)
    if isinstance(workflow, Workflow):
        return check_workflow(workflow, info, params)
    return check_graph(workflow, info)


def check_workflow(
    workflow: Workflow, object_info: Mapping[str, Any], params: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Check a Workflow; the inputs our uploads go to are not held to the current file list.

    An edit workflow is checked with each number of its reference slots filled (a film may
    have one look picture, or none), as ``Workflow.bind`` takes the unfilled ones out.
    """
    graph = workflow.bind(params, strict=False) if params else dict(workflow.graph)
    slots = reference_slots(workflow.bindings)
    uploaded = (*UPLOADED, *(reference_name(i) for i in range(1, slots + 1)))
    runtime = {
        target
        for name in uploaded
        if name in workflow.bindings
        for target in workflow.bindings[name].targets
    }
    problems = check_graph(graph, object_info, runtime=runtime)
    seen = {str(p) for p in problems}
    for keep in range(slots):
        fewer = drop_references(graph, workflow.bindings, keep)
        for problem in check_graph(fewer, object_info, runtime=runtime):
            if str(problem) not in seen:
                seen.add(str(problem))
                problems.append(
                    Problem(
                        problem.kind,
                        f"{problem.message} (with {keep} reference picture(s))",
                        problem.node_id,
                        problem.title,
                        problem.class_type,
                        problem.input,
                        problem.choices,
                    )
                )
    return problems


def check_graph(
    graph: Mapping[str, Any],
    object_info: Mapping[str, Any],
    *,
    runtime: Collection[tuple[str, str]] = (),
) -> list[Problem]:
    """Every problem of an API-format graph against an /object_info answer (pure)."""
    problems: list[Problem] = []
    for node_id, node in graph.items():
        cls = str(node.get("class_type", ""))
        if not cls:
            problems.append(
                Problem("unknown_node", "the node has no class_type", str(node_id), _title(node))
            )
        elif cls not in object_info:
            close = difflib.get_close_matches(cls, list(object_info), n=5)
            problems.append(
                Problem(
                    "unknown_node",
                    f"unknown node type {cls!r}: this server has no such node; install the "
                    "custom node that provides it, or use another workflow"
                    + (f" (similar: {', '.join(close)})" if close else ""),
                    str(node_id),
                    _title(node),
                    cls,
                )
            )
    outputs = [nid for nid, n in graph.items() if _info(object_info, n).get("output_node")]
    if not outputs and not problems:
        problems.append(
            Problem(
                "no_output",
                "the workflow has no output node (SaveImage, SaveVideo, ...), so ComfyUI would "
                "run nothing; add a save node",
            )
        )
    for node_id in _upstream(graph, outputs or list(graph)):
        node = graph[node_id]
        info = _info(object_info, node)
        if info:
            problems += _check_node(graph, object_info, str(node_id), node, info, runtime)
    return problems


# -- one node -----------------------------------------------------------------------------------


def _check_node(
    graph: Mapping[str, Any],
    object_info: Mapping[str, Any],
    node_id: str,
    node: Mapping[str, Any],
    info: Mapping[str, Any],
    runtime: Collection[tuple[str, str]],
) -> list[Problem]:
    inputs = node.get("inputs") or {}
    spec_in = info.get("input") or {}
    required = spec_in.get("required") or {}
    specs = {**(spec_in.get("optional") or {}), **required}
    cls, title = str(node.get("class_type")), _title(node)
    out: list[Problem] = []

    def problem(kind: str, name: str | None, message: str, choices: Iterable[str] = ()) -> None:
        out.append(Problem(kind, message, node_id, title, cls, name, tuple(map(str, choices))))

    for name in required:
        if name not in inputs:
            problem("missing_input", name, "required input is missing; add it to the workflow")
    for name, value in inputs.items():
        spec = specs.get(name)
        if spec is None:
            continue  # ComfyUI ignores inputs a node does not declare
        in_type, opts = _spec(spec)
        if is_link(value):
            _check_link(
                graph, object_info, value, in_type, lambda m, n=name: problem("bad_link", n, m)
            )
        elif isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
            problem(
                "bad_link",
                name,
                f"link {value} uses an integer node id; ComfyUI needs a string "
                f'(["{value[0]}", {value[1]}]); export the workflow again in API format',
            )
        elif isinstance(value, list) and not isinstance(in_type, list):
            problem("bad_link", name, f"{value!r} is neither a link [node id, output] nor a value")
        elif (node_id, name) not in runtime:
            for kind, message, choices in _check_value(name, value, in_type, opts):
                problem(kind, name, message, choices)
    return out


def _check_link(
    graph: Mapping[str, Any],
    object_info: Mapping[str, Any],
    link: list[Any],
    in_type: Any,
    report: Any,
) -> None:
    src_id, index = link
    src = graph.get(src_id)
    if not isinstance(src, dict):
        report(f"links to node {src_id}, which the workflow lacks")
        return
    src_info = _info(object_info, src)
    if not src_info:
        return  # unknown source type: reported once, on that node
    outputs = src_info.get("output") or []
    if not 0 <= index < len(outputs):
        report(
            f"links to output {index} of node {src_id} ({src.get('class_type')}), which has "
            f"{len(outputs)} output(s)"
        )
        return
    out_type = outputs[index]
    if not _types_match(out_type, in_type):
        want = "a choice" if isinstance(in_type, list) else in_type
        report(f"gets {out_type} from node {src_id} ({src.get('class_type')}) but needs {want}")


def _check_value(
    name: str, value: Any, in_type: Any, opts: Mapping[str, Any]
) -> list[tuple[str, str, tuple[str, ...]]]:
    choices = in_type if isinstance(in_type, list) else opts.get("options")
    if isinstance(in_type, list) or in_type == "COMBO":
        choices = [str(c) for c in (choices or [])]
        if str(value) in choices:
            return []
        if name in MODEL_FOLDERS or str(value).lower().endswith(MODEL_SUFFIXES):
            folder = MODEL_FOLDERS.get(name, "the models folder")
            msg = f"model file {value!r} is not on this server (put it in models/{folder})"
            return [("missing_model", msg, tuple(choices))]
        return [("not_in_list", f"value {value!r} is not one of the choices", tuple(choices))]
    if in_type in ("INT", "FLOAT"):
        try:
            number = (int if in_type == "INT" else float)(value)
        except (TypeError, ValueError):
            what = "a whole number" if in_type == "INT" else "a number"
            return [("bad_value", f"{value!r} is not {in_type} ({what})", ())]
        low, high = opts.get("min"), opts.get("max")
        if low is not None and number < low:
            return [("out_of_range", f"{value} is below the minimum {low}", ())]
        if high is not None and number > high:
            return [("out_of_range", f"{value} is above the maximum {high}", ())]
        return []
    if in_type == "BOOLEAN":
        if isinstance(value, str):
            return [
                (
                    "bad_value",
                    f"BOOLEAN given the string {value!r}, which ComfyUI reads as "
                    f"{bool(value)}; write true or false without quotes",
                    (),
                )
            ]
        return []
    if in_type in ("STRING", "*") or isinstance(value, dict):
        return []
    return [("bad_value", f"needs a link from a node that outputs {in_type}, not a value", ())]


# -- helpers ------------------------------------------------------------------------------------


def _spec(spec: Any) -> tuple[Any, Mapping[str, Any]]:
    """(type, options) of an input spec: type is a name, or a list for a classic combo."""
    if not isinstance(spec, list) or not spec:
        return spec, {}
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return spec[0], opts


def _types_match(out_type: Any, in_type: Any) -> bool:
    if isinstance(in_type, list):  # a combo fed by a primitive or a switch
        return True
    a, b = str(out_type), str(in_type)
    if "*" in (a, b) or "COMBO" in (a, b):
        return True
    return bool(set(a.split(",")) & set(b.split(",")))


def _info(object_info: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    if not isinstance(node, dict):
        return {}
    info = object_info.get(str(node.get("class_type", "")))
    return info if isinstance(info, dict) else {}


def _upstream(graph: Mapping[str, Any], roots: Iterable[str]) -> list[str]:
    """The nodes the roots depend on (the roots included), in graph order."""
    seen: set[str] = set()
    stack = [str(r) for r in roots]
    while stack:
        nid = stack.pop()
        if nid in seen or nid not in graph:
            continue
        seen.add(nid)
        for value in (graph[nid].get("inputs") or {}).values():
            if is_link(value):
                stack.append(value[0])
    return [str(n) for n in graph if str(n) in seen]


def _title(node: Mapping[str, Any]) -> str:
    return str((node.get("_meta") or {}).get("title") or "")


def _choices(choices: tuple[str, ...]) -> str:
    if not choices:
        return "none installed"
    shown = ", ".join(choices[:MAX_CHOICES])
    more = len(choices) - MAX_CHOICES
    return shown + (f" (and {more} more)" if more > 0 else "")
