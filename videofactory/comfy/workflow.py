"""Workflows: API-format ComfyUI JSON plus a bindings map saying where our parameters go.

A bindings file (YAML) maps a parameter name (prompt, negative, seed, width, height, frames,
fps, input_image, input_video, output_prefix, or any named extra) to a node input, by node id
or by node title; a list writes the same value to several inputs::

    prompt: {node: "6", input: text}
    seed: {title: "KSampler", input: seed}
    fps: [{node: "9", input: frame_rate}, {node: "12", input: fps}]

A clip workflow's file may also declare its model's frame rule (``frame_rule: {frames: 4n+1,
fps: 16}``, see ``videofactory.comfy.frames``); ``Workflow.clip_timing`` is then the one place
that says how many frames at what rate a shot asks for. Likewise the step of the sizes its
model makes (``size_rule: {multiple: 32}``, see ``videofactory.comfy.sizes``):
``Workflow.frame_size`` is the size a frame asks for.

Without a bindings file the bindings are detected from the common core nodes
(``videofactory.comfy.detect``) and what was detected is kept in ``Workflow.notes``.
Bundled templates live in ``videofactory/workflows/<set>/<kind>.json``; see the README there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from videofactory.comfy.detect import END_INPUT, detect_bindings, is_link
from videofactory.comfy.frames import (
    ANY_COUNT,
    FRAME_RULE_KEY,
    ClipTiming,
    FrameRule,
    clip_timing,
    infer_frame_rule,
    parse_frame_rule,
)
from videofactory.comfy.references import drop_references, reference_slots
from videofactory.comfy.sizes import (
    EVEN,
    SIZE_RULE_KEY,
    frame_size,
    infer_size_step,
    parse_size_rule,
)
from videofactory.errors import WorkflowError
from videofactory.userfiles import parse_json, parse_yaml, read_text
from videofactory.vocabulary import GPU_KINDS

#: The task kind whose pictures a set's keyframe template makes when it has no look template.
LOOK = "look"

__all__ = [
    "Binding",
    "Workflow",
    "check_api_format",
    "load_spec",
    "load_template",
    "load_workflow",
    "template_names",
]


@dataclass(frozen=True)
class Binding:
    """Where one parameter goes: a node (by id) and an input name, plus any further targets."""

    node: str
    input: str
    #: More (node id, input) pairs that get the same value (e.g. two samplers' seeds).
    more: tuple[tuple[str, str], ...] = ()

    @property
    def targets(self) -> tuple[tuple[str, str], ...]:
        """Every (node id, input) this parameter is written to."""
        return ((self.node, self.input), *self.more)


@dataclass(frozen=True)
class Workflow:
    """An API-format workflow and its bindings."""

    name: str
    graph: Mapping[str, Any]
    bindings: Mapping[str, Binding]
    #: Where the bindings came from: a bindings file, "detected", or a template.
    origin: str = ""
    #: What detection decided, one line each (empty when a bindings file was used).
    notes: tuple[str, ...] = ()
    #: The frame counts and rate its model makes (clip workflows; declared or inferred).
    frame_rule: FrameRule = ANY_COUNT
    #: VRAM the workflow needs in GB, as its bindings file or the farm file declares it
    #: (None: the task kind's default applies).
    vram_gb: float | None = None
    #: The step of the widths and heights its model makes (declared or inferred).
    size_step: int = EVEN
    #: Picture inputs the workflow can do without (``optional: [end_image]`` in its bindings
    #: file): when one is not bound, the node it names (a LoadImage) and every link to it are
    #: left out of the graph, so the input it fed (declared optional by the node that takes
    #: it, as WanFirstLastFrameToVideo's ``end_image``) is simply not given.
    optional: frozenset[str] = frozenset()

    def bind(self, params: Mapping[str, Any], *, strict: bool = True) -> dict[str, Any]:
        """A copy of the graph with the parameters put in place.

        ``strict`` refuses parameters the workflow has no binding for; without it they are
        left out (a clip workflow of a real model has no use for the simulator's camera move).
        """
        unknown = sorted(set(params) - set(self.bindings))
        if unknown and strict:
            raise WorkflowError(
                f"workflow {self.name} has no binding for {', '.join(unknown)}; "
                f"it binds {', '.join(sorted(self.bindings)) or 'nothing'}"
            )
        # Nodes and their inputs are copied (what binding writes to); the values inside, links
        # such as ["4", 0] included, are never written to and are shared with the template.
        graph = {
            nid: {**node, "inputs": dict(node.get("inputs") or {})}
            for nid, node in self.graph.items()
        }
        for name, value in params.items():
            if name in self.bindings:
                for node, input_name in self.bindings[name].targets:
                    graph[node]["inputs"][input_name] = value
        unused = {n for name in self.optional - set(params) for n, _ in self.bindings[name].targets}
        if unused:  # optional inputs the task does not give (a clip with no end frame)
            graph = _without(graph, unused)
        slots = reference_slots(self.bindings)
        given = reference_slots(params)
        if given < slots:  # reference slots the task does not fill go (comfy.references)
            graph = drop_references(graph, self.bindings, given)
        return graph

    def clip_timing(self, duration_s: float, output_fps: float, scale: float = 1.0) -> ClipTiming:
        """The frames and rate to bind for a shot of ``duration_s``: the smallest count the
        model makes that lasts the shot, at its own rate (``frames.clip_timing``)."""
        return clip_timing(duration_s, output_fps, self.frame_rule, scale)

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        """The width and height to bind for a frame of ``width`` x ``height``: each rounded up
        to the step its model makes (``sizes.frame_size``), so its pictures cover the frame."""
        return frame_size(width, height, self.size_step)

    def accepts(self, name: str) -> bool:
        """Whether the workflow binds this parameter."""
        return name in self.bindings

    @property
    def class_types(self) -> set[str]:
        """The node types the workflow uses."""
        return {str(n.get("class_type")) for n in self.graph.values()}

    def describe(self) -> list[str]:
        """One line per binding: parameter -> node (title) input."""
        lines = []
        for name, b in sorted(self.bindings.items()):
            where = ", ".join(
                f"node {n} ({_label(self.graph, n)}) input {i!r}" for n, i in b.targets
            )
            lines.append(f"{name} -> {where}")
        if "frames" in self.bindings:
            lines.append(f"frame rule: {self.frame_rule} ({self.frame_rule.source})")
        for name in sorted(self.optional):
            lines.append(f"{name} is optional: its node is left out when nothing is bound")
        if "width" in self.bindings and self.size_step > EVEN:
            lines.append(f"size rule: widths and heights in steps of {self.size_step} pixels")
        return lines


def load_workflow(path: Path | str, bindings_path: Path | str | None = None) -> Workflow:
    """Load an API-format workflow file and its bindings.

    The bindings are ``bindings_path``, else ``<name>.bindings.yaml`` beside the workflow,
    else detected from the graph.
    """
    path = Path(path)
    text = read_text(path, "workflow", WorkflowError)
    graph = parse_json(text, f"workflow {path}", WorkflowError, "export it again from ComfyUI")
    check_api_format(graph, str(path))
    if bindings_path is None:
        candidate = path.with_name(path.stem + ".bindings.yaml")
        bindings_path = candidate if candidate.is_file() else None
    if bindings_path is None:
        det = detect_bindings(graph)
        bindings = {k: _binding([(t.node, t.input) for t in v]) for k, v in det.targets.items()}
        rule = _frame_rule(graph, bindings, None, str(path))
        step = _size_step(graph, bindings, None, str(path))
        notes = [*det.lines]
        if "frames" in bindings:
            notes.append(
                f"frame rule: {rule} [{rule.source}; declare frame_rule in a bindings "
                "file if the model makes other counts]"
            )
        if step > EVEN:
            notes.append(
                f"size rule: widths and heights in steps of {step} pixels [from the latent "
                "node; declare size_rule in a bindings file if the model needs others]"
            )
        # The end frame node a first-last-frame node reads is optional there (in core ComfyUI).
        optional = frozenset({END_INPUT}) & set(bindings)
        return Workflow(
            path.stem, graph, bindings, "detected", tuple(notes), rule, size_step=step,
            optional=optional,
        )  # fmt: skip
    raw = _read_yaml(Path(bindings_path))
    return _with_bindings(path.stem, graph, raw, str(bindings_path), str(bindings_path))


def load_template(kind: str, template_set: str = "sim") -> Workflow:
    """A bundled workflow template, e.g. ``load_template("clip")`` or ``("keyframe", "flux")``.

    A look picture is a still made from a prompt: a set without a ``look.json`` makes it with
    its ``keyframe.json`` (an edit template given no reference is text-to-image).
    """
    folder = resources.files("videofactory") / "workflows" / template_set
    if kind == LOOK and not (folder / f"{kind}.json").is_file():
        kind = "keyframe"
    graph_file = folder / f"{kind}.json"
    if not graph_file.is_file():
        raise WorkflowError(
            f"no bundled template {template_set}/{kind}; there are {', '.join(template_names())}"
        )
    graph = json.loads(graph_file.read_text(encoding="utf-8"))
    name = f"{template_set}/{kind}"
    check_api_format(graph, name)
    raw = yaml.safe_load((folder / f"{kind}.bindings.yaml").read_text(encoding="utf-8")) or {}
    return _with_bindings(name, graph, raw, f"{name}.bindings.yaml", "template")


def _with_bindings(
    name: str, graph: dict[str, Any], raw: Any, source: str, origin: str
) -> Workflow:
    """A workflow from a bindings file's data: its parameter bindings, and what it declares
    of itself (``frame_rule``, ``vram_gb``)."""
    declared = vram_gb = sizes = None
    if isinstance(raw, dict):
        raw = dict(raw)
        declared = raw.pop(FRAME_RULE_KEY, None)
        sizes = raw.pop(SIZE_RULE_KEY, None)
        vram_gb = _declared_vram({VRAM_KEY: raw.pop(VRAM_KEY, None)}, source)
        optional = raw.pop(OPTIONAL_KEY, None)
    bindings = resolve_bindings(graph, raw, source)
    rule = _frame_rule(graph, bindings, declared, source)
    step = _size_step(graph, bindings, sizes, source)
    return Workflow(
        name, graph, bindings, origin, frame_rule=rule, vram_gb=vram_gb, size_step=step,
        optional=_optional(optional, bindings, source),
    )  # fmt: skip


def _optional(raw: Any, bindings: Mapping[str, Binding], source: str) -> frozenset[str]:
    """The bindings a bindings file's ``optional:`` names (each must be one of its bindings)."""
    if raw is None:
        return frozenset()
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise WorkflowError(f"{source}: optional must be a list of binding names, got {raw!r}")
    unknown = [n for n in names if n not in bindings]
    if unknown:
        raise WorkflowError(
            f"{source}: optional names {', '.join(unknown)}, which it does not bind "
            f"(it binds {', '.join(sorted(bindings)) or 'nothing'})"
        )
    return frozenset(names)


def _without(graph: dict[str, Any], nodes: set[str]) -> dict[str, Any]:
    """The graph without ``nodes`` and without every input that links to one of them."""
    out = {nid: node for nid, node in graph.items() if nid not in nodes}
    for node in out.values():
        inputs = node["inputs"]
        for key in [k for k, v in inputs.items() if is_link(v) and str(v[0]) in nodes]:
            del inputs[key]
    return out


def _size_step(
    graph: Mapping[str, Any], bindings: Mapping[str, Binding], declared: Any, source: str
) -> int:
    """The declared size step, else the one of the node the width is written to."""
    if declared is not None:
        return parse_size_rule(declared, source)
    return infer_size_step(graph, bindings["width"].targets if "width" in bindings else ())


def _frame_rule(
    graph: Mapping[str, Any], bindings: Mapping[str, Binding], declared: Any, source: str
) -> FrameRule:
    """The declared rule, else one inferred from the nodes the frames and fps are written to."""
    if declared is not None:
        return parse_frame_rule(declared, source)
    frames = bindings["frames"].targets if "frames" in bindings else ()
    fps = bindings["fps"].targets if "fps" in bindings else ()
    return infer_frame_rule(graph, frames, fps)


def template_names(kind: str | None = None) -> list[str]:
    """Every bundled template as ``set/kind`` (only those of ``kind`` when given)."""
    root = resources.files("videofactory") / "workflows"
    names = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        if not folder.is_dir():
            continue
        for k in (k.value for k in GPU_KINDS):  # a template set holds one file per GPU kind
            wanted = kind is None or k == kind or (kind == LOOK and k == "keyframe")
            if wanted and (folder / f"{k}.json").is_file():
                names.append(f"{folder.name}/{k}")
    return names


def load_spec(
    spec: Any, kind: str, *, bindings: str | Path | None = None, base_dir: Path | None = None
) -> Workflow:
    """The workflow a farm file names for a task kind.

    ``spec`` is a file path (ending in ``.json``, relative to ``base_dir``), a bundled template
    (``flux`` for the set, or ``flux/keyframe``), or a mapping/object with ``file`` or
    ``template`` and an optional ``bindings`` path.
    """
    file = template = vram_gb = None
    if isinstance(spec, str):
        file, template = (spec, None) if spec.lower().endswith(".json") else (None, spec)
    elif isinstance(spec, Mapping):
        file, template = spec.get("file"), spec.get("template")
        bindings = spec.get("bindings", bindings)
        vram_gb = spec.get("vram_gb")
    else:
        file, template = getattr(spec, "file", None), getattr(spec, "template", None)
        bindings = getattr(spec, "bindings", None) or bindings
        vram_gb = getattr(spec, "vram_gb", None)
    workflow = _load_source(file, template, bindings, kind, base_dir, spec)
    # The farm file's word on what the workflow needs beats the workflow's own.
    declared = _declared_vram({"vram_gb": vram_gb}, f"the {kind} workflow")
    return workflow if declared is None else replace(workflow, vram_gb=declared)


def _load_source(
    file: Any, template: Any, bindings: Any, kind: str, base_dir: Path | None, spec: Any
) -> Workflow:
    if bool(file) == bool(template):
        raise WorkflowError(
            f"the {kind} workflow must name either a file (.json) or a bundled template "
            f"({', '.join(template_names(kind))}), got {spec!r}"
        )
    if template:
        set_name, _, tkind = str(template).partition("/")
        if tkind and tkind != kind and not (kind == LOOK and tkind == "keyframe"):
            raise WorkflowError(f"template {template} is a {tkind} workflow, not a {kind} one")
        return load_template(kind, set_name)
    return load_workflow(_rel(file, base_dir), _rel(bindings, base_dir) if bindings else None)


def check_api_format(graph: Any, source: str) -> None:
    """Refuse what is not an API-format workflow, saying how to get one."""
    if isinstance(graph, dict) and "nodes" in graph and "links" in graph:
        raise WorkflowError(
            f"{source} is a ComfyUI UI-format workflow (it has 'nodes' and 'links'); export the "
            "API format instead: in ComfyUI use Workflow > Export (API), or enable Dev mode "
            "options in the settings and use 'Save (API Format)'"
        )
    if not isinstance(graph, dict) or not graph:
        raise WorkflowError(f"{source} is not an API-format workflow (a mapping of node ids)")
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node:
            raise WorkflowError(f"{source}: node {node_id!r} has no class_type")
        if not isinstance(node.get("inputs", {}), dict):
            raise WorkflowError(f"{source}: node {node_id!r} has inputs that are not a mapping")
        node.setdefault("inputs", {})
    problems = link_problems(graph)
    if problems:
        raise WorkflowError(
            f"{source} has broken links:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def link_problems(graph: Mapping[str, Any]) -> list[str]:
    """Links to nodes that do not exist, or written with integer node ids (pure)."""
    out = []
    for node_id, node in graph.items():
        for name, value in (node.get("inputs") or {}).items():
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)):
                continue
            where = f"node {node_id} ({_label(graph, str(node_id))}) input {name!r}"
            if isinstance(value[0], int) and not isinstance(value[0], bool):
                out.append(
                    f"{where}: link {value} uses an integer node id; ComfyUI needs a string "
                    f'(["{value[0]}", {value[1]}]); export the workflow again in API format'
                )
            elif is_link(value) and value[0] not in graph:
                out.append(f"{where}: links to node {value[0]}, which the workflow lacks")
    return out


