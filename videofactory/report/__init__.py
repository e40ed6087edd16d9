"""The run report: ``report.html`` (self-contained) and ``timeline.png`` beside ``final.mp4``.

``write_report(store, run_id, out_dir)`` is called at the end of every run (``factory.py``)
and by ``videofactory report RUN``. What it shows is computed in ``data.py`` (pure), drawn in
``timeline.py`` (matplotlib) and laid out in ``page.py`` (Jinja2).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from videofactory.errors import ReportError

__all__ = ["REPORT_FILE", "TIMELINE_FILE", "write_report"]

REPORT_FILE = "report.html"
TIMELINE_FILE = "timeline.png"


def write_report(store: Any, run_id: str, out_dir: Path | None = None) -> Path:
    """Write ``report.html`` and ``timeline.png`` for a run into ``out_dir`` (default: the run
    folder) and return the page's path.

    Raises:
        ReportError: the folder cannot be written, or the report's libraries are missing.
    """
    try:
        from videofactory.report.data import gather
        from videofactory.report.page import render_page
        from videofactory.report.timeline import draw_timeline
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise ReportError(
            f"the run report needs {exc.name}: pip install matplotlib jinja2"
        ) from exc
    now = time.time()
    report = gather(store, run_id, now=now)
    folder = Path(out_dir) if out_dir is not None else Path(report.run["run_dir"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        png = draw_timeline(report, folder / TIMELINE_FILE)
        page = folder / REPORT_FILE
        tmp = page.with_name(page.name + ".tmp")
        tmp.write_text(render_page(report, png, now=now), encoding="utf-8")
        tmp.replace(page)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report of {report.run['id']} to {folder}: {exc.strerror or exc}"
        ) from exc
    return page
