"""The farm launcher: start and look after one ComfyUI server per GPU on this machine.

``videofactory farm up`` starts a server for every worker marked ``managed: true`` in the farm
file and leaves a supervisor behind that restarts servers that exit or hang and recycles those
whose memory grows past a limit, between jobs (docs/farm-launcher.md).

For a dispatcher: ``RecordedSupervision(farm)`` reads what the supervisor records: the restarts
(with their causes) since a time, for the run's log, and the servers being drained, which should
get no new job. The wiring hands it to the dispatcher; the farm never imports the launcher.
"""

from __future__ import annotations

import typing

from videofactory import lazy

if typing.TYPE_CHECKING:
    from videofactory.launcher.control import check_farm, farm_down, farm_status, farm_up
    from videofactory.launcher.plan import ServerSpec, build_specs
    from videofactory.launcher.state import (
        RecordedSupervision,
        draining,
        farm_paths,
        read_records,
        restarts_since,
    )
    from videofactory.launcher.supervisor import Supervisor

__all__ = [
    "RecordedSupervision",
    "ServerSpec",
    "Supervisor",
    "build_specs",
    "check_farm",
    "draining",
    "farm_down",
    "farm_paths",
    "farm_status",
    "farm_up",
    "read_records",
    "restarts_since",
]

#: Where each public name lives; imported on first use (``videofactory.lazy``), so that
#: `videofactory --help` (which registers the farm commands) does not load the supervisor,
#: psutil and the HTTP clients.
_HOMES = {
    "check_farm": "control",
    "farm_down": "control",
    "farm_status": "control",
    "farm_up": "control",
    "ServerSpec": "plan",
    "build_specs": "plan",
    "RecordedSupervision": "state",
    "draining": "state",
    "farm_paths": "state",
    "read_records": "state",
    "restarts_since": "state",
    "Supervisor": "supervisor",
}

__getattr__, __dir__ = lazy.exports(globals(), _HOMES)