#: The key of a bindings file that declares the VRAM the workflow needs (no binding).
VRAM_KEY = "vram_gb"
#: Top-level key of a bindings file naming the picture inputs a workflow can do without.
OPTIONAL_KEY = "optional"


def _declared_vram(raw: Any, source: str) -> float | None:
    """The ``vram_gb: N`` a bindings file declares (what the workflow needs), or None."""
    value = raw.get(VRAM_KEY) if isinstance(raw, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1024:
        raise WorkflowError(
            f"{source}: vram_gb must be the GB of VRAM the workflow needs, a number above 0 "
            f"and at most 1024 (got {value!r})"
        )
    return float(value)


def resolve_bindings(graph: Mapping[str, Any], raw: Any, source: str) -> dict[str, Binding]:
    """Turn bindings data into node-id bindings, checking every node and input exists."""
    if not isinstance(raw, dict):
        raise WorkflowError(f"{source}: bindings must be a mapping of parameter -> node input")
    by_title: dict[str, list[str]] = {}
    for node_id, node in graph.items():
        title = (node.get("_meta") or {}).get("title")
        if title:
            by_title.setdefault(str(title), []).append(str(node_id))
    out: dict[str, Binding] = {}
    for name, spec in raw.items():
        specs = spec if isinstance(spec, list) and spec else [spec]
        out[str(name)] = _binding([_target(graph, by_title, str(name), s, source) for s in specs])
    return out


def _target(
    graph: Mapping[str, Any], by_title: dict[str, list[str]], name: str, spec: Any, source: str
) -> tuple[str, str]:
    if not isinstance(spec, dict) or "input" not in spec or not ({"node", "title"} & set(spec)):
        raise WorkflowError(
            f'{source}: binding {name!r} must look like {{node: "6", input: text}} '
            'or {title: "Positive", input: text} (or a list of those)'
        )
    if "node" in spec:
        node_id = str(spec["node"])
        if node_id not in graph:
            raise WorkflowError(
                f"{source}: binding {name!r} names node {node_id}, which the workflow lacks "
                f"(it has nodes {', '.join(map(str, graph))})"
            )
    else:
        ids = by_title.get(str(spec["title"]), [])
        if len(ids) != 1:
            raise WorkflowError(
                f"{source}: binding {name!r} names title {spec['title']!r}, which "
                + ("no node has" if not ids else f"{len(ids)} nodes have ({', '.join(ids)})")
                + "; use node: <id> instead"
            )
        node_id = ids[0]
    input_name = str(spec["input"])
    inputs = graph[node_id].get("inputs", {})
    if input_name not in inputs:
        raise WorkflowError(
            f"{source}: binding {name!r} names input {input_name!r} of node {node_id} "
            f"({graph[node_id].get('class_type')}), which has "
            f"{', '.join(inputs) or 'no inputs'}"
        )
    return node_id, input_name


def _binding(targets: list[tuple[str, str]]) -> Binding:
    (node, input_name), *more = targets
    return Binding(node, input_name, tuple(more))


def _read_yaml(path: Path) -> Any:
    text = read_text(path, "bindings", WorkflowError)
    return parse_yaml(text, f"bindings {path}", WorkflowError) or {}


def _rel(path: str | Path, base_dir: Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or base_dir is None else base_dir / p


def _label(graph: Mapping[str, Any], node_id: str) -> str:
    node = graph.get(node_id) or {}
    title = (node.get("_meta") or {}).get("title")
    cls = str(node.get("class_type", "?"))
    return f"{title}, {cls}" if title and title != cls else cls
