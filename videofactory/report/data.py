"""What a run report says, computed from the run's records (pure: rows in, a RunReport out).

Times are seconds since the run started (its first ``run_started`` event, else its creation).
Every attempt of a GPU task is a bar on its GPU's lane: the time it waited on the server
(posted, not started) and the time it ran; speech and the FFmpeg assembly get a lane each.
Utilisation of a GPU is the union of its running time over the run's wall time.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videofactory.planning.choose import planner_summary
from videofactory.store import REUSED_WORKER, heroes_missing
from videofactory.vocabulary import GPU_KINDS, TaskId, TaskKind

__all__ = [
    "Bar",
    "KindTiming",
    "LaneUse",
    "LookRow",
    "Notice",
    "RunReport",
    "ShotRow",
    "build_report",
    "look_rows",
    "gather",
]

#: Lanes after the GPUs: the speech engine and FFmpeg.
CPU_LANES = ("speech", "ffmpeg")
#: Events listed under "what was retried and why".
TROUBLE_EVENTS = (
    "task_failed",
    "task_shrunk",
    "hero_skipped",
    "heroes_reopened",
    "worker_memory",
    "task_lost",
    "task_redo",
    "worker_down",
    "worker_up",
    "worker_refused",
    "worker_restarted",
    "warning",
    "run_failed",
    "run_cancelled",
)


@dataclass(frozen=True)
class Bar:
    """One attempt on a lane: waiting on the server from ``queued``, running from ``start``."""

    lane: str
    task_id: str
    kind: str
    shot_id: str | None
    queued: float | None
    start: float
    end: float
    #: done, failed, cancelled, or running (not finished when the report was written).
    state: str
    error: str | None = None


@dataclass(frozen=True)
class LaneUse:
    """How one GPU (or speech, or FFmpeg) spent the run."""

    id: str
    card: str
    roles: tuple[str, ...]
    busy_s: float
    span_s: float
    jobs: int
    failed: int

    @property
    def utilisation(self) -> float:
        """Busy over wall time, 0..1."""
        return self.busy_s / self.span_s if self.span_s > 0 else 0.0

    @property
    def idle_s(self) -> float:
        """Seconds of the run it ran nothing."""
        return max(0.0, self.span_s - self.busy_s)


@dataclass(frozen=True)
class KindTiming:
    """Running time of the finished attempts of one task kind."""

    kind: str
    count: int
    total_s: float
    mean_s: float
    min_s: float
    max_s: float


@dataclass(frozen=True)
class Notice:
    """A retry, an outage, a warning: when, what, where, and what the factory did."""

    at: float
    kind: str
    message: str
    worker: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class ShotRow:
    """One shot as the report shows it."""

    id: str
    duration: float
    prompt: str
    narration: str
    camera: str
    shot_type: str
    hero: bool
    keyframe: Path | None = None
    #: Where its clip and hero pass ran, and how many attempts the shot's tasks took.
    workers: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    #: Why a hero shot went out without its hero pass ("" when it has it, or is no hero).
    hero_missing: str = ""


@dataclass(frozen=True)
class LookRow:
    """One picture of the film's look (``videofactory.look``) as the report shows it."""

    #: ``character``, ``character-2``, ``character-3`` or ``setting``.
    name: str
    #: The picture: the look task's output, or the user's own (None: not made yet).
    picture: Path | None
    #: Whether the user gave it (``look:`` in the shot list) rather than the farm making it.
    given: bool = False
    #: Where it was made ("" for a given one, "cache" when it was reused).
    worker: str = ""


@dataclass
class RunReport:
    """Everything the report shows."""

    run: dict[str, Any]
    span_s: float
    bars: list[Bar]
    lanes: list[LaneUse]
    shots: list[ShotRow]
    timings: list[KindTiming]
    notices: list[Notice]
    #: Times (s) the run was started or resumed.
    starts: list[float]
    final_media: dict[str, Any] | None = None
    speech_engines: dict[str, str] = field(default_factory=dict)
    #: Which planner planned the film (``planner_summary``: planner, model, host, fallback).
    planner: dict[str, Any] = field(default_factory=dict)
    #: Which voice spoke the film and why (the last ``speech_voice`` event), if it spoke.
    voice: dict[str, Any] | None = None
    #: The film's look: its character sheets and setting plate, made or given.
    look: list[LookRow] = field(default_factory=list)

    @property
    def failed_attempts(self) -> int:
        """Attempts that failed (each was retried, moved, or failed the run)."""
        return sum(1 for b in self.bars if b.state == "failed")


