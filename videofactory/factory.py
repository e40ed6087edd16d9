"""Wiring: plan or load a shot list, record the run, bring up the farm, dispatch, assemble.

The CLI calls these functions; they hold no policy of their own.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from videofactory.config import FarmConfig, SpeechConfig, resolve_farm
from videofactory.detach import pid_alive
from videofactory.errors import (
    BackendError,
    ConfigError,
    FactoryError,
    RunFailed,
    ShotListError,
    StoreError,
)
from videofactory.events import Event, EventSink
from videofactory.farm.dag import build_tasks
from videofactory.shotlist import ShotList, dump_shotlist, parse_shotlist
from videofactory.stopping import sigterm_as_ctrl_c
from videofactory.store import IN_FLIGHT, RunState, Store, TaskState, driven_elsewhere
from videofactory.vocabulary import TaskKind

if TYPE_CHECKING:
    # Imported where used: recording a run (`generate --detach`) needs none of them, and the
    # simulator alone is 24 modules with PyAV, numpy and Pillow.
    from videofactory.cache.artifacts import ArtifactCache
    from videofactory.comfy.client import ComfyClient
    from videofactory.farm.context import Supervision
    from videofactory.farm.outcome import RunResult
    from videofactory.tts.base import SpeechBackend

__all__ = [
    "cancel_run",
    "new_run_id",
    "record_run",
    "redo_plan",
    "redo_run",
    "refill_cache",
    "render_shotlist",
    "reopen_heroes",
    "resume_run",
    "running_farm",
    "speech_backend",
    "sweep_sim_folders",
]


def new_run_id(concept: str, now: float | None = None) -> str:
    """A readable, unique run id: ``20261125-181500-warrior-in-mystical-3f2a``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    slug = re.sub(r"[^a-z0-9]+", "-", concept.lower()).strip("-")[:24].strip("-") or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


def speech_backend(config: SpeechConfig) -> SpeechBackend:
    """The speech engine a farm asks for (a server comes wrapped in retries + local fallback)."""
    from videofactory.tts.build import build_speech

    return build_speech(config)


#: The temporary folder of a built-in farm's servers: ``<tmp>/videofactory-sim-XXXX``.
SIM_FOLDER_PREFIX = "videofactory-sim-"
#: In that folder: the process id of the run that owns it.
SIM_OWNER_FILE = "owner.pid"


