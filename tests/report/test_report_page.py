"""The run report: what it computes (pure), and the files it writes from a real run database."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from videofactory.report import write_report
from videofactory.report.data import build_report
from videofactory.report.timeline import FAILED, KIND_COLOURS
from videofactory.store import Store

from . import reportkit
from .reportkit import RUN


def _rgb(img: Image.Image) -> list[tuple[int, int, int]]:
    """The pixels as RGB triples (Image.getdata is deprecated in Pillow 12+)."""
    raw = img.convert("RGB").tobytes()
    return list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))


def _report():
    r = reportkit.rows()
    return build_report(r["run"], r["shots"], r["tasks"], r["attempts"], r["events"],
                        r["artifacts"], now=reportkit.T0 + 100)  # fmt: skip


def test_bars_utilisation_idle_and_retries():
    rep = _report()
    assert rep.span_s == pytest.approx(18.0)
    use = {lane.id: lane for lane in rep.lanes}
    assert list(use) == ["gpu0", "gpu1", "gpu2", "gpu4", "gpu5", "speech", "ffmpeg"]
    assert use["gpu5"].busy_s == pytest.approx(4.0) and use["gpu5"].jobs == 2
    # gpu1 ran a failed attempt (3.5-6) and a good one (5.5-10): the overlap counts once
    assert use["gpu1"].busy_s == pytest.approx(6.5) and use["gpu1"].failed == 1
    assert use["gpu1"].utilisation == pytest.approx(6.5 / 18.0)
    assert use["gpu4"].busy_s == 0 and use["gpu4"].idle_s == pytest.approx(18.0)
    failed = [b for b in rep.bars if b.state == "failed"]
    assert len(failed) == 1 and failed[0].lane == "gpu1" and "illegal memory" in failed[0].error
    assert failed[0].queued == pytest.approx(3.2) and failed[0].start == pytest.approx(3.5)
    assert rep.failed_attempts == 1
    (notice,) = rep.notices
    assert notice.kind == "task_failed" and notice.worker == "gpu1"
    assert notice.action == "retry_elsewhere" and notice.at == pytest.approx(6.0)
    timing = {t.kind: t for t in rep.timings}
    assert timing["clip"].count == 2 and timing["clip"].max_s == pytest.approx(4.5)
    assert timing["assemble"].total_s == pytest.approx(1.4)
    s01 = rep.shots[0]
    assert s01.workers == {"keyframe": "gpu5", "clip": "gpu2", "hero": "gpu0"}
    assert s01.attempts == 4 and rep.speech_engines == {"s01": "espeak"}
    assert rep.final_media["duration_s"] == 4.0


def _colour_share(img: Image.Image, hex_colour: str, tol: int = 12) -> float:
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    small = img.convert("RGB").resize((img.width // 2, img.height // 2), Image.NEAREST)
    pixels = _rgb(small)
    near = sum(1 for p in pixels if all(abs(p[i] - want[i]) <= tol for i in range(3)))
    return near / len(pixels)


def test_write_report_from_a_real_run_database(tmp_path):
    run_dir = reportkit.record(tmp_path / "w")
    with Store.for_workdir(tmp_path / "w") as store:
        page = write_report(store, RUN, run_dir)
    assert page == run_dir / "report.html"
    html = page.read_text(encoding="utf-8")
    # self-contained: no scripts, no stylesheet or picture fetched from anywhere
    assert "<script" not in html and "<link" not in html
    assert 'font: 14px/1.45 -apple-system, "Segoe UI"' in html  # the style sheet is not escaped
    assert not re.search(r"""src=["'](?!data:)""", html)
    assert html.count('src="data:image/png;base64,') == 1  # the timeline
    assert html.count('src="data:image/jpeg;base64,') == 2  # two keyframe thumbnails
    # text from the run is text: the hostile concept is escaped
    assert "&lt;script&gt;alert(" in html and "Steel &lt;b&gt;." in html
    for shown in ("gpu1", "RTX 4080 Super", "It begins.", "retry elsewhere", "illegal memory"):
        assert shown in html, shown
    png = Image.open(run_dir / "timeline.png")
    assert png.format == "PNG" and png.width >= 1000 and png.height >= 300
    for kind in ("keyframe", "clip"):
        assert _colour_share(png, KIND_COLOURS[kind]) > 0.002, kind
    assert _colour_share(png, FAILED, tol=30) > 0.0003  # the failed attempt is marked


def test_report_of_a_run_that_is_still_going_and_into_another_folder(tmp_path):
    run_dir = reportkit.record(tmp_path / "w")
    with Store.for_workdir(tmp_path / "w") as store:
        from videofactory.store import RunState

        store.set_run_state(RUN, RunState.running)
        page = write_report(store, RUN[:12], tmp_path / "elsewhere")
    assert page.parent == tmp_path / "elsewhere" and (page.parent / "timeline.png").is_file()
    assert not (run_dir / "report.html").exists()
