"""Reuse what did not change: a ready task whose content key the artifact cache holds is
finished from it at once (no GPU work), and what a run makes is kept there for the next one.

A task is keyed when it becomes ready, not when the run is recorded: its key holds the content
hashes of the files it reads (a clip its keyframe, a hero pass its clip, a continued clip the
clip before it), known only once those tasks are done. A GPU task may run on any worker, each
with its own workflow for the kind, so it has one key per distinct workflow of the farm: a hit
on any of them is reused (the farm file says each is fit for the kind). What a worker renders
is kept under the key of the workflow it ran.

``task_key`` and ``narration_key`` are pure and shared with ``render --dry-run``, which keys
what it can from the cache's index alone (``plan_reuse``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videofactory.cache.keys import (
    OUTPUT_PLACEHOLDER,
    canonical_json,
    gpu_key,
    input_ref,
    model_files,
    speech_key,
)
from videofactory.comfy.references import reference_name
from videofactory.errors import FactoryError, WorkflowError
from videofactory.farm.attempt import FOLDER
from videofactory.farm.dag import Task, input_deps
from videofactory.farm.flow import (
    END_IMAGE,
    end_frame_dep,
    previous_clip_dep,
    start_ref,
    takes_end_frame,
)
from videofactory.farm.params import task_references, task_shot, workflow_params
from videofactory.shotlist import Shot, ShotList
from videofactory.vocabulary import GPU_KINDS, TaskId, TaskKind

if TYPE_CHECKING:
    from videofactory.cache.artifacts import ArtifactCache, Entry
    from videofactory.comfy.workflow import Workflow
    from videofactory.config import FarmConfig, SpeechConfig
    from videofactory.farm.context import RunContext

__all__ = [
    "Reuse",
    "farm_speaker",
    "farm_workflows",
    "ReusePlan",
    "narration_key",
    "plan_reuse",
    "speaker_identity",
    "task_key",
]

#: Fields of a shot that change its pictures, not its narration: a shot's speech key holds its
#: other fields, so that a field a later plan adds (a voice per shot) counts until named here.
NOT_SPEECH_SHOT = frozenset({
    "id", "duration", "prompt", "negative", "shot_type", "camera", "style", "seed",
    "narration", "hero", "reference_image", "continuity", "transition", "takes",
})  # fmt: skip
#: The same for the shot list's own fields.
NOT_SPEECH_PLAN = frozenset({
    "version", "concept", "duration", "style", "character", "setting", "aspect", "width",
    "height", "fps", "kind", "planner", "llm", "shots", "takes",
})  # fmt: skip
#: Speech settings that change how a narration is asked for, not what it sounds like.
NOT_SPEECH_SETTINGS = frozenset({"fallback", "retries", "timeout_s", "api_key_env", "worker",
                                 "vram_gb"})  # fmt: skip

#: A task's output by task id -> its sha256, or None while unknown.
ShaOf = Callable[[str], "str | None"]


def task_key(
    task: Task,
    tasks: Mapping[str, Task],
    shotlist: ShotList,
    workflow: Workflow,
    *,
    scale: float,
    sha_of: ShaOf,
    reference_sha: str | None = None,
    file_sha: ShaOf | None = None,
) -> str | None:
    """The content key of a GPU task run with ``workflow`` (None while an input is unknown).

    Its inputs are its dependencies' outputs by role (``keyframe``, ``clip`` of its own shot;
    ``previous_clip`` for a shot that continues the one before; ``next_keyframe`` for a shot
    that flows into the next, bound as the workflow's end frame) and the shot's reference
    picture; the workflow is bound as the attempt binds it, with each input's content hash
    where the server's name for the upload would go and the output prefix made neutral. A
    keyframe made as an edit reads the look (``look:<name>``: a look task's output, or the
    user's picture, hashed by ``file_sha``); one made from its prompt alone does not, and is
    keyed as if there were no look.
    """
    shot = task_shot(task.kind, task.shot_id, shotlist)
    inputs: dict[str, str] = {}
    end = end_frame_dep(task, tasks)
    for dep in input_deps(task, tasks):
        dt = tasks[dep]
        if dt.kind is TaskKind.look:
            continue  # a reference: below, by its slot
        sha = sha_of(dep)
        if sha is None:
            return None
        role = dt.kind.value if dt.shot_id == task.shot_id else f"previous_{dt.kind.value}"
        inputs["next_keyframe" if dep == end else role] = sha
    bound: dict[str, str] = {}
    for i, item in enumerate(task_references(task.kind, shotlist), start=1):
        if not workflow.accepts(reference_name(i)):
            break
        if item.picture is not None:
            sha = file_sha(item.picture) if file_sha is not None else None
            sha = sha or f"missing:{item.picture}"
        else:
            sha = sha_of(str(TaskId(TaskId.parse(task.id).run_id, TaskKind.look, item.name)))
            if sha is None:
                return None
        inputs[f"look:{item.name}"] = sha
        bound[reference_name(i)] = input_ref(sha)
    if shot.reference_image:
        inputs["reference_image"] = reference_sha or f"missing:{shot.reference_image}"
    if task.kind is TaskKind.clip:
        start = inputs["keyframe"]
        if previous_clip_dep(task, tasks) is not None:  # it starts from that clip's last frame
            start = start_ref(inputs["previous_clip"])
        bound["input_image"] = input_ref(start)
        if end is not None and takes_end_frame(workflow):
            bound[END_IMAGE] = input_ref(inputs["next_keyframe"])
    elif task.kind is TaskKind.hero:
        bound["input_video"] = input_ref(inputs["clip"])
    params = workflow_params(
        task.kind, shot, shotlist, workflow, scale=scale, prefix=OUTPUT_PLACEHOLDER,
        inputs=bound, take=task.take,
    )  # fmt: skip
    graph = workflow.bind(params, strict=False)
    return gpu_key(task.kind.value, graph, inputs=inputs, models=model_files(graph))


def speaker_identity(config: SpeechConfig, engine: str) -> dict[str, Any]:
    """What speaks a narration: the farm's speech settings that change the voice, and the
    engine's own description (with its version where it tells one)."""
    settings = config.model_dump(mode="json")
    return {
        **{k: v for k, v in settings.items() if k not in NOT_SPEECH_SETTINGS},
        "engine": engine,
    }


def narration_key(shot: Shot, shotlist: ShotList, speaker: Mapping[str, Any]) -> str:
    """The content key of a shot's narration."""
    rest = {k: v for k, v in shot.model_dump(mode="json").items() if k not in NOT_SPEECH_SHOT}
    plan = {
        k: v
        for k, v in shotlist.model_dump(mode="json", exclude={"shots"}).items()
        if k not in NOT_SPEECH_PLAN
    }
    return speech_key(shot.narration, shot.duration, engine=speaker, shot={**rest, "plan": plan})


class Reuse:
    """Finishes ready tasks of one run from the artifact cache, and keeps what it makes."""

    def __init__(
        self,
        ctx: RunContext,
        tasks: Mapping[str, Task],
        outputs: Mapping[str, Path],
        cache: ArtifactCache | None,
        *,
        lookup: bool,
        workflows: Callable[[TaskKind], Mapping[str, Workflow]],
        scale_of: Callable[[str], float],
        speaker: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.ctx = ctx
        self.tasks = tasks
        #: Task id -> its checked output (the dispatcher's record).
        self.outputs = outputs
        self.cache = cache
        #: False with ``--fresh``: nothing is taken from the cache (what is made is still kept).
        self.lookup = lookup
        self.workflows = workflows
        self.scale_of = scale_of
        self._speaker = speaker
        self._speaker_id: Mapping[str, Any] | None = None
        #: Task id -> sha256 of its output.
        self.hashes: dict[str, str] = {}
        #: Task id -> the key it was reused under.
        self.reused: dict[str, str] = {}
        self._files: dict[Path, str] = {}
        self._prints: dict[int, bytes] = {}
        self._held: list[Workflow] = []
        self._warned = False

    # -- keys -------------------------------------------------------------------------------

    def sha_of(self, task_id: str) -> str | None:
        """The sha256 of a finished task's output (hashed once), None while it has none."""
        if task_id in self.hashes:
            return self.hashes[task_id]
        path = self.outputs.get(task_id)
        if path is None:
            return None
        from videofactory.cache.artifacts import file_sha256

        try:
            self.hashes[task_id] = file_sha256(path)
        except OSError:
            return None
        return self.hashes[task_id]

    def keys(self, task: Task) -> list[str]:
        """The task's content keys: one per distinct workflow of the farm for its kind (a
        GPU task), its narration's (speech); none while an input is unknown."""
        if task.kind is TaskKind.speech:
            return [self.narration_key(task)]
        if task.kind not in GPU_KINDS:
            return []
        out: list[str] = []
        for worker in self._distinct(task.kind):
            key = self.key_on(task, worker)
            if key is not None and key not in out:
                out.append(key)
        return out

    def _distinct(self, kind: TaskKind) -> list[str]:
        """One worker per distinct workflow of a kind (a farm of 64 alike cards keys a task
        once, not 64 times)."""
        seen: dict[bytes, str] = {}
        for worker, workflow in self._workflows(kind).items():
            fp = self._prints.get(id(workflow))
            if fp is None:
                fp = hashlib.sha256(
                    canonical_json(
                        [
                            workflow.graph,
                            sorted((k, b.targets) for k, b in workflow.bindings.items()),
                        ]
                    )
                    + str(workflow.frame_rule).encode()
                ).digest()
                self._prints[id(workflow)] = fp
                self._held.append(workflow)  # keeps id() unique while it is remembered
            seen.setdefault(fp, worker)
        return list(seen.values())

    def key_on(self, task: Task, worker: str) -> str | None:
        """The content key of a GPU task run by ``worker``'s workflow."""
        workflow = self._workflows(task.kind).get(worker)
        if workflow is None:
            return None
        shot = task_shot(task.kind, task.shot_id, self.ctx.shotlist)
        return task_key(
            task,
            self.tasks,
            self.ctx.shotlist,
            workflow,
            scale=self.scale_of(task.id),
            sha_of=self.sha_of,
            reference_sha=self._file_sha(shot.reference_image),
            file_sha=self._file_sha,
        )

    def narration_key(self, task: Task) -> str:
        """The content key of a speech task."""
        if self._speaker_id is None:
            self._speaker_id = self._speaker()
        shot = self.ctx.shotlist.shot(task.shot_id or "")
        return narration_key(shot, self.ctx.shotlist, self._speaker_id)

    def _workflows(self, kind: TaskKind) -> Mapping[str, Workflow]:
        try:
            return self.workflows(kind)
        except (WorkflowError, OSError):
            return {}

    def _file_sha(self, name: str | None) -> str | None:
        if not name:
            return None
        path = Path(name)
        if path not in self._files:
            from videofactory.cache.artifacts import file_sha256

            try:
                self._files[path] = file_sha256(path)
            except OSError:
                return None
        return self._files[path]

    # -- taking and keeping -----------------------------------------------------------------

    def take(self, task: Task) -> Path | None:
        """Finish a ready task from the cache if it holds the task's content: the file is
        linked into the run folder and the task recorded done by a reused attempt with the
        key. None when nothing usable is cached (or with ``--fresh``)."""
        if not self.lookup or self.cache is None:
            return None
        try:
            for key in self.keys(task):
                entry = self.cache.get(key, on_damaged=lambda e, t=task: self._damaged(t, e))
                if entry is not None:
                    return self._finish(task, key, entry)
        except (OSError, FactoryError) as exc:
            self._cache_failed(exc)
        return None

    def _finish(self, task: Task, key: str, entry: Entry) -> Path:
        ctx, store = self.ctx, self.ctx.store
        assert self.cache is not None
        shot = task.shot_id or ""
        dest = ctx.run_dir / FOLDER[task.kind] / f"{task.stem}{entry.suffix}"
        self.cache.materialize(entry, dest)
        media = {**entry.media, "path": str(dest)} if "path" in entry.media else entry.media
        with store.batch():
            store.record_reuse(task.id, ctx.run_id, key)
            store.add_artifact(ctx.run_id, task.id, task.kind.value, dest, media)
        self.hashes[task.id] = entry.sha256
        self.reused[task.id] = key
        ctx.emit(
            "task_reused",
            f"{task.kind.value} {shot}: unchanged, reused {dest.name} from the cache"
            + (f" (made by {entry.source})" if entry.source else ""),
            task,
            data={"key": key, "source": entry.source},
        )
        return dest

    def keep(
        self, task: Task, path: Path, media: Mapping[str, Any], worker: str | None = None
    ) -> str | None:
        """Keep a checked output in the cache under its content key (the key of the workflow
        ``worker`` ran, for a GPU task); returns the key. A cache that cannot be written is
        a warning, never a failure of the run. Called from a thread."""
        from videofactory.cache.artifacts import file_sha256

        try:
            if task.kind is TaskKind.speech:
                key: str | None = self.narration_key(task)
            else:
                key = self.key_on(task, worker or "")
            if key is None or self.cache is None:
                self.hashes[task.id] = file_sha256(path)
                return key
            entry = self.cache.put(key, task.kind.value, path, media=dict(media), source=task.id)
        except (OSError, FactoryError, ValueError) as exc:
            self._cache_failed(exc)
            return None
        self.hashes[task.id] = entry.sha256
        return key

    def forget(self, task_id: str) -> None:
        """A file the run could not use came from the cache: the entry goes, the task renders."""
        key = self.reused.pop(task_id, None)
        self.hashes.pop(task_id, None)
        if key is not None and self.cache is not None:
            try:
                self.cache.drop(key)
            except (OSError, FactoryError) as exc:
                self._cache_failed(exc)

    def _damaged(self, task: Task, entry: Entry) -> None:
        self.ctx.emit(
            "warning",
            f"the cached {entry.kind} for {task.shot_id} was damaged (its file no longer "
            "matches its size or sha256); dropped, rendering it",
            task,
            data={"key": entry.key},
        )

    def _cache_failed(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            folder = self.cache.folder if self.cache is not None else "the artifact cache"
            self.ctx.emit("warning", f"{folder}: {exc}; the run goes on without it")


@dataclass(frozen=True)
class ReusePlan:
    """What ``render --dry-run`` predicts: task id -> the key it would be reused under, for
    the tasks the cache holds; every other task renders."""

    reused: Mapping[str, str]

    def will_run(self, tasks: Mapping[str, Task]) -> list[Task]:
        """The GPU and speech tasks that would be rendered or spoken."""
        return [
            t
            for t in tasks.values()
            if t.id not in self.reused and (t.kind in GPU_KINDS or t.kind is TaskKind.speech)
        ]


def plan_reuse(
    tasks: Mapping[str, Task],
    shotlist: ShotList,
    cache: ArtifactCache,
    *,
    workflows: Mapping[TaskKind, list[Workflow]],
    speaker: Mapping[str, Any],
    file_sha: Callable[[str], str | None],
) -> ReusePlan:
    """Which tasks the cache would finish, judged from its index alone (nothing is read or
    checked but the index): tasks in dependency order, each keyed with the output hashes its
    inputs would have (the cached ones'); a task whose input would be rendered anew renders
    too."""
    shas: dict[str, str] = {}
    reused: dict[str, str] = {}
    for task in tasks.values():  # dependencies first
        if task.kind is TaskKind.speech:
            shot = shotlist.shot(task.shot_id or "")
            keys = [narration_key(shot, shotlist, speaker)]
        elif task.kind in GPU_KINDS:
            shot = task_shot(task.kind, task.shot_id, shotlist)
            ref = file_sha(shot.reference_image) if shot.reference_image else None
            found = [
                task_key(
                    task,
                    tasks,
                    shotlist,
                    wf,
                    scale=1.0,
                    sha_of=shas.get,
                    reference_sha=ref,
                    file_sha=file_sha,
                )
                for wf in workflows.get(task.kind, [])
            ]
            keys = [k for k in dict.fromkeys(found) if k is not None]
        else:
            continue
        for key in keys:
            entry = cache.entry(key)
            if entry is not None:
                shas[task.id] = entry.sha256
                reused[task.id] = key
                break
    return ReusePlan(reused)


def farm_workflows(
    farm: FarmConfig, checks: Mapping[str, Any] | None = None
) -> dict[TaskKind, list[Workflow]]:
    """Per GPU kind, the workflows the farm's workers would run: what each worker's preflight
    chose (``checks``: worker id -> ``WorkerPreflight``), else what its farm entry names, else
    the bundled template. A workflow that cannot be loaded is left out."""
    from videofactory.comfy.farmcheck import simulator_template
    from videofactory.comfy.workflow import load_spec

    out: dict[TaskKind, list[Workflow]] = {k: [] for k in GPU_KINDS}
    for worker in farm.workers:
        check = (checks or {}).get(worker.id)
        for kind in GPU_KINDS:
            found = check.kinds.get(kind) if check is not None else None
            workflow = getattr(found, "workflow", None)
            if workflow is None:
                spec = worker.workflow_spec(kind)
                try:
                    workflow = load_spec(spec, kind.value) if spec else simulator_template(kind)
                except FactoryError:
                    continue
            out[kind].append(workflow)
    return out


def farm_speaker(config: SpeechConfig) -> dict[str, Any]:
    """The speaker identity of a farm's speech settings (its engine described as a run
    describes it)."""
    from videofactory.tts.build import build_speech

    try:
        speech = build_speech(config)
        engine = getattr(speech, "primary", speech).describe()
    except FactoryError:
        engine = config.backend
    return speaker_identity(config, engine)