def sweep_sim_folders(root: Path | None = None) -> list[Path]:
    """Remove the folders that built-in farms of killed processes left; return them.

    A run stops its simulated servers and removes their folder on the way out, but a run
    killed with SIGKILL cannot: its servers exit by themselves (they watch their parent) and
    the folder stays. A folder whose owner is alive, or that names no owner, is left alone.
    """
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{SIM_FOLDER_PREFIX}*"):
        try:
            owner = int((folder / SIM_OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or its owner is still writing the file
        if not pid_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def running_farm(farm: FarmConfig, *, root: Path | None = None) -> Iterator[FarmConfig]:
    """The farm with URLs: a simulated farm is started here and stopped on exit.

    It heals itself as the farm launcher would (its ``launcher:`` restart settings): a server
    that dies is started again on its port. Its folder is the farm's ``launcher.folder``, so
    that the dispatcher finds the restarts in ``restarts.jsonl`` there for the run's log.
    """
    if not farm.simulated:
        yield farm
        return
    from videofactory.sim.farm import RestartPolicy, SimFarm, SimWorkerSpec

    specs = [
        SimWorkerSpec(name=w.id, card=w.card, vram_gb=w.vram_gb, gpu_speed=w.speed)
        for w in farm.workers
    ]
    sweep_sim_folders(root)
    folder = Path(tempfile.mkdtemp(prefix=SIM_FOLDER_PREFIX, dir=root)).absolute()
    try:
        (folder / SIM_OWNER_FILE).write_text(str(os.getpid()))
        policy = RestartPolicy.from_launcher(farm.launcher)
        with SimFarm(specs, folder, restart=policy) as sim:
            urls = sim.urls
            workers = [w.model_copy(update={"url": urls[w.id]}) for w in farm.workers]
            launcher = farm.launcher.model_copy(update={"folder": str(folder)})
            yield farm.model_copy(update={"workers": workers, "launcher": launcher})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def render_shotlist(
    shotlist: ShotList,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
    assemble: bool = True,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> RunResult:
    """Render a shot list on the farm into ``<workdir>/<run-id>/final.mp4``.

    ``music``: the run's ``--music`` as ``soundtrack.music_setting`` gives it (None: the
    generated bed), recorded with the run so that a resumed run sounds the same. What the
    artifact cache holds of it is reused (``fresh``: nothing is). ``settings``: more to record
    with the run (what it redoes; ``{"preview": True}``: a preview, keyframes and narration
    only, assembled into ``<run>/preview.mp4``, see ``farm.dag.preview_tasks``).
    """
    farm = resolve_farm(farm_file)
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store, running_farm(farm) as live:
        run_id, run_dir = _record(
            store, shotlist, workdir, live, assemble=assemble, music=music, fresh=fresh,
            settings=settings,
        )  # fmt: skip
        return _drive(store, live, run_id, run_dir, shotlist, on_event, assemble=assemble,
                      fresh=fresh)  # fmt: skip


def record_run(
    shotlist: ShotList,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    assemble: bool = True,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> tuple[str, Path]:
    """Record a new run (folder, shot list, farm, tasks) without starting it; returns its id
    and folder. ``resume_run`` (or ``videofactory resume``) then renders it (``--detach``)."""
    farm = resolve_farm(farm_file)
    with Store.for_workdir(Path(workdir)) as store:
        return _record(
            store, shotlist, Path(workdir), farm, assemble=assemble, music=music, fresh=fresh,
            settings=settings,
        )  # fmt: skip


def _record(
    store: Store,
    shotlist: ShotList,
    workdir: Path,
    farm: FarmConfig,
    *,
    assemble: bool,
    music: str | None = None,
    fresh: bool = False,
    settings: dict[str, Any] | None = None,
) -> tuple[str, Path]:
    run_id = new_run_id(shotlist.concept)
    run_dir = workdir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    # The run database is the record of the shot list; shots.yaml beside the video is a copy
    # for people (to read, or to edit and render as a new run), never read back.
    (run_dir / "shots.yaml").write_text(dump_shotlist(shotlist), encoding="utf-8")
    store.create_run(
        run_id,
        plan=shotlist.model_dump(mode="json"),
        run_dir=run_dir,
        farm=farm.model_dump(mode="json"),
        settings={
            "assemble": assemble,
            "music": music or "auto",
            "fresh": fresh,
            **(settings or {}),
        },
    )
    preview = bool((settings or {}).get("preview"))
    tasks = build_tasks(run_id, shotlist, preview=preview)
    store.add_tasks(run_id, [t.to_record() for t in tasks])
    return run_id, run_dir


def resume_run(
    run: str,
    *,
    workdir: Path,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
) -> RunResult:
    """Carry a stopped run to its end: finished work is reused, jobs still on the servers are
    collected, only lost work is rendered again."""
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        record = store.run(run)
        run_id, run_dir = record["id"], Path(record["run_dir"])
        owner = record["owner_pid"]
        if owner not in (None, os.getpid()) and pid_alive(owner):
            # Said before any farm starts; the dispatcher's claim is what decides, though.
            raise driven_elsewhere(run_id, owner)
        shotlist = _recorded_shotlist(store, record)
        farm = _recorded_farm(record, farm_file)
        # A run recorded with --no-assemble stays unassembled when resumed; one recorded
        # with --fresh takes nothing from the cache.
        assemble = bool(record["settings"].get("assemble", True))
        fresh = bool(record["settings"].get("fresh", False))
        with running_farm(farm) as live:
            return _drive(store, live, run_id, run_dir, shotlist, on_event, assemble=assemble,
                          fresh=fresh)  # fmt: skip


def _recorded_farm(record: dict[str, Any], farm_file: str | Path | None) -> FarmConfig:
    """The farm a recorded run goes on with: ``farm_file`` if given, else the one it recorded
    (a simulated one started afresh: its servers died with the process that drove it)."""
    if farm_file:
        return resolve_farm(farm_file)
    try:
        farm = FarmConfig.model_validate(record["farm"])
    except ValidationError as exc:
        raise ConfigError(
            f"run {record['id']} recorded a farm this version cannot read; pass --farm"
        ) from exc
    if farm.simulated:
        farm = farm.model_copy(
            update={"workers": [w.model_copy(update={"url": ""}) for w in farm.workers]}
        )
    return farm


#: Shots a redo's "no such shot" names before "and N more".
SHOTS_LISTED = 12


def redo_plan(
    store: Store,
    run: str,
    shot_id: str,
    *,
    prompt: str | None = None,
    seed: int | None = None,
    duration: float | None = None,
) -> tuple[dict[str, Any], ShotList, dict[str, Any]]:
    """A run's shot list with one shot edited, for ``videofactory redo``: its record, the new
    shot list and what changed. No edit given: the shot gets a new seed (another take).

    Raises:
        StoreError: no such run.
        ShotListError: no such shot, an edit that changes nothing or that does not validate.
    """
    record = store.run(run)
    shotlist = _recorded_shotlist(store, record)
    ids = [s.id for s in shotlist.shots]
    if shot_id not in ids:
        listed = ", ".join(ids[:SHOTS_LISTED])
        if len(ids) > SHOTS_LISTED:
            listed += f" and {len(ids) - SHOTS_LISTED} more"
        raise ShotListError(
            f"run {record['id']} has no shot {shot_id!r}; its shots are {listed} "
            f"(`videofactory show {record['id']}` lists them)"
        )
    shot = shotlist.shot(shot_id)
    if prompt is None and seed is None and duration is None:
        seed = (shot.seed + 1 + secrets.randbelow(2**31)) % 2**63  # another take
    update: dict[str, Any] = {}
    if prompt is not None:
        update["prompt"] = prompt
    if seed is not None:
        update["seed"] = seed
    if duration is not None:
        update["duration"] = duration
    changes = {k: v for k, v in update.items() if getattr(shot, k) != v}
    if not changes:
        raise ShotListError(
            f"shot {shot_id} of run {record['id']} already has "
            + ", ".join(f"{k} {v!r}" for k, v in update.items())
            + "; give a different --prompt, --seed or --duration (or none of them: a new seed)"
        )
    data = shotlist.model_dump(mode="json")
    for s in data["shots"]:
        if s["id"] == shot_id:
            s.update(changes)
    if "duration" in changes:
        data["duration"] = round(data["duration"] + changes["duration"] - shot.duration, 6)
    return record, parse_shotlist(data, source=f"redo of shot {shot_id}"), changes


def redo_run(
    run: str,
    shot_id: str,
    *,
    workdir: Path,
    prompt: str | None = None,
    seed: int | None = None,
    duration: float | None = None,
    farm_file: str | Path | None = None,
    on_event: EventSink | None = None,
    detach: bool = False,
) -> tuple[str, Path, RunResult | None]:
    """A new run of an earlier one with one shot edited (``redo_plan``): only that shot and
    what depends on it render, everything else comes from the artifact cache (filled again
    from the earlier run's files where it lost them), and the video is assembled anew.
    Returns the new run's id, folder and result (None with ``detach``: it is only recorded,
    for a background process to render)."""
    workdir = Path(workdir)
    with Store.for_workdir(workdir) as store:
        record, shotlist, changes = redo_plan(
            store, run, shot_id, prompt=prompt, seed=seed, duration=duration
        )
        farm = _recorded_farm(record, farm_file)
        assemble = bool(record["settings"].get("assemble", True))
        settings = {"redo_of": record["id"], "redo_shot": shot_id, "changes": changes}
        if record["settings"].get("preview"):  # a redone preview is a preview
            settings["preview"] = True
        refill_cache(store, record["id"], workdir)
        if detach:
            run_id, run_dir = _record(store, shotlist, workdir, farm, assemble=assemble,
                                      settings=settings)  # fmt: skip
            return run_id, run_dir, None
        with running_farm(farm) as live:
            run_id, run_dir = _record(store, shotlist, workdir, live, assemble=assemble,
                                      settings=settings)  # fmt: skip
            result = _drive(store, live, run_id, run_dir, shotlist, on_event, assemble=assemble)
        return run_id, run_dir, result


def refill_cache(store: Store, run_id: str, workdir: Path) -> int:
    """Put back in the artifact cache what a run made that the cache no longer holds (pruned,
    or made before it existed), under the keys its attempts recorded; returns how many. A
    file that is gone or a cache that cannot be written is passed over."""
    from videofactory.cache.artifacts import ArtifactCache

    keys = {
        a["task_id"]: a["content_key"]
        for a in store.attempts(run_id)
        if a["state"] == TaskState.done.value and a.get("content_key")
    }
    if not keys:
        return 0
    latest = {a["task_id"]: a for a in store.artifacts(run_id)}
    added = 0
    try:
        with ArtifactCache.for_workdir(workdir) as cache:
            for tid, key in keys.items():
                art = latest.get(tid)
                if art is None or cache.entry(key) is not None:
                    continue
                path = Path(art["path"])
                if path.is_file():
                    cache.put(key, art["kind"], path, media=art["media"], source=tid)
                    added += 1
    except (OSError, FactoryError):
        pass  # the redo renders what it cannot reuse
    return added


def reopen_heroes(run: str, *, workdir: Path) -> list[str]:
    """Give a run's skipped hero passes another go: they and the assembly are due again, so
    that the next ``resume`` renders them and assembles a new version of the video (the old
    one is kept). Returns the shots whose hero pass was reopened."""
    with Store.for_workdir(Path(workdir)) as store:
        from videofactory.watching.follow import run_status

        status = run_status(store, run)
        run_id = status.run_id
        if status.state in ("running", "starting"):
            raise StoreError(
                f"run {run_id} is being driven by process {status.driver_pid}; let it finish "
                f"(`videofactory wait {run_id}`), then `videofactory resume {run_id} --heroes`"
            )
        tasks = store.tasks(run_id)
        skipped = [
            t for t in tasks if t.kind == TaskKind.hero.value and t.state == TaskState.skipped.value
        ]
        if not skipped:
            return []
        with store.batch():
            for t in skipped:
                store.set_task_state(t.id, TaskState.pending, error=None)
            for t in tasks:
                if t.kind == TaskKind.assemble.value:
                    store.set_task_state(t.id, TaskState.pending, error=None)
            shots = [t.shot_id or "" for t in skipped]
            store.add_event(
                run_id,
                "heroes_reopened",
                f"hero passes of {', '.join(shots)} are due again; the video is assembled anew",
                data={"shots": shots},
            )
        return shots


def _recorded_shotlist(store: Store, record: dict[str, Any]) -> ShotList:
    return parse_shotlist(store.plan(record["id"]), source=f"run {record['id']}")


def _drive(
    store: Store,
    farm: FarmConfig,
    run_id: str,
    run_dir: Path,
    shotlist: ShotList,
    on_event: EventSink | None,
    *,
    assemble: bool = True,
    fresh: bool = False,
) -> RunResult:
    import asyncio

    from videofactory.farm.dispatcher import Dispatcher
    from videofactory.farm.outcome import INTERRUPTED

    cache = _open_cache(store, run_id, run_dir.parent, on_event)
    preview = bool(store.run(run_id)["settings"].get("preview"))
    dispatcher = Dispatcher(
        store,
        farm,
        run_id,
        run_dir,
        shotlist,
        speech=speech_backend(farm.speech),
        on_event=on_event,
        assemble=assemble,
        supervision=_supervision(farm),
        cache=cache,
        fresh=fresh,
        preview=preview,
    )
    try:
        with sigterm_as_ctrl_c():
            return asyncio.run(dispatcher.run())
    except KeyboardInterrupt:
        if store.run(run_id)["owner_pid"] == os.getpid():
            store.set_run_state(run_id, RunState.failed, error="interrupted (Ctrl-C or SIGTERM)")
            store.close_open_attempts(run_id, TaskState.cancelled, INTERRUPTED)
        raise RunFailed(
            f"run {run_id} interrupted; what finished is kept in {run_dir}; "
            f"`videofactory resume {run_id}` goes on from there",
            run_id=run_id,
        ) from None
    finally:
        # Only the process that drove the run writes its report, then lets go of it (a resume
        # refused because another process drives the run leaves everything to that one).
        if store.run(run_id)["owner_pid"] == os.getpid():
            _report(store, run_id, run_dir, on_event)
            store.release_run(run_id, os.getpid())
        if cache is not None:
            cache.close()


def _open_cache(
    store: Store, run_id: str, workdir: Path, on_event: EventSink | None
) -> ArtifactCache | None:
    """The work directory's artifact cache; one that cannot be opened is a warning (the run
    renders everything), never a failure of the run."""
    from videofactory.cache.artifacts import ArtifactCache

    try:
        return ArtifactCache.for_workdir(workdir)
    except StoreError as exc:
        message = f"{exc}; nothing is reused or kept"
        store.add_event(run_id, "warning", message)
        if on_event is not None:
            on_event(Event(kind="warning", run_id=run_id, message=message))
        return None


def _supervision(farm: FarmConfig) -> Supervision | None:
    """What supervises the farm's servers, for the run: the farm launcher (managed servers) or
    the built-in farm, which keeps the launcher's records in its folder; None otherwise."""
    if not (farm.simulated or any(w.managed for w in farm.workers)):
        return None
    from videofactory.launcher import RecordedSupervision

    return RecordedSupervision(farm, "the built-in farm" if farm.simulated else "the launcher")


def _report(store: Store, run_id: str, run_dir: Path, on_event: EventSink | None) -> None:
    """Write the run report, whatever the run's outcome; a report that cannot be written is a
    warning, never a failure of the run."""
    from videofactory.report import write_report

    try:
        write_report(store, run_id, run_dir)
    except Exception as exc:  # noqa: BLE001 - the run's own outcome must come through
        message = f"the run report was not written: {exc}"
        with contextlib.suppress(Exception):
            store.add_event(run_id, "warning", message)
        if on_event is not None:
            on_event(Event(kind="warning", run_id=run_id, message=message))


#: What ``cancel`` says of a job that finished on its server before the cancel reached it.
FINISHED_ANYWAY = "finished before it could be cancelled"


def cancel_run(run: str, *, workdir: Path) -> dict[str, Any]:
    """Cancel a run: mark it, interrupt its running jobs and take its queued ones off the
    servers. A process driving it stops at its next look (within a second).

    A job that had already finished on its server is recorded as such: its attempt done (it
    rendered), its task cancelled but keeping the prompt id, so that ``videofactory resume``
    collects the output from the server instead of rendering it again.
    """
    import asyncio

    with Store.for_workdir(Path(workdir)) as store:
        record = store.run(run)
        run_id = record["id"]
        if record["state"] in (RunState.done.value, RunState.cancelled.value):
            return {"run_id": run_id, "state": record["state"], "jobs": []}
        store.set_run_state(run_id, RunState.cancelled, error="cancelled by the user")
        urls = {w["id"]: w.get("url", "") for w in record["farm"].get("workers", [])}
        flying = [t for t in store.tasks(run_id) if t.state in IN_FLIGHT]
        jobs = asyncio.run(_cancel_jobs(flying, urls))
        for t, job in zip(flying, jobs, strict=True):
            _record_cancel(store, t, job)
        if not pid_alive(store.run(run_id)["owner_pid"]):
            # Nobody drives it to close the rest (a driving process does so on its way out).
            store.close_open_attempts(run_id, TaskState.cancelled, "run cancelled")
        store.add_event(
            run_id, "run_cancelled", f"cancelled; {len(jobs)} job(s) stopped", data={"jobs": jobs}
        )
    return {"run_id": run_id, "state": RunState.cancelled.value, "jobs": jobs}


def _record_cancel(store: Store, task: Any, job: dict[str, str]) -> None:
    """The task cancelled (unless its process finished it meanwhile), its attempt ended as
    its server says."""
    finished = job["outcome"] == FINISHED_ANYWAY
    if finished:
        error = (
            f"{job['outcome']} on {task.worker} (prompt {task.prompt_id}), not downloaded; "
            "`videofactory resume` collects it without rendering it again"
        )
    else:
        error = "cancelled by the user"
    store.cancel_task(task.id, error)
    attempt = store.attempt_of_prompt(task.id, task.prompt_id) if task.prompt_id else None
    if attempt is None:
        return
    if finished:  # the server's word: it rendered, whatever a stopping process guessed
        store.end_attempt(attempt["id"], TaskState.done, None, force=True)
    else:
        store.end_attempt(attempt["id"], TaskState.cancelled, "run cancelled")


async def _cancel_jobs(tasks: list[Any], urls: dict[str, str]) -> list[dict[str, str]]:
    import asyncio

    from videofactory.comfy.client import ComfyClient

    async def one(task: Any) -> dict[str, str]:
        url = urls.get(task.worker or "", "")
        outcome = "no server recorded"
        if task.kind in (TaskKind.speech.value, TaskKind.assemble.value):
            outcome = "stops with the run's process"  # its own work, not a server's job
        elif url and task.prompt_id:
            try:
                async with ComfyClient(url, timeout=5) as client:
                    outcome = await client.cancel(task.prompt_id)
                    if outcome == "not queued":
                        outcome = await _ended_how(client, task.prompt_id)
            except BackendError as exc:
                outcome = f"server unreachable ({exc})"
        return {"task": task.id, "worker": task.worker or "", "outcome": outcome}

    return list(await asyncio.gather(*(one(t) for t in tasks)))


async def _ended_how(client: ComfyClient, prompt_id: str) -> str:
    """How a prompt no longer queued ended, from the server's history."""
    from videofactory.comfy.results import parse_history_entry

    entry = await client.history(prompt_id)
    if entry is None:
        return "not queued (unknown to the server)"
    try:
        parse_history_entry(prompt_id, entry, client.url)
    except FactoryError as exc:
        return f"had already ended: {str(exc).splitlines()[0]}"
    return FINISHED_ANYWAY
