"""Farm preflight: which workflow each worker runs for each task kind, and whether it can.

For every worker and GPU task kind it picks the workflow (the one the farm file names, else
the first bundled template that fits the server, the simulator's own on a simulator) and
checks it against that worker's ``/object_info``. The dispatcher gives a worker no task of a
kind listed in ``WorkerPreflight.refused``; ``videofactory status`` prints why.

    report = await preflight_farm(farm, clients={w.id: client, ...})
    report["gpu0"].refused                    # frozenset({TaskKind.hero})
    report["gpu0"].workflow(TaskKind.clip)    # the Workflow to bind and submit
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.preflight import Problem, check_workflow
from videofactory.comfy.workflow import Workflow, load_spec, load_template
from videofactory.config import FarmConfig, WorkerConfig
from videofactory.errors import BackendError, WorkflowError
from videofactory.vocabulary import GPU_KINDS, TaskKind

__all__ = [
    "DEFAULT_TEMPLATES",
    "KindCheck",
    "WorkerPreflight",
    "choose_workflow",
    "preflight_farm",
    "preflight_worker",
    "simulator_template",
]

#: Bundled templates tried, in order, for a kind the farm file does not name.
#: Keyframes are edits of the film's look where the server can make them (its nodes and model
#: files are there), else made from their prompts alone (``EDIT_TEMPLATES`` then says why).
#: ``wan22_flf`` comes before ``wan22``: the same models, and it also ends a ``flow`` shot on
#: the next keyframe (without one it is a plain image-to-video clip); a server without
#: WanFirstLastFrameToVideo gets ``wan22``.
DEFAULT_TEMPLATES: dict[TaskKind, tuple[str, ...]] = {
    TaskKind.look: ("flux", "sdxl", "qwen_edit", "flux_kontext"),
    TaskKind.keyframe: ("qwen_edit", "flux_kontext", "flux", "sdxl"),
    TaskKind.clip: ("wan22_flf", "wan22", "ltxv"),
    TaskKind.hero: ("upscale",),
}
#: Bundled keyframe templates that take the look as references.
EDIT_TEMPLATES = ("qwen_edit", "flux_kontext", "sim_edit")
#: A node only the videofactory simulator has: its servers get the simulator's templates.
SIM_NODE = "SimTextToImage"
#: The simulator's template sets per kind, tried in order (edits where it has the node).
SIM_TEMPLATES: dict[TaskKind, tuple[str, ...]] = {TaskKind.keyframe: ("sim_edit", "sim")}
#: Seconds to wait for a worker's /object_info (it can be a few MB on a real server).
OBJECT_INFO_TIMEOUT_S = 20.0


@dataclass
class KindCheck:
    """The workflow chosen for one task kind on one worker, and its preflight problems."""

    kind: TaskKind
    workflow: Workflow | None
    problems: list[Problem] = field(default_factory=list)
    #: How it was chosen: "farm file", "default", or "simulator".
    source: str = "default"
    #: For a keyframe workflow that takes no references while an edit template was tried:
    #: why the worker makes its keyframes from their prompts alone (its best edit template's
    #: first problem), e.g. "qwen_edit: node 111 ... TextEncodeQwenImageEditPlus ... unknown".
    fallback: str = ""

    @property
    def edits(self) -> bool:
        """Whether this worker makes the kind's pictures as edits of the look (a keyframe
        workflow with reference slots that passed preflight)."""
        return self.ok and self.workflow is not None and self.workflow.accepts("reference_1")

    @property
    def ok(self) -> bool:
        """Whether the worker can run this kind."""
        return self.workflow is not None and not self.problems

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "kind": self.kind.value,
            "ok": self.ok,
            "workflow": self.workflow.name if self.workflow else None,
            "source": self.source,
            "edits": self.edits,
            "fallback": self.fallback,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass
class WorkerPreflight:
    """Preflight of one worker: per task kind, the workflow and what is wrong with it."""

    worker_id: str
    url: str
    reachable: bool = True
    error: str = ""
    kinds: dict[TaskKind, KindCheck] = field(default_factory=dict)

    @property
    def refused(self) -> frozenset[TaskKind]:
        """Kinds this worker must not be given (every kind when it could not be asked)."""
        if not self.reachable:
            return frozenset(GPU_KINDS)
        return frozenset(k for k, c in self.kinds.items() if not c.ok)

    def workflow(self, kind: TaskKind) -> Workflow | None:
        """The workflow to run for a kind (None when refused)."""
        check = self.kinds.get(kind)
        return check.workflow if check and check.ok else None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "worker": self.worker_id,
            "url": self.url,
            "reachable": self.reachable,
            "error": self.error,
            "refused": sorted(k.value for k in self.refused),
            "kinds": {k.value: c.to_json() for k, c in self.kinds.items()},
        }


def choose_workflow(
    worker: WorkerConfig, kind: TaskKind, object_info: Mapping[str, Any]
) -> KindCheck:
    """The workflow a worker runs for a kind, checked against its node catalogue (pure)."""
    spec = worker.workflow_spec(kind)
    if spec is not None:
        try:
            wf = load_spec(spec, kind.value)
        except WorkflowError as exc:
            return KindCheck(kind, None, [Problem("workflow", str(exc))], "farm file")
        return KindCheck(kind, wf, check_workflow(wf, object_info), "farm file")
    sets, source = DEFAULT_TEMPLATES[kind], "default"
    if SIM_NODE in object_info:
        sets, source = SIM_TEMPLATES.get(kind, ("sim",)), "simulator"
    best: KindCheck | None = None
    refused_edit: KindCheck | None = None
    for set_name in sets:
        wf = load_template(kind.value, set_name)
        check = KindCheck(kind, wf, check_workflow(wf, object_info), source)
        if check.ok:
            if refused_edit is not None and not check.edits:
                first = refused_edit.problems[0]
                name = refused_edit.workflow.name if refused_edit.workflow else "edit"
                check.fallback = f"{name}: {first}"
            return check
        if kind is TaskKind.keyframe and set_name in EDIT_TEMPLATES and refused_edit is None:
            refused_edit = check
        if best is None or len(check.problems) < len(best.problems):
            best = check
    assert best is not None
    return best


def simulator_template(kind: TaskKind) -> Workflow:
    """The template a simulator's worker runs for a kind when none was named (the first of
    ``SIM_TEMPLATES``, which every simulator passes): what the built-in simulated farm, never
    preflighted before its run, is keyed and dry-run with."""
    return load_template(kind.value, SIM_TEMPLATES.get(kind, ("sim",))[0])


async def preflight_worker(
    worker: WorkerConfig,
    client: ComfyClient | None = None,
    *,
    kinds: Sequence[TaskKind] = GPU_KINDS,
    refresh: bool = False,
) -> WorkerPreflight:
    """Read one worker's /object_info and check its workflow for every kind."""
    report = WorkerPreflight(worker.id, worker.url)
    try:
        if client is None:
            async with ComfyClient(worker.url, timeout=OBJECT_INFO_TIMEOUT_S) as own:
                info = await own.object_info()
        else:
            info = await client.object_info(refresh=refresh)
    except BackendError as exc:
        report.reachable, report.error = False, str(exc)
        return report
    for kind in kinds:
        report.kinds[kind] = choose_workflow(worker, kind, info)
    return report


async def preflight_farm(
    farm: FarmConfig,
    *,
    clients: Mapping[str, ComfyClient] | None = None,
    kinds: Sequence[TaskKind] = GPU_KINDS,
    refresh: bool = False,
) -> dict[str, WorkerPreflight]:
    """Preflight every worker concurrently; worker id -> its report, in farm order."""
    clients = clients or {}
    reports = await asyncio.gather(
        *(
            preflight_worker(w, clients.get(w.id), kinds=kinds, refresh=refresh)
            for w in farm.workers
        )
    )
    return {r.worker_id: r for r in reports}
