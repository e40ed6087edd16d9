"""How a run ends: what it made (``RunResult``), and no attempt left open behind it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from videofactory.assembly.probe import MediaInfo, check_media
from videofactory.errors import RunCancelled
from videofactory.farm.context import RunContext
from videofactory.store import RunState, TaskState, heroes_missing

__all__ = ["INTERRUPTED", "RunResult", "close_attempts", "run_result", "stop_reason"]

#: Why the jobs in flight stop when the run's process is interrupted.
INTERRUPTED = "run interrupted (Ctrl-C or SIGTERM)"


def stop_reason(exc: BaseException | None) -> str:
    """Why the jobs still in flight stop, from what ended the run's loop (None: it ended)."""
    if exc is None:
        return "left open when the run ended"
    if isinstance(exc, RunCancelled):
        return "run cancelled"
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return INTERRUPTED
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"run failed: {first}"


@dataclass
class RunResult:
    """What a finished run produced."""

    run_id: str
    run_dir: Path
    #: The finished video (None when the run was not assembled).
    final: Path | None
    media: MediaInfo | None
    elapsed_s: float
    shots: tuple[str, ...] = ()
    #: Shot id -> why it went out without its hero pass.
    heroes_missing: dict[str, str] = field(default_factory=dict)
    #: Tasks finished from the artifact cache / GPU and speech tasks rendered or spoken.
    tasks_reused: int = 0
    tasks_rendered: int = 0
    #: A preview: keyframes only, ``final`` is its animatic (``<run>/preview.mp4``).
    preview: bool = False


def run_result(
    ctx: RunContext, outputs: Mapping[str, Path], *, assemble: bool, elapsed: float
) -> RunResult:
    """Record a run that ended well (done, or rendered without assembly) and say what it
    made, and which shots went out without their hero pass."""
    store, run_id = ctx.store, ctx.run_id
    missing = heroes_missing(store.tasks(run_id))
    tail = (
        f"; {len(missing)} shot(s) without their hero pass ({', '.join(missing)}): "
        f"`videofactory resume {run_id} --heroes` adds them"
        if missing
        else ""
    )
    reused, rendered = store.reuse_counts(run_id)
    counts = {"tasks_reused": reused, "tasks_rendered": rendered}
    if reused:
        tail = f"; {reused} task(s) reused from the cache, {rendered} rendered{tail}"
    final: Path | None = None
    media: MediaInfo | None = None
    if assemble:
        final = outputs[f"{run_id}/assemble"]
        media = check_media(final, kind="video")
        store.set_run_state(run_id, RunState.done, final=str(final))
        ctx.emit(
            "run_done",
            f"{final} ({media.duration_s:.2f} s) in {elapsed:.1f} s{tail}",
            data={"final": str(final), "duration_s": media.duration_s,
                  "heroes_missing": missing, **counts},
        )  # fmt: skip
    else:
        store.set_run_state(run_id, RunState.rendered)
        ctx.emit(
            "run_done",
            f"every shot rendered in {elapsed:.1f} s (not assembled){tail}",
            data={"heroes_missing": missing, **counts},
        )
    shots = tuple(s.id for s in ctx.shotlist.shots)
    preview = bool(store.run(run_id)["settings"].get("preview"))
    return RunResult(
        run_id, ctx.run_dir, final, media, elapsed, shots, missing, reused, rendered, preview
    )


def close_attempts(ctx: RunContext, exc: BaseException | None) -> None:
    """No attempt outlives the run: one still open (never posted, lost, or followed when the
    run stopped) ends here, cancelled, with why the run ended (``exc``; None: it ended well)."""
    left = ctx.store.close_open_attempts(ctx.run_id, TaskState.cancelled, stop_reason(exc))
    if left and exc is None:  # every attempt should have ended on its own
        ctx.emit("warning", f"{left} attempt(s) were still open when the run ended")
