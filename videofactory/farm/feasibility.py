"""Can the farm run this plan at all? (pure) Checked before any GPU time is spent.

A task kind is impossible when no worker can ever take it: each worker either lacks the
memory its workflow for that kind needs, refuses the kind (its workflow failed preflight),
or, with ``strict`` roles, does not hold the kind's role. A worker that could not be asked
(down at start) counts as able by its farm-file figures: it may come back.

    lines = impossible_kinds({TaskKind.hero: ["s01", "s06"]}, abilities, strict=False)
    # ["no worker can take hero (shots s01, s06): best gpu1 with 23.5 GB of VRAM, its hero
    #   workflow upscale/hero needs 28 GB; ... fix: ..."]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from videofactory.config import WorkerConfig
from videofactory.farm.dag import workflow_need
from videofactory.vocabulary import GPU_KINDS, ROLE_FOR_KIND, Role, TaskKind

if TYPE_CHECKING:
    from videofactory.comfy.farmcheck import WorkerPreflight
    from videofactory.farm.dag import Task

__all__ = [
    "Ability",
    "KindPlan",
    "Refusal",
    "ability_of",
    "impossible_kinds",
    "plan_by_kind",
    "refusals",
]

#: Shots named in a line before it says "and N more".
SHOTS_NAMED = 6


@dataclass(frozen=True)
class Ability:
    """What one worker could ever run, as far as the farm file and its server tell."""

    id: str
    roles: tuple[Role, ...]
    #: What it can hold, in GB (VRAM, or RAM for a CPU-only server), and which of the two.
    memory_gb: float
    memory_kind: str = "VRAM"
    #: Per task kind: the GB its workflow needs.
    needs: Mapping[TaskKind, float] = field(default_factory=dict)
    #: Per task kind: why its workflow cannot run there (preflight problems).
    refused: Mapping[TaskKind, str] = field(default_factory=dict)
    #: Per task kind: the workflow's name (for messages).
    workflows: Mapping[TaskKind, str] = field(default_factory=dict)
    #: False when the server could not be asked: judged by its farm-file figures.
    reachable: bool = True


@dataclass(frozen=True)
class Refusal:
    """Why one worker can never take one kind ("" when it can)."""

    worker: str
    #: "role", "preflight", "memory", or "" (able).
    cause: str
    detail: str = ""
    #: For a memory refusal: GB short of the need (the smallest gap is the best worker).
    short_gb: float = 0.0


def ability_of(
    worker: WorkerConfig,
    memory_gb: float,
    memory_kind: str,
    preflight: WorkerPreflight | None,
) -> Ability:
    """A worker's ability from its farm-file entry, its memory and its server's preflight
    (None, or unreachable: judged by the farm file alone)."""
    needs: dict[TaskKind, float] = {}
    workflows: dict[TaskKind, str] = {}
    refused: dict[TaskKind, str] = {}
    reachable = preflight is not None and preflight.reachable
    for kind in GPU_KINDS:
        spec = worker.workflow_spec(kind)
        needs[kind] = workflow_need(spec.vram_gb if spec else None, kind)
        check = preflight.kinds.get(kind) if reachable and preflight else None
        if check is None:
            continue
        if check.workflow is not None:
            needs[kind] = workflow_need(check.workflow.vram_gb, kind)
            workflows[kind] = check.workflow.name
        if not check.ok:
            refused[kind] = "; ".join(str(p) for p in check.problems[:3]) or "no workflow"
    return Ability(
        worker.id,
        tuple(worker.roles),
        memory_gb,
        memory_kind,
        needs,
        refused,
        workflows,
        reachable,
    )


def refusals(kind: TaskKind, workers: Sequence[Ability], *, strict: bool) -> list[Refusal]:
    """For each worker, whether it can ever take ``kind`` and if not why."""
    role = ROLE_FOR_KIND.get(kind)
    out = []
    for w in workers:
        need = w.needs.get(kind, 0.0)
        wf = w.workflows.get(kind)
        what = f"its {kind.value} workflow {wf}" if wf else f"a {kind.value}"
        if strict and role is not None and role not in w.roles:
            out.append(Refusal(w.id, "role", f"{w.id} is not a {role.value} GPU (strict roles)"))
        elif kind in w.refused:
            out.append(Refusal(w.id, "preflight", f"{w.id} refuses it: {w.refused[kind]}"))
        elif w.memory_gb < need:
            out.append(
                Refusal(
                    w.id,
                    "memory",
                    f"{w.id} has {w.memory_gb:g} GB of {w.memory_kind}, {what} needs {need:g} GB",
                    need - w.memory_gb,
                )
            )
        else:
            out.append(Refusal(w.id, ""))
    return out


def impossible_kinds(
    shots: Mapping[TaskKind, Sequence[str] | None], workers: Sequence[Ability], *, strict: bool
) -> list[str]:
    """One line per task kind of the plan that no worker can ever take (empty: all fine).

    ``shots`` maps each GPU task kind of the plan to the shots that have such a task (None:
    any shot, for a farm checked without a plan; an empty list: the plan has none).
    """
    lines = []
    for kind, kind_shots in shots.items():
        if kind_shots is not None and not kind_shots:
            continue
        found = refusals(kind, workers, strict=strict)
        if any(not r.cause for r in found):
            continue
        lines.append(_line(kind, kind_shots, found))
    return lines


@dataclass(frozen=True)
class KindPlan:
    """One GPU task kind of a plan, as ``render --dry-run`` shows it."""

    kind: TaskKind
    shots: tuple[str, ...]
    #: The workers that can take it (by farm order).
    able: tuple[str, ...]
    #: GPU seconds it will take, each task on the fastest worker able to run it (the
    #: reference card's seconds when none can).
    gpu_s: float

    def to_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "kind": self.kind.value,
            "tasks": len(self.shots),
            "shots": list(self.shots),
            "able": list(self.able),
            "gpu_s": round(self.gpu_s, 1),
        }


def plan_by_kind(
    tasks: Iterable[Task],
    workers: Sequence[Ability],
    *,
    strict: bool,
    seconds: Callable[[str, TaskKind, float], float],
    pinned: Collection[TaskKind] = (),
) -> list[KindPlan]:
    """Per GPU task kind of a plan: its shots, the workers able to run it and its estimated
    GPU seconds (``seconds(worker, kind, cost_s)``, e.g. ``Estimates.seconds``). A ``pinned``
    kind (a preview's keyframes) counts only its role's GPUs when one of them is able, as
    placement does (``scheduler.candidates``)."""
    by_kind: dict[TaskKind, list[Task]] = {}
    for t in tasks:
        if t.kind in GPU_KINDS:
            by_kind.setdefault(t.kind, []).append(t)
    out = []
    for kind in GPU_KINDS:
        kind_tasks = by_kind.get(kind, [])
        if not kind_tasks:
            continue
        able = tuple(r.worker for r in refusals(kind, workers, strict=strict) if not r.cause)
        role = ROLE_FOR_KIND.get(kind)
        if kind in pinned and role is not None:
            holders = {w.id for w in workers if role in w.roles}
            able = tuple(w for w in able if w in holders) or able
        gpu_s = sum(
            min((seconds(w, kind, t.cost_s) for w in able), default=t.cost_s) for t in kind_tasks
        )
        out.append(KindPlan(kind, tuple(t.shot_id or "" for t in kind_tasks), able, gpu_s))
    return out


def _line(kind: TaskKind, shots: Sequence[str] | None, found: Sequence[Refusal]) -> str:
    named = ""
    if shots is not None:
        named = " (shots " + ", ".join(shots[:SHOTS_NAMED])
        if len(shots) > SHOTS_NAMED:
            named += f" and {len(shots) - SHOTS_NAMED} more"
        named += ")"
    memory = sorted((r for r in found if r.cause == "memory"), key=lambda r: r.short_gb)
    others = [r for r in found if r.cause != "memory"]
    reasons = [f"best {memory[0].detail}"] if memory else []
    reasons += [r.detail for r in others[: max(0, 3 - len(reasons))]]
    causes = {r.cause for r in found}
    fixes = []
    if "memory" in causes:
        fixes.append(
            f"declare the {kind.value} workflow's real need (vram_gb: N in the worker's "
            f"workflows: {kind.value}: entry) or add a bigger GPU"
        )
    if "preflight" in causes:
        fixes.append("see `videofactory status` for the workflow's preflight problems")
    if "role" in causes:
        role = ROLE_FOR_KIND[kind].value
        fixes.append(f"give a GPU the {role} role, or set strict: false")
    if kind is TaskKind.hero:
        fixes.append("or mark no shot hero")
    return f"no worker can take {kind.value}{named}: {'; '.join(reasons)}; fix: {', '.join(fixes)}"
