"""``/object_info``: the node classes the simulator knows, in ComfyUI's exact JSON shape.

The definitions live in ``nodes.json`` next to this module: the core nodes are copied from a real
ComfyUI 0.3.64 answer, the others are written in the same shape. File pickers (LoadImage,
LoadVideo, LoadAudio) list the files currently in input/, and model pickers are empty because the
simulator has no model files, exactly like a fresh ComfyUI without models.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from videofactory.sim.nodes import REGISTRY, NodeImpl
from videofactory.sim.paths import Folders

__all__ = ["Catalog"]

_NODES_JSON = Path(__file__).with_name("nodes.json")

#: (class, input) -> media kinds listed from input/ as that combo's options.
_FILE_PICKERS = {
    ("LoadImage", "image"): {"image"},
    ("LoadVideo", "file"): {"video"},
    ("LoadAudio", "audio"): {"audio", "video"},
}


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    with open(_NODES_JSON, encoding="utf-8") as f:
        return json.load(f)


class Catalog:
    """Node definitions of one server (file pickers reflect that server's input/)."""

    def __init__(self, folders: Folders) -> None:
        self.folders = folders
        missing = set(_definitions()) - set(REGISTRY)
        if missing:  # a definition without code would fail only when someone runs it
            raise RuntimeError(
                f"nodes.json lists classes with no implementation: {sorted(missing)}"
            )

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in _definitions()

    def names(self) -> list[str]:
        """Every class name, in a stable order."""
        return list(_definitions())

    def raw(self, name: str) -> dict[str, Any]:
        """The static definition (do not modify)."""
        return _definitions()[name]

    def info(self, name: str) -> dict[str, Any]:
        """The object_info entry of one class, with live file lists."""
        info = copy.deepcopy(_definitions()[name])
        for (cls, field), kinds in _FILE_PICKERS.items():
            if cls != name:
                continue
            spec = info["input"]["required"][field]
            files = self.folders.input_files(kinds)
            if spec[0] == "COMBO":  # V3 shape: options live in the dict
                spec[1]["options"] = files
            else:
                spec[0] = files
        return info

    def all(self) -> dict[str, Any]:
        """The whole /object_info answer."""
        return {name: self.info(name) for name in _definitions()}

    def impl(self, name: str) -> NodeImpl:
        """The code that runs a class."""
        return REGISTRY[name]

    def return_types(self, name: str) -> tuple[str, ...]:
        """Output types by index (a tuple, so a bad index fails like ComfyUI's)."""
        return tuple(_definitions()[name]["output"])

    def is_output(self, name: str) -> bool:
        """Whether the class is an output node."""
        return _definitions()[name]["output_node"] is True

    def is_v3(self, name: str) -> bool:
        """Nodes written with ComfyUI's V3 schema (their COMBOs are not checked at submit)."""
        info = _definitions()[name]
        hidden = info["input"].get("hidden", {})
        return "deprecated" in info or any(isinstance(v, list) for v in hidden.values())
