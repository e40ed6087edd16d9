"""``videofactory test``: check one ComfyUI server step by step and say plainly what failed."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videofactory.comfy.client import ComfyClient
from videofactory.errors import FactoryError

__all__ = ["CheckReport", "CheckStep", "check_server", "tiny_workflow"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class CheckStep:
    """One step of the check and how it went."""

    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class CheckReport:
    """All steps; ``ok`` only if every one of them worked."""

    url: str
    steps: list[CheckStep] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether every step worked."""
        return bool(self.steps) and all(s.ok for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "url": self.url,
            "ok": self.ok,
            "note": self.note,
            "steps": [asdict(s) for s in self.steps],
        }


def tiny_workflow(prefix: str = "videofactory/test") -> dict[str, Any]:
    """A weight-free workflow every ComfyUI runs: a 64x48 image of a random colour, saved."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {
                "width": 64,
                "height": 48,
                "batch_size": 1,
                "color": random.randrange(0, 0xFFFFFF),
            },  # a new colour defeats the cache
            "_meta": {"title": "Empty Image"},
        },
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": prefix},
            "_meta": {"title": "Save Image"},
        },
    }


async def check_server(url: str, *, timeout: float = 30.0) -> CheckReport:
    """Run /system_stats, /object_info and one tiny workflow round trip against ``url``."""
    report = CheckReport(url)
    async with ComfyClient(url, timeout=min(timeout, 10.0)) as client:
        t = time.monotonic()
        try:
            stats = await client.system_stats()
            dev = (stats.get("devices") or [{}])[0]
            version = (stats.get("system") or {}).get("comfyui_version", "?")
            detail = f"ComfyUI {version}, device {dev.get('name', '?')}"
            report.steps.append(CheckStep("system_stats", True, time.monotonic() - t, detail))
        except FactoryError as exc:
            report.steps.append(CheckStep("system_stats", False, time.monotonic() - t, str(exc)))
            return report

        t = time.monotonic()
        try:
            info = await client.object_info()
            missing = [n for n in ("EmptyImage", "SaveImage") if n not in info]
            ok = not missing
            detail = (
                f"{len(info)} node types"
                if ok
                else f"{len(info)} node types, but {', '.join(missing)} missing"
            )
            report.steps.append(CheckStep("object_info", ok, time.monotonic() - t, detail))
            if not ok:
                return report
        except FactoryError as exc:
            report.steps.append(CheckStep("object_info", False, time.monotonic() - t, str(exc)))
            return report

        t = time.monotonic()
        try:
            result = await client.run(tiny_workflow())
            images = [r for r in result.outputs if r.suffix == ".png"]
            if not images:
                raise FactoryError("the workflow finished but listed no PNG output")
            with tempfile.TemporaryDirectory() as tmp:
                path = await client.download(images[0], Path(tmp) / images[0].filename)
                head = path.read_bytes()[:8]
                size = path.stat().st_size
            if head != PNG_MAGIC:
                raise FactoryError(f"/view returned {size} bytes that are not a PNG")
            detail = f"prompt {result.prompt_id}: {images[0].filename} ({size} bytes) downloaded"
            report.steps.append(CheckStep("round_trip", True, time.monotonic() - t, detail))
        except FactoryError as exc:
            report.steps.append(CheckStep("round_trip", False, time.monotonic() - t, str(exc)))
    return report
