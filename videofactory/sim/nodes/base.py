"""What a simulated node is: a function, optional validator and fingerprint, and a registry.

Data types flowing between nodes (kept small on purpose, see the package docstring):

* ``IMAGE``: ``numpy.uint8`` array ``[B, H, W, 3]`` (ComfyUI uses float32 0..1; uint8 keeps a
  720p, 120-frame batch at 330 MB instead of 1.3 GB).
* ``MASK``: ``numpy.float32`` array ``[B, H, W]``.
* ``AUDIO``: ``{"waveform": float32 [B, C, S], "sample_rate": int}``, like ComfyUI.
* ``VIDEO``: a lazy object from ``videofactory.sim.media`` (frames + fps + audio, or a file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from videofactory.sim.paths import Folders

__all__ = ["REGISTRY", "NodeContext", "NodeImpl", "NodeOutput", "parallel_map", "register"]

T = TypeVar("T")
R = TypeVar("R")
_POOL: ThreadPoolExecutor | None = None


class NodeContext(Protocol):
    """What a node function may use while it runs (in the render thread)."""

    folders: Folders
    node_id: str
    prompt_id: str
    #: The whole prompt (ComfyUI's hidden PROMPT input), embedded in saved files' metadata.
    prompt: dict[str, Any]
    extra_pnginfo: dict[str, Any] | None
    disable_metadata: bool

    def progress(self, value: int, total: int) -> None:
        """Report a sampler-like step; raises if the prompt was interrupted."""

    def send_text(self, text: str) -> None:
        """Broadcast a progress-text binary frame (event 3) for this node."""

    def work(self, units: float) -> None:
        """Sleep for ``units`` of simulated GPU work (scaled by the server's speed)."""

    def gpu(self, seconds: float) -> None:
        """Spend ``seconds`` of modelled GPU time of a speed-1.0 card (gpu_speed, time_scale)."""


@dataclass
class NodeOutput:
    """A node's result: its output values (by index) and its UI dict (output nodes)."""

    values: tuple[Any, ...] = ()
    ui: dict[str, Any] | None = None


@dataclass(frozen=True)
class NodeImpl:
    """How to run one class_type."""

    fn: Callable[..., NodeOutput]
    #: Custom validator (ComfyUI's VALIDATE_INPUTS) and the inputs it takes; returns True or a
    #: reason string. Inputs it takes skip the generic range/combo checks, like in ComfyUI.
    validate: Callable[..., bool | str] | None = None
    validate_inputs: tuple[str, ...] = ()
    #: ComfyUI's IS_CHANGED: part of the cache key (file loaders hash their file).
    fingerprint: Callable[..., Any] | None = None
    #: The node sleeps for its own simulated work (progress ticks); others are timed by size.
    self_timed: bool = False
    #: Nodes with a hidden UNIQUE_ID input are cached per node id.
    unique_id_in_key: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, NodeImpl] = {}


def register(
    name: str, **kwargs: Any
) -> Callable[[Callable[..., NodeOutput]], Callable[..., NodeOutput]]:
    """Decorator: make ``fn`` the implementation of class_type ``name``."""

    def deco(fn: Callable[..., NodeOutput]) -> Callable[..., NodeOutput]:
        REGISTRY[name] = NodeImpl(fn=fn, **kwargs)
        return fn

    return deco


def parallel_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """Map over frames on a few threads (Pillow releases the GIL while it filters/resizes)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="sim-frames"
        )
    return list(_POOL.map(fn, items))
