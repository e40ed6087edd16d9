"""Wiring: plan or load a shot list, record the run, bring up the farm, dispatch, assemble.

The CLI calls these functions; they hold no policy of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from videofactory.config import FarmConfig, SpeechConfig, resolve_farm
from videofactory.errors import RunFailed
from videofactory.events import EventSink
from videofactory.farm.dag import build_tasks
from videofactory.farm.dispatcher import Dispatcher, RunResult
from videofactory.shotlist import ShotList, dump_shotlist
from videofactory.sim.farm import SimFarm, SimWorkerSpec
from videofactory.store import RunState, Store
from videofactory.tts.base import SpeechBackend
from videofactory.tts.build import build_speech

__all__ = ["new_run_id", "render_shotlist", "running_farm", "speech_backend"]


def new_run_id(concept: str, now: float | None = None) -> str:
    """A readable, unique run id: ``20261125-181500-warrior-in-mystical-3f2a``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    slug = re.sub(r"[^a-z0-9]+", "-", concept.lower()).strip("-")[:24].strip("-") or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def speech_backend(config: SpeechConfig) -> SpeechBackend:
    """The speech engine a farm asks for (a server comes wrapped in retries + local fallback)."""
    return build_speech(config)


@contextlib.contextmanager
def running_farm(farm: FarmConfig, *, root: Path | None = None) -> Iterator[FarmConfig]:
    """The farm with URLs: a simulated farm is started here and stopped on exit."""
    if not farm.simulated:
        yield farm
        return
    specs = [SimWorkerSpec(name=w.id, card=w.card, vram_gb=w.vram_gb) for w in farm.workers]
    folder = Path(tempfile.mkdtemp(prefix="videofactory-sim-", dir=root))
    try:
        with SimFarm(specs, folder) as sim:
            urls = sim.urls
            workers = [w.model_copy(update={"url": urls[w.id]}) for w in farm.workers]
            yield farm.model_copy(update={"workers": workers})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def render_shotlist(
    shotlist: ShotList,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
) -> RunResult:
    """Render a shot list on the farm into ``<workdir>/<run-id>/final.mp4``."""
    farm = resolve_farm(farm_file)
    speech = speech_backend(farm.speech)
    workdir = Path(workdir)
    run_id = new_run_id(shotlist.concept)
    run_dir = workdir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "shots.yaml").write_text(dump_shotlist(shotlist), encoding="utf-8")
    with Store.for_workdir(workdir) as store, running_farm(farm) as live:
        store.create_run(
            run_id,
            concept=shotlist.concept,
            duration=shotlist.duration,
            run_dir=run_dir,
            farm=live.model_dump(mode="json"),
            settings={"width": shotlist.width, "height": shotlist.height, "fps": shotlist.fps},
            shots=[s.model_dump(mode="json") for s in shotlist.shots],
        )
        store.add_tasks(run_id, [t.to_record() for t in build_tasks(run_id, shotlist)])
        dispatcher = Dispatcher(
            store, live, run_id, run_dir, shotlist, speech=speech, on_event=on_event
        )
        try:
            return asyncio.run(dispatcher.run())
        except KeyboardInterrupt:
            store.set_run_state(run_id, RunState.failed, error="interrupted by the user")
            raise RunFailed(
                f"run {run_id} interrupted; what finished is kept in {run_dir}", run_id=run_id
            ) from None
