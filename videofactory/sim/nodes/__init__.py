"""Node implementations of the simulator; importing this package fills ``REGISTRY``."""

from __future__ import annotations

from videofactory.sim.nodes import av, edit, generate, image  # noqa: F401  (they register themselves)
from videofactory.sim.nodes.base import REGISTRY, NodeContext, NodeImpl, NodeOutput

__all__ = ["REGISTRY", "NodeContext", "NodeImpl", "NodeOutput"]
