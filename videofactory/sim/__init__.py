"""A ComfyUI-protocol server that renders real media on the CPU (the videofactory simulator).

It answers ComfyUI 0.3.64's HTTP API and websocket with the same JSON, status codes and event
order (docs/comfyui-api.md), validates prompts like ComfyUI, and runs the weight-free core
nodes plus its own render nodes (SimTextToImage, SimImageToVideo, SimSharpen) used by
``videofactory/workflows/sim/*.json``. Everything it shows a user says "videofactory simulator".

Entry points:

* ``python -m videofactory.sim --port 8188 --name gpu0 --card "RTX 5090" --vram-gb 32``
* ``SimFarm([SimWorkerSpec(...)], root)``: several servers as subprocesses; with
  ``restart=RestartPolicy(...)`` it starts a server that dies again on its port.
* ``ServerThread(SimOptions(...))``: one server in a background thread (tests).
* ``SimServer(SimOptions(...))``: the aiohttp server itself (``await start()``/``stop()``).

Simulator-only additions (not ComfyUI): ``GET /sim/requests`` (the request and execution log,
for tests), ``GET``/``POST /sim/faults`` (fault injection at runtime), ``SimOptions.speed``,
``gpu_speed`` and ``time_scale`` (simulated GPU time), ``SimOptions.faults`` (``SimFaults``:
failure rate, OOM, hang, crash, dropped websocket, corrupt output, slow start; see
``videofactory.sim.faults``) and ``SimOptions.hooks`` (the fault-injection seam).

The names below are imported from their modules on first use (``videofactory.lazy``):
``videofactory --help`` reads ``sim.options`` without loading the servers, PyAV and numpy.
"""

from __future__ import annotations

import typing

from videofactory import lazy

if typing.TYPE_CHECKING:
    from videofactory.sim.executor import InterruptProcessing, OutOfMemoryError
    from videofactory.sim.farm import RestartPolicy, SimFarm, SimWorkerSpec, main_foreground
    from videofactory.sim.options import SimFaults, SimHooks, SimOptions
    from videofactory.sim.server import SimServer
    from videofactory.sim.thread import ServerThread

__all__ = [
    "InterruptProcessing",
    "OutOfMemoryError",
    "RestartPolicy",
    "ServerThread",
    "SimFarm",
    "SimFaults",
    "SimHooks",
    "SimOptions",
    "SimServer",
    "SimWorkerSpec",
    "main_foreground",
]

#: Where each name lives.
_HOMES = {
    "InterruptProcessing": "executor",
    "OutOfMemoryError": "executor",
    "RestartPolicy": "farm",
    "SimFarm": "farm",
    "SimWorkerSpec": "farm",
    "main_foreground": "farm",
    "SimFaults": "options",
    "SimHooks": "options",
    "SimOptions": "options",
    "SimServer": "server",
    "ServerThread": "thread",
}

__getattr__, __dir__ = lazy.exports(globals(), _HOMES)
