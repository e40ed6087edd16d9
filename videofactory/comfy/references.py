"""Reference pictures of an edit workflow (pure): the slots it has, and the graph with the
slots a task does not fill taken out.

An edit workflow (``qwen_edit``, ``flux_kontext``, the simulator's ``sim_edit``) binds
``reference_1``, ``reference_2``, ``reference_3`` to the ``image`` of one LoadImage node each. A
film with one character and a setting fills two; a LoadImage left at its template's file
would fail on the server. So an unfilled slot's LoadImage goes, with every node that then has
nothing to work on (its FluxKontextImageScale, its VAEEncode), and the input that linked to
them is dropped where the node it feeds can do without it: ComfyUI's optional inputs
(``image2``/``image3`` of TextEncodeQwenImageEditPlus, ``latent`` of ReferenceLatent, which
then passes its conditioning through). This is what a ComfyUI user does by hand when they
bypass an unused reference group.

    graph = drop_references(bound_graph, bindings, keep=2)   # reference_3's nodes gone
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OPTIONAL_INPUTS", "drop_references", "reference_name", "reference_slots"]

#: Node inputs ComfyUI lets go unconnected (``optional`` in their /object_info), for the nodes
#: an edit workflow feeds references into.
OPTIONAL_INPUTS: dict[str, frozenset[str]] = {
    "TextEncodeQwenImageEditPlus": frozenset({"vae", "image1", "image2", "image3"}),
    "TextEncodeQwenImageEdit": frozenset({"vae", "image"}),
    "ReferenceLatent": frozenset({"latent"}),
    "SimImageEdit": frozenset({"image1", "image2", "image3"}),
}


def reference_name(i: int) -> str:
    """The parameter of the ``i``-th reference picture (from 1)."""
    return f"reference_{i}"


def reference_slots(bindings: Mapping[str, Any]) -> int:
    """How many reference pictures a workflow takes: its ``reference_1``, ``reference_2``..
    bindings, counted while they follow on."""
    n = 0
    while reference_name(n + 1) in bindings:
        n += 1
    return n


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def drop_references(
    graph: Mapping[str, Any], bindings: Mapping[str, Any], keep: int
) -> dict[str, Any]:
    """The graph with the reference slots after the first ``keep`` taken out (a new graph;
    ``bindings``: parameter -> object with ``targets``, as ``Workflow.bindings`` holds).

    A node goes when it is a dropped slot's loader, or when an input it cannot do without
    links to a node that went; an optional input that links to one is left out.
    """
    out = {nid: {**node, "inputs": dict(node.get("inputs") or {})} for nid, node in graph.items()}
    gone: set[str] = set()
    for i in range(keep + 1, reference_slots(bindings) + 1):
        gone.update(str(node) for node, _ in bindings[reference_name(i)].targets)
    changed = True
    while changed:
        changed = False
        for nid, node in out.items():
            if nid in gone:
                continue
            optional = OPTIONAL_INPUTS.get(str(node.get("class_type")), frozenset())
            for name, value in list(node["inputs"].items()):
                if _is_link(value) and str(value[0]) in gone:
                    if name in optional:
                        del node["inputs"][name]
                    else:
                        gone.add(nid)
                        changed = True
                        break
    return {nid: node for nid, node in out.items() if nid not in gone}