def build_report(
    run: Mapping[str, Any],
    shots: Sequence[Mapping[str, Any]],
    tasks: Sequence[Any],
    attempts: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    artifacts: Sequence[Mapping[str, Any]],
    *,
    now: float,
    plan: Mapping[str, Any] | None = None,
) -> RunReport:
    """The report of a run from its stored rows (``Store.run/shots/tasks/attempts/...``, and
    ``Store.plan``'s fields for who planned it)."""
    starts_ts = [e["ts"] for e in events if e["kind"] == "run_started"]
    t0 = min(starts_ts) if starts_ts else float(run["created_at"])
    kinds = {t.id: t.kind for t in tasks}
    shot_of = {t.id: t.shot_id for t in tasks}
    ended = [e["ts"] for e in events if e["kind"] in ("run_done", "run_failed", "run_cancelled")]
    if ended:
        t_end = max(ended)
    else:
        t_end = float(run["updated_at"]) if run["state"] != "running" else now

    def rel(ts: float | None) -> float | None:
        return None if ts is None else max(0.0, ts - t0)

    # A task finished from the artifact cache ran nowhere: no bar (its shot row says "cache").
    bars = [_attempt_bar(a, kinds, shot_of, rel, t_end - t0) for a in attempts
            if not a.get("reused")]  # fmt: skip
    for t in tasks:  # speech and assembly run outside ComfyUI: one bar per task
        if t.kind in GPU_KINDS or t.started_at is None or t.worker == REUSED_WORKER:
            continue
        lane = "speech" if t.kind == "speech" else "ffmpeg"
        end = rel(t.finished_at) if t.finished_at else t_end - t0
        state = t.state if t.state in ("done", "failed", "cancelled") else "running"
        bars.append(
            Bar(lane, t.id, t.kind, t.shot_id, None, rel(t.started_at) or 0.0, end or 0.0, state,
                t.error)
        )  # fmt: skip
    span = max([t_end - t0, *(b.end for b in bars)], default=0.0)
    workers = run.get("farm", {}).get("workers", [])
    lanes = [_lane_use(str(w["id"]), w, bars, span) for w in workers]
    lanes += [_lane_use(name, {}, bars, span) for name in CPU_LANES if _on(bars, name)]
    return RunReport(
        run=dict(run),
        span_s=span,
        bars=sorted(bars, key=lambda b: (b.lane, b.start)),
        lanes=lanes,
        shots=_shots(shots, tasks, attempts, artifacts),
        timings=_timings(bars),
        notices=[_notice(e, rel) for e in events if e["kind"] in TROUBLE_EVENTS],
        starts=[rel(ts) or 0.0 for ts in starts_ts],
        final_media=_final_media(artifacts),
        speech_engines=_engines(events),
        planner=planner_summary(plan or {}),
        voice=_voice(events),
        look=look_rows(plan or {}, tasks, artifacts),
    )


def look_rows(
    plan: Mapping[str, Any], tasks: Sequence[Any], artifacts: Sequence[Mapping[str, Any]]
) -> list[LookRow]:
    """The look pictures: those the run made (its look tasks' newest outputs) and those the
    user gave in the shot list."""
    made: dict[str, Path] = {}
    for art in artifacts:
        if art["kind"] == TaskKind.look.value:
            made[TaskId.parse(art["task_id"]).shot_id or ""] = Path(art["path"])
    rows = [
        LookRow(str(t.shot_id), made.get(str(t.shot_id)), False, t.worker or "")
        for t in tasks
        if t.kind == TaskKind.look.value
    ]
    given = plan.get("look")
    if isinstance(given, dict):
        rows += [LookRow(str(name), Path(str(path)), True) for name, path in given.items()]
    order = {"character": 0, "character-2": 1, "character-3": 2, "setting": 3}
    return sorted(rows, key=lambda r: order.get(r.name, 9))


def gather(store: Any, run: str, *, now: float) -> RunReport:
    """Read a run's rows from the store and build its report."""
    record = store.run(run)
    run_id = record["id"]
    return build_report(
        record,
        store.shots(run_id),
        store.tasks(run_id),
        store.attempts(run_id),
        store.events(run_id),
        store.artifacts(run_id),
        now=now,
        plan=store.plan(run_id),
    )


