"""``videofactory test``: check one ComfyUI server step by step and say plainly what failed.

The steps: /system_stats, /object_info, the workflow (a tiny weight-free one, or the user's
own API-format export with its bindings), preflight of that workflow against the server's
nodes and model files, the inputs (a workflow that starts from LoadImage, LoadVideo or
LoadAudio gets a small sample of its own, or the user's ``--input`` file, uploaded and bound:
a fresh server's input/ folder holds none of the user's files), and one round trip (submit,
follow, confirm from /history, download every output). Each step records its time; the
report is ``ok`` only if every step worked.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videofactory.comfy.client import ComfyClient
from videofactory.comfy.preflight import check_workflow
from videofactory.comfy.samples import LOADED, kind_of_file, loaders, make_sample
from videofactory.comfy.workflow import Workflow, load_workflow
from videofactory.errors import BackendTimeout, BackendUnavailable, ConfigError, FactoryError

__all__ = ["CheckReport", "CheckStep", "check_server", "tiny_workflow"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Seconds the tiny workflow may take (it runs in milliseconds on any server).
TINY_TIMEOUT_S = 60.0
#: Seconds a user's workflow may take by default (a real video model needs minutes).
WORKFLOW_TIMEOUT_S = 1800.0
#: Subfolder of the server's input/ that the check's inputs are uploaded to (beside the
#: outputs it saves under output/videofactory/test).
INPUT_SUBFOLDER = "videofactory/test"


@dataclass
class CheckStep:
    """One step of the check and how it went."""

    name: str
    ok: bool
    seconds: float
    detail: str
    #: More lines (bindings, problems, files) shown under the step.
    lines: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """All steps; ``ok`` only if every one of them worked."""

    url: str
    steps: list[CheckStep] = field(default_factory=list)
    note: str = ""
    workflow: str = ""
    #: Where the downloaded outputs are ("" when they were only checked, then deleted).
    output_dir: str = ""
    outputs: list[str] = field(default_factory=list)
    #: What was uploaded for the workflow's Load* nodes: param, kind, file, name, sample.
    inputs: list[dict[str, Any]] = field(default_factory=list)
    #: False when nothing answered at the URL at all (connection refused, no such host).
    reachable: bool = True

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
            "workflow": self.workflow,
            "output_dir": self.output_dir,
            "outputs": self.outputs,
            "inputs": self.inputs,
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


class _Steps:
    """Times each step and records it; a failed step stops the check."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report

    def add(self, name: str, t0: float, ok: bool, detail: str, lines: Sequence[str] = ()) -> bool:
        """Record a step that started at ``t0``; returns ``ok``."""
        self.report.steps.append(CheckStep(name, ok, time.monotonic() - t0, detail, list(lines)))
        return ok


async def check_server(
    url: str,
    *,
    timeout: float = 30.0,
    workflow: str | Path | None = None,
    bindings: str | Path | None = None,
    output_dir: str | Path | None = None,
    run_timeout: float | None = None,
    input_file: str | Path | None = None,
) -> CheckReport:
    """Check ``url``: stats, node catalogue, the workflow, preflight, inputs, one round trip.

    Without ``workflow`` a tiny weight-free image workflow is used and its output is checked
    and deleted; with one, the outputs are kept in ``output_dir`` (default: a new folder under
    the system's temp folder) and the report says where. A workflow's LoadImage, LoadVideo
    and LoadAudio get ``input_file`` where it is of their kind, else a sample made here.
    """
    report = CheckReport(url)
    steps = _Steps(report)
    async with ComfyClient(url, timeout=min(timeout, 10.0)) as client:
        t = time.monotonic()
        try:
            stats = await client.system_stats()
        except FactoryError as exc:
            report.reachable = not isinstance(exc, BackendUnavailable | BackendTimeout)
            steps.add("system_stats", t, False, str(exc))
            return report
        dev = (stats.get("devices") or [{}])[0]
        version = (stats.get("system") or {}).get("comfyui_version", "?")
        steps.add("system_stats", t, True, f"ComfyUI {version}, device {dev.get('name', '?')}")

        t = time.monotonic()
        try:
            info = await client.object_info()
        except FactoryError as exc:
            steps.add("object_info", t, False, str(exc))
            return report
        steps.add("object_info", t, True, f"{len(info)} node types")

        t = time.monotonic()
        try:
            wf = _workflow(workflow, bindings)
        except FactoryError as exc:
            steps.add("workflow", t, False, str(exc))
            return report
        report.workflow = wf.name
        origin = "bindings detected" if wf.origin == "detected" else f"bindings from {wf.origin}"
        lines = list(wf.notes) if wf.origin == "detected" else wf.describe()
        steps.add("workflow", t, True, f"{wf.name}: {len(wf.graph)} nodes, {origin}", lines)

        t = time.monotonic()
        params = _unique_params(wf)
        problems = check_workflow(wf, info, params)
        if problems:
            detail = f"{len(problems)} problem(s); nothing was submitted"
            steps.add("preflight", t, False, detail, [str(p) for p in problems])
            return report
        steps.add("preflight", t, True, "every node, input, value and model file is there")

        if input_file is not None or loaders(wf):
            t = time.monotonic()
            try:
                lines = await _inputs(client, wf, input_file, params, report)
            except FactoryError as exc:
                steps.add("inputs", t, False, str(exc))
                return report
            steps.add("inputs", t, True, f"{len(lines)} file(s) uploaded and bound", lines)

        limit = run_timeout or (WORKFLOW_TIMEOUT_S if workflow else TINY_TIMEOUT_S)
        t = time.monotonic()
        try:
            result = await client.run(wf.bind(params, strict=False), timeout=limit)
        except FactoryError as exc:
            steps.add("round_trip", t, False, str(exc))
            return report
        server_s = f", {result.seconds:.2f} s on the server" if result.seconds is not None else ""
        cached = " (served from cache: no new file)" if result.fully_cached else ""
        steps.add("round_trip", t, True, f"prompt {result.prompt_id}{server_s}{cached}")

        t = time.monotonic()
        try:
            if workflow is None and output_dir is None:
                with tempfile.TemporaryDirectory() as tmp:
                    detail, lines = await _download(client, result, Path(tmp), keep=False)
            else:
                folder = Path(output_dir or tempfile.mkdtemp(prefix="videofactory-test-"))
                detail, lines = await _download(client, result, folder, keep=True)
                report.output_dir = str(folder.resolve())
                report.outputs = [ln.rsplit(" (", 1)[0] for ln in lines]
        except FactoryError as exc:
            steps.add("download", t, False, str(exc))
            return report
        steps.add("download", t, True, detail, lines)
    return report


