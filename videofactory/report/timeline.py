"""timeline.png: every attempt of a run on its GPU's lane, coloured by task kind.

Drawn with matplotlib's object API on the Agg canvas (no pyplot: no global state, no display,
safe in any thread). Each lane's background is the idle colour, so idle time shows wherever no
bar covers it; the time a job waited on its server is a thin bar, the time it ran a thick one;
a failed attempt is hatched with a red edge and a red cross at its end, one the factory stopped
(its worker went down, the run was cancelled, failed or interrupted) is pale and dotted; the
run's (re)starts are dashed lines; each lane's utilisation is written at its right.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from io import BytesIO
from pathlib import Path

from videofactory.report.data import RunReport

__all__ = ["KIND_COLOURS", "draw_timeline"]

#: One colour per task kind (the live view uses the same hues).
KIND_COLOURS = {
    "look": "#d1577a",
    "keyframe": "#b05cc6",
    "clip": "#2a9fc4",
    "hero": "#e0a800",
    "speech": "#3caa5a",
    "assemble": "#3b6fd1",
}
IDLE = "#ececec"
QUEUED = "#9aa5b1"
FAILED = "#d62728"
#: How a bar that did not end done looks: (edge colour, edge width, hatch, alpha).
LOOKS: dict[str, tuple[str, float, str | None, float]] = {
    "failed": (FAILED, 1.6, "////", 0.75),
    "cancelled": ("#555555", 0.8, "..", 0.45),
}
#: Inches per lane, and the fixed part of the height (title, axis, legend).
LANE_IN = 0.5
BASE_IN = 1.9
WIDTH_IN = 12.0
DPI = 110


def draw_timeline(report: RunReport, dest: Path | None = None) -> bytes:
    """Draw the timeline; write it to ``dest`` when given; return the PNG bytes."""
    from matplotlib.artist import Artist
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lanes = report.lanes
    n = max(len(lanes), 1)
    fig = Figure(figsize=(WIDTH_IN, BASE_IN + LANE_IN * n), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    span = max(report.span_s, 1e-3)
    row = {lane.id: n - 1 - i for i, lane in enumerate(lanes)}  # first lane on top
    for lane in lanes:
        y = row[lane.id]
        ax.broken_barh([(0, span)], (y - 0.42, 0.84), facecolors=IDLE, zorder=0)
        ax.text(
            span * 1.005, y, f"{lane.utilisation:4.0%} busy", va="center", ha="left",
            fontsize=8, color="#333333", clip_on=False,
        )  # fmt: skip
    # One collection per (lane, kind, outcome) and per lane's waits: a three-hour run has
    # thousands of attempts, and one artist each would take minutes to draw.
    waits: dict[int, list[tuple[float, float]]] = defaultdict(list)
    runs: dict[tuple[int, str, str], list[tuple[float, float]]] = defaultdict(list)
    crosses: list[tuple[float, int]] = []
    for bar in report.bars:
        if bar.lane not in row:
            continue
        y = row[bar.lane]
        if bar.queued is not None and bar.start > bar.queued:
            waits[y].append((bar.queued, bar.start - bar.queued))
        width = max(bar.end - bar.start, span * 0.002)  # a very short job stays visible
        failed = bar.state == "failed"
        runs[(y, bar.kind, bar.state if bar.state in LOOKS else "done")].append((bar.start, width))
        if failed:
            crosses.append((bar.end, y))
        if bar.shot_id and width > span * 0.035:
            ax.text(
                bar.start + width / 2, y, bar.shot_id, ha="center", va="center", fontsize=7,
                color="white" if bar.kind != "hero" else "black", zorder=5, clip_on=True,
            )  # fmt: skip
    for y, spans in waits.items():
        ax.broken_barh(spans, (y - 0.09, 0.18), facecolors=QUEUED, zorder=2)
    # Outlines separate a few bars; on thousands they would paint the lanes black.
    outline = 0.4 if len(report.bars) <= 40 * n else 0.0
    for (y, kind, outcome), spans in runs.items():
        edge, width, hatch, alpha = LOOKS.get(outcome, ("#222222", outline, None, 1.0))
        ax.broken_barh(
            spans, (y - 0.32, 0.64), facecolors=KIND_COLOURS.get(kind, "#777777"),
            edgecolors=edge, linewidth=width, hatch=hatch, alpha=alpha, zorder=3,
        )  # fmt: skip
    if crosses:
        xs, ys = zip(*crosses, strict=True)
        ax.plot(xs, ys, marker="X", color=FAILED, markersize=9, linestyle="none", zorder=4)
    for at in report.starts[1:]:  # a resume
        ax.axvline(at, color="#555555", linestyle="--", linewidth=1, zorder=1)
    ax.set_yticks(
        [row[lane.id] for lane in lanes],
        [_label(lane.id, lane.card, lane.roles) for lane in lanes],
        fontsize=8,
    )
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, span)
    ax.set_xlabel("seconds since the run started", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#cccccc", linewidth=0.5, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    run = report.run
    ax.set_title(
        f"{run['id']}  ·  {run['state']}  ·  {span:.1f} s  ·  "
        f"{report.failed_attempts} failed attempt(s)",
        fontsize=10,
        loc="left",
    )
    kinds = [k for k in KIND_COLOURS if any(b.kind == k for b in report.bars)]
    handles: list[Artist] = [
        Patch(facecolor=KIND_COLOURS[k], edgecolor="#222222", label=k) for k in kinds
    ]
    handles += [
        Patch(facecolor=QUEUED, label="waiting on the server"),
        Patch(facecolor=IDLE, label="idle"),
        Line2D([], [], marker="X", color=FAILED, linestyle="none", label="failed attempt"),
    ]
    if any(b.state == "cancelled" for b in report.bars):
        edge, _, hatch, alpha = LOOKS["cancelled"]
        handles.append(
            Patch(facecolor="#777777", edgecolor=edge, hatch=hatch, alpha=alpha, label="stopped")
        )
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.5 / (n * LANE_IN)),
        ncol=len(handles), fontsize=8, frameon=False,
    )  # fmt: skip
    with warnings.catch_warnings():
        # A run that failed early has a short, crowded picture: matplotlib then says on
        # stderr that it could not tighten the layout, a stray line in the user's terminal.
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    png = buf.getvalue()
    if dest is not None:
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(png)
        tmp.replace(dest)
    return png


def _label(lane: str, card: str, roles: tuple[str, ...]) -> str:
    role = "/".join(roles)
    return f"{lane}  {card}" + (f"\n{role}" if role else "")
