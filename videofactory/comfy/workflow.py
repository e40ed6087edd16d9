"""Workflows: API-format ComfyUI JSON plus a bindings map saying where our parameters go.

A bindings file (YAML) maps a parameter name (prompt, negative, seed, width, height, frames,
fps, input_image, input_video, output_prefix, or any named extra) to a node input, by node id
or by node title::

    prompt: {node: "6", input: text}
    seed: {title: "KSampler", input: seed}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from videofactory.errors import WorkflowError

__all__ = ["Binding", "Workflow", "load_template", "load_workflow"]

#: Bundled template sets (folders under videofactory/workflows/).
TEMPLATE_SETS = ("sim",)


@dataclass(frozen=True)
class Binding:
    """Where one parameter goes: a node (by id) and an input name."""

    node: str
    input: str


@dataclass(frozen=True)
class Workflow:
    """An API-format workflow and its bindings."""

    name: str
    graph: Mapping[str, Any]
    bindings: Mapping[str, Binding]

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the graph with the parameters put in place; unknown ones are refused."""
        unknown = sorted(set(params) - set(self.bindings))
        if unknown:
            raise WorkflowError(
                f"workflow {self.name} has no binding for {', '.join(unknown)}; "
                f"it binds {', '.join(sorted(self.bindings)) or 'nothing'}"
            )
        graph = copy.deepcopy(dict(self.graph))
        for name, value in params.items():
            b = self.bindings[name]
            graph[b.node]["inputs"][b.input] = value
        return graph

    @property
    def class_types(self) -> set[str]:
        """The node types the workflow uses."""
        return {str(n.get("class_type")) for n in self.graph.values()}


def load_workflow(path: Path, bindings_path: Path | None = None) -> Workflow:
    """Load an API-format workflow file and its bindings (``<name>.bindings.yaml`` beside it)."""
    try:
        graph = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorkflowError(f"cannot read workflow {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise WorkflowError(f"workflow {path} is not valid JSON: {exc}") from exc
    check_api_format(graph, str(path))
    if bindings_path is None:
        candidate = Path(path).with_name(Path(path).stem + ".bindings.yaml")
        bindings_path = candidate if candidate.is_file() else None
    raw: Any = {}
    if bindings_path is not None:
        try:
            raw = yaml.safe_load(Path(bindings_path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise WorkflowError(f"cannot read bindings {bindings_path}: {exc}") from exc
    return Workflow(Path(path).stem, graph, resolve_bindings(graph, raw, str(bindings_path)))


def load_template(kind: str, template_set: str = "sim") -> Workflow:
    """A bundled workflow template, e.g. ``load_template("clip")``."""
    if template_set not in TEMPLATE_SETS:
        raise WorkflowError(f"no bundled template set {template_set!r}; have {TEMPLATE_SETS}")
    folder = resources.files("videofactory") / "workflows" / template_set
    graph_file = folder / f"{kind}.json"
    if not graph_file.is_file():
        raise WorkflowError(f"no bundled {template_set} template for {kind!r}")
    graph = json.loads(graph_file.read_text(encoding="utf-8"))
    check_api_format(graph, f"{template_set}/{kind}.json")
    raw = yaml.safe_load((folder / f"{kind}.bindings.yaml").read_text(encoding="utf-8")) or {}
    return Workflow(
        f"{template_set}/{kind}", graph, resolve_bindings(graph, raw, f"{kind}.bindings.yaml")
    )


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
        if not isinstance(spec, dict) or "input" not in spec or not ({"node", "title"} & set(spec)):
            raise WorkflowError(
                f'{source}: binding {name!r} must look like {{node: "6", input: text}} '
                'or {title: "Positive", input: text}'
            )
        if "node" in spec:
            node_id = str(spec["node"])
            if node_id not in graph:
                raise WorkflowError(
                    f"{source}: binding {name!r} names node {node_id}, which the workflow lacks"
                )
        else:
            ids = by_title.get(str(spec["title"]), [])
            if len(ids) != 1:
                raise WorkflowError(
                    f"{source}: binding {name!r} names title {spec['title']!r}, which "
                    + ("no node has" if not ids else f"{len(ids)} nodes have ({', '.join(ids)})")
                )
            node_id = ids[0]
        input_name = str(spec["input"])
        if input_name not in graph[node_id].get("inputs", {}):
            raise WorkflowError(
                f"{source}: binding {name!r} names input {input_name!r} of node {node_id} "
                f"({graph[node_id].get('class_type')}), which has "
                f"{', '.join(graph[node_id].get('inputs', {})) or 'no inputs'}"
            )
        out[str(name)] = Binding(node_id, input_name)
    return out