def _attempt_bar(
    a: Mapping[str, Any],
    kinds: Mapping[str, str],
    shot_of: Mapping[str, str | None],
    rel: Any,
    end_default: float,
) -> Bar:
    state = a["state"] if a["state"] in ("done", "failed", "cancelled") else "running"
    end = rel(a["finished_at"]) if a["finished_at"] else end_default
    created = rel(a["created_at"]) or 0.0
    if a["started_at"] is not None:
        queued, start = created, rel(a["started_at"])
    elif state == "done":
        # Adopted after a restart, or its start message was missed: it ran, we know not when.
        queued, start = None, created
    else:  # it never started: all of it was waiting
        queued, start = created, end
    tid = a["task_id"]
    return Bar(
        a["worker"] or "?", tid, kinds.get(tid, TaskId.parse(tid).kind.value), shot_of.get(tid),
        queued, start, max(end, start), state, a.get("error"),
    )  # fmt: skip


def _on(bars: Iterable[Bar], lane: str) -> bool:
    return any(b.lane == lane for b in bars)


def _lane_use(lane: str, worker: Mapping[str, Any], bars: Sequence[Bar], span: float) -> LaneUse:
    mine = [b for b in bars if b.lane == lane]
    busy = _union([(b.start, b.end) for b in mine if b.end > b.start])
    return LaneUse(
        lane,
        str(worker.get("card", "CPU" if lane in CPU_LANES else "")),
        tuple(str(r) for r in worker.get("roles", [])),
        busy,
        span,
        sum(1 for b in mine if b.end > b.start),
        sum(1 for b in mine if b.state == "failed"),
    )


def _union(spans: list[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping spans."""
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(spans):
        if cur_end is None or s > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def _timings(bars: Sequence[Bar]) -> list[KindTiming]:
    out = []
    for kind in (k.value for k in TaskKind):  # the GPU kinds first, then speech and assembly
        secs = [b.end - b.start for b in bars if b.kind == kind and b.state == "done"]
        if secs:
            out.append(
                KindTiming(kind, len(secs), sum(secs), statistics.fmean(secs), min(secs), max(secs))
            )
    return out


def _notice(e: Mapping[str, Any], rel: Any) -> Notice:
    data = e.get("data") or {}
    inner = data.get("data") or {}
    return Notice(rel(e["ts"]) or 0.0, e["kind"], e["message"], data.get("worker"),
                  inner.get("action"))  # fmt: skip


def _shots(
    shots: Sequence[Mapping[str, Any]],
    tasks: Sequence[Any],
    attempts: Sequence[Mapping[str, Any]],
    artifacts: Sequence[Mapping[str, Any]],
) -> list[ShotRow]:
    keyframes: dict[str, Path] = {}
    for art in artifacts:  # the newest keyframe of each shot wins
        if art["kind"] == "keyframe":
            keyframes[TaskId.parse(art["task_id"]).shot_id or ""] = Path(art["path"])
    tries: dict[str, int] = {}
    for a in attempts:
        shot = TaskId.parse(a["task_id"]).shot_id
        if shot:
            tries[shot] = tries.get(shot, 0) + 1
    workers_of: dict[str, dict[str, str]] = {}
    for t in tasks:
        if t.shot_id and t.kind in GPU_KINDS and t.worker:
            workers_of.setdefault(t.shot_id, {})[t.kind] = t.worker
    missing = heroes_missing(tasks)
    rows = []
    for s in shots:
        sid = str(s["id"])
        workers = workers_of.get(sid, {})
        rows.append(
            ShotRow(
                sid,
                float(s.get("duration", 0.0)),
                str(s.get("prompt", "")),
                str(s.get("narration", "")),
                str(s.get("camera", "")),
                str(s.get("shot_type", "")),
                bool(s.get("hero", False)),
                keyframes.get(sid),
                workers,
                tries.get(sid, 0),
                missing.get(sid, ""),
            )
        )
    return rows


def _engines(events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Which speech engine spoke each shot (a fallback engine shows here), the newest
    narration of each shot counting (a shot spoken again in the film's one voice)."""
    out = {}
    for e in events:
        tid = TaskId.of(e.get("task_id"))
        inner = (e.get("data") or {}).get("data") or {}
        spoke = e["kind"] in ("task_done", "speech_respoken")
        if spoke and tid and tid.kind.value == "speech" and "engine" in inner:
            out[tid.shot_id or ""] = str(inner["engine"])
    return out


def _voice(events: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The film's voice and why (``farm.voice``), and how many shots were spoken again."""
    from videofactory.farm.voice import RESPOKEN_EVENT, film_voice_of

    voice = film_voice_of(list(events))
    if voice is not None:
        voice["respoken"] = len({e.get("task_id") for e in events if e["kind"] == RESPOKEN_EVENT})
    return voice


def _final_media(artifacts: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    finals = [a for a in artifacts if a["kind"] == "final"]
    if not finals:
        return None
    return {**finals[-1]["media"], "path": finals[-1]["path"], "size": finals[-1]["size"]}