def _workflow(path: str | Path | None, bindings: str | Path | None) -> Workflow:
    if path is None:
        graph = tiny_workflow()
        return Workflow(
            "tiny weight-free image (built in)",
            graph,
            {},
            "built in",
            ("EmptyImage 64x48 of a random colour -> SaveImage",),
        )
    return load_workflow(Path(path), Path(bindings) if bindings else None)


async def _inputs(
    client: ComfyClient,
    wf: Workflow,
    input_file: str | Path | None,
    params: dict[str, Any],
    report: CheckReport,
) -> list[str]:
    """Upload the user's file or a sample for each Load* binding; bind the names it gets."""
    wanted = dict(loaders(wf))
    own: dict[str, Path] = {}
    if input_file is not None:
        path = Path(input_file)
        if not path.is_file():
            why = "no such file" if not path.exists() else "not a regular file"
            raise ConfigError(f"--input {path}: {why}")
        kind = kind_of_file(path)
        param = next((p for p, k in wanted.items() if k == kind), None)
        if param is None:
            loads = ", ".join(f"a {k} ({p})" for p, k in wanted.items()) or "no file"
            what = f"a {kind}" if kind else "of a type it cannot tell by its suffix"
            raise ConfigError(
                f"--input {path.name} is {what}, but the workflow loads {loads}; pass a file "
                "of that kind, or leave --input out to use a sample"
            )
        own[param] = path
    lines = []
    with tempfile.TemporaryDirectory(prefix="videofactory-test-input-") as tmp:
        for param in wanted:
            target = wf.bindings[param].targets[0]
            where = f"node {target[0]} ({wf.graph[target[0]].get('class_type')})"
            if param in own:
                path, what = own[param], f"your {LOADED[param]} {own[param].name}"
            else:
                try:
                    sample = make_sample(param, wf, Path(tmp))
                except OSError as exc:  # a full or unwritable temp folder
                    raise FactoryError(f"cannot make a sample {LOADED[param]}: {exc}") from exc
                path, what = sample.path, sample.description
            name = await client.upload(path, subfolder=INPUT_SUBFOLDER)
            params[param] = name
            size = path.stat().st_size
            report.inputs.append(
                {
                    "param": param,
                    "kind": LOADED[param],
                    "file": str(path.resolve()) if param in own else "",
                    "uploaded_as": name,
                    "sample": param not in own,
                    "bytes": size,
                }
            )
            lines.append(f"{param} -> {where}: {what} ({size} bytes) uploaded as {name}")
    return lines


def _unique_params(wf: Workflow) -> dict[str, Any]:
    """A fresh seed and output prefix, so that the server really runs it (no cache hit)."""
    params: dict[str, Any] = {}
    if wf.accepts("seed"):
        params["seed"] = random.randrange(0, 2**31)
    if wf.accepts("output_prefix"):
        params["output_prefix"] = f"videofactory/test/{time.strftime('%Y%m%d-%H%M%S')}"
    return params


async def _download(
    client: ComfyClient, result: Any, folder: Path, *, keep: bool
) -> tuple[str, list[str]]:
    paths = await client.download_all(result, folder)
    if not paths:
        raise FactoryError(
            "the workflow finished but listed no output file; does it end in a save node?"
        )
    lines = []
    for p in paths:
        size = p.stat().st_size
        if size == 0:
            raise FactoryError(f"/view returned an empty file for {p.name}")
        if p.suffix == ".png" and p.read_bytes()[:8] != PNG_MAGIC:
            raise FactoryError(f"/view returned {size} bytes for {p.name} that are not a PNG")
        lines.append(f"{p} ({size} bytes)")
    total = sum(p.stat().st_size for p in paths)
    where = f"saved in {folder}" if keep else "checked and deleted"
    return f"{len(paths)} file(s), {total} bytes, {where}", lines
