"""The report as a person sees it: rendered by a real headless browser, from disk."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image

from videofactory.report import write_report
from videofactory.report.timeline import KIND_COLOURS
from videofactory.store import Store

from . import reportkit
from .reportkit import RUN

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)

pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no headless browser: chromium is not installed (`apt-get install -y chromium`, "
    "which .ci/run does)",
)


def _rgb(img: Image.Image) -> list[tuple[int, int, int]]:
    """The pixels as RGB triples (Image.getdata is deprecated in Pillow 12+)."""
    raw = img.convert("RGB").tobytes()
    return list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))


def _near(img: Image.Image, rgb: tuple[int, int, int], tol: int) -> int:
    return sum(1 for p in _rgb(img) if all(abs(p[i] - rgb[i]) <= tol for i in range(3)))


def test_report_renders_in_a_headless_browser(tmp_path):
    run_dir = reportkit.record(tmp_path / "w")
    with Store.for_workdir(tmp_path / "w") as store:
        page = write_report(store, RUN, run_dir)
    shot = tmp_path / "report.png"
    argv = [
        str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,2200", f"--screenshot={shot}", page.resolve().as_uri(),
    ]  # fmt: skip
    res = subprocess.run(argv, capture_output=True, text=True, timeout=90,
                         stdin=subprocess.DEVNULL)  # fmt: skip
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1400, 2200)
    small = img.resize((700, 1100), Image.NEAREST)
    colours = set(_rgb(small))
    assert len(colours) > 200, "the page rendered blank"
    # the timeline picture (a data: URI) was decoded and drawn: its bar colours are on screen
    for kind in ("keyframe", "clip", "hero"):
        rgb = tuple(int(KIND_COLOURS[kind][i : i + 2], 16) for i in (1, 3, 5))
        assert _near(small, rgb, 10) > 200, kind
    # and so were the two keyframe thumbnails (JPEG data: URIs)
    assert _near(small, (30, 90, 60), 14) > 300
    assert _near(small, (140, 40, 40), 14) > 300
    shutil.copy(shot, run_dir / "report.screenshot.png")  # for a person to look at
