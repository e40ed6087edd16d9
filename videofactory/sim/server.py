"""The simulated ComfyUI server: ComfyUI's HTTP routes and websocket on aiohttp.

Every route answers both bare and under ``/api`` with ComfyUI 0.3.64's JSON shapes and status
codes (see docs/comfyui-api.md). Like ComfyUI, the app is aiohttp, so a handler that raises
(malformed JSON, an unknown upload type) gets aiohttp's plain-text 500. One worker coroutine
runs prompts strictly one at a time, in queue order.

Simulator-only routes (not ComfyUI, see ``videofactory.sim.control``): ``GET /sim/requests``
(the request and execution log) and ``GET``/``POST /sim/faults`` (fault injection at runtime).
Faults (``videofactory.sim.faults``) run through the hooks; a crash either kills the process
(``crash_hard``, set by ``python -m videofactory.sim``) or, in-process, silences the server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import sys
import time
import traceback
import uuid
from typing import Any

from aiohttp import web
from PIL import Image

from videofactory.constants import COMFYUI_PROTOCOL_VERSION
from videofactory.sim.catalog import Catalog
from videofactory.sim.control import FaultRoutes, RequestLog
from videofactory.sim.executor import PromptExecutor, PromptResult
from videofactory.sim.faults import FaultInjector
from videofactory.sim.gpu import prompt_vram_gb
from videofactory.sim.hub import SocketHub
from videofactory.sim.options import GIB, IDLE_VRAM_GB, SimOptions, device_name, ram_bytes
from videofactory.sim.paths import Folders, UploadError, content_type
from videofactory.sim.promptqueue import PromptQueue
from videofactory.sim.render import paint_keyframe
from videofactory.sim.validation import full_type_name, validate_prompt
from videofactory.sim.webutil import http_errors, origin_guard, reencode

__all__ = ["SimServer"]

log = logging.getLogger("videofactory.sim")

#: extra_data keys kept out of queue and history (ComfyUI's SENSITIVE_EXTRA_DATA_KEYS).
SENSITIVE_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")

#: /models answer of a stock ComfyUI (folder names; none of them holds a file here).
MODEL_FOLDERS = [
    "checkpoints",
    "configs",
    "loras",
    "vae",
    "text_encoders",
    "diffusion_models",
    "clip_vision",
    "style_models",
    "embeddings",
    "diffusers",
    "vae_approx",
    "controlnet",
    "gligen",
    "upscale_models",
    "custom_nodes",
    "hypernetworks",
    "photomaker",
    "classifiers",
    "model_patches",
    "audio_encoders",
]


class SimServer:
    """One simulated ComfyUI server (one simulated GPU).

    ``await start()`` binds and returns the URL; ``await stop()`` ends it. Both must run on
    the same event loop.
    """

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        self.folders = Folders(
            self.options.folder("output"), self.options.folder("input"), self.options.folder("temp")
        )
        self.catalog = Catalog(self.folders)
        self.hooks = FaultInjector(self, self.options.hooks)
        self.number = 0
        self.vram_used_gb = IDLE_VRAM_GB
        self.log = RequestLog()
        self.url = ""
        self.port = 0
        #: A crash kills the process (True) or only silences this server (False, in-process).
        self.crash_hard = False
        self.crashed = False
        self._runner: web.AppRunner | None = None
        self._worker: asyncio.Task[None] | None = None
        self._dying: asyncio.Task[None] | None = None
        self._ensure_example_input()

    def _ensure_example_input(self) -> None:
        # A stock ComfyUI ships input/example.png; workflow templates default to it.
        path = os.path.join(self.folders.input, "example.png")
        if not os.path.exists(path):
            Image.fromarray(paint_keyframe("example", 0, 512, 512)).save(path)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def requests(self) -> collections.deque[dict[str, Any]]:
        """The entries of GET /sim/requests."""
        return self.log.entries

    async def start(self) -> str:
        """Bind, start the worker, return ``http://host:port``."""
        if self.options.faults.slow_start_s > 0:  # fault: a slow model preload before listening
            log.info("slow start: listening in %.1f s", self.options.faults.slow_start_s)
            await asyncio.sleep(self.options.faults.slow_start_s)
        self.hub = SocketHub(self._queue_info, self._features)
        self.queue = PromptQueue(self.hub.queue_updated)
        self.executor = PromptExecutor(self.hub, self.catalog, self.options, self.hooks)
        self._runner = web.AppRunner(self._make_app(), shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        hosts = [h.strip() for h in self.options.listen.split(",") if h.strip()]
        port = self.options.port
        for i, host in enumerate(hosts):
            try:
                await web.TCPSite(self._runner, host, port).start()
            except OSError as exc:
                if i == 0:
                    await self._runner.cleanup()
                    raise
                # e.g. "::" on a host without IPv6: serve on the addresses that work
                log.warning("cannot listen on %s:%s: %s", host, port, exc)
                continue
            if port == 0:  # --port 0: every host shares the first free port found
                port = self._runner.addresses[0][1]
        self.port = port
        url_host = hosts[0] if hosts[0] not in ("0.0.0.0", "::") else "127.0.0.1"
        self.url = (
            f"http://{url_host}:{port}" if ":" not in url_host else f"http://[{url_host}]:{port}"
        )
        self.hub.start()
        self._worker = asyncio.get_running_loop().create_task(self._work())
        return self.url

    async def stop(self) -> None:
        """Stop the worker, close sockets, unbind."""
        self.executor.stopping.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- faults ------------------------------------------------------------------------------

    def drop_sockets(self) -> None:
        """Cut every websocket connection (any thread)."""
        self.hub.loop.call_soon_threadsafe(self.hub.drop_in_order)

    def wait_interrupt(self) -> None:
        """Block until /interrupt or stop (render thread)."""
        while not self.executor.interrupt.is_set() and not self.executor.stopping.wait(0.05):
            pass

    def crash(self) -> None:
        """Die abruptly (any thread): SIGKILL the process, or silence an in-process server."""
        log.warning("fault: crashing now (crash_after=%s)", self.options.faults.crash_after)
        if self.crash_hard:
            os.kill(os.getpid(), signal.SIGKILL)  # like the kernel's OOM killer: no cleanup
        self.crashed = True
        self.executor.stopping.set()
        self.hub.loop.call_soon_threadsafe(self._begin_dying)

    def _begin_dying(self) -> None:
        self._dying = self.hub.loop.create_task(self._die())

    async def _die(self) -> None:
        # From outside this must look like a killed process: nothing more is sent, the port
        # closes, and every open connection is reset.
        self.hub.stop_pump()
        self.hub.drop_all()
        if self._worker is not None:
            self._worker.cancel()
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()
            server = self._runner.server
            for conn in list(server.connections) if server is not None else []:
                if conn.transport is not None:
                    conn.transport.abort()

    # -- the worker --------------------------------------------------------------------------

    async def _work(self) -> None:
        while not self.crashed:
            got = await self.queue.get()
            if got is not None and not self.crashed:
                await self._run_item(*got)
            self._apply_flags()

    async def _run_item(self, item: tuple[Any, ...], task_id: int) -> None:
        _, prompt_id, prompt, extra_data, outputs, sensitive = item
        self.log.execution("execution_start", prompt_id)
        need = prompt_vram_gb(prompt)
        self.vram_used_gb = min(self.options.vram_gb * 0.97, IDLE_VRAM_GB + need)
        try:
            self.hooks.on_prompt_start(prompt_id, prompt, need)
            result = await self.executor.execute(
                prompt, prompt_id, {**extra_data, **sensitive}, outputs
            )
        except Exception as exc:
            # A bug here must not kill the worker: record the failure like a node error.
            log.exception("prompt %s failed outside any node", prompt_id)
            result = PromptResult(
                False,
                {},
                {},
                [
                    (
                        "execution_error",
                        {
                            "prompt_id": prompt_id,
                            "node_id": None,
                            "node_type": None,
                            "executed": [],
                            "exception_message": f"{exc}\n",
                            "exception_type": full_type_name(type(exc)),
                            "traceback": traceback.format_tb(exc.__traceback__),
                            "current_inputs": {},
                            "current_outputs": list(prompt),
                            "timestamp": int(time.time() * 1000),
                        },
                    )
                ],
            )
        finally:
            self.vram_used_gb = IDLE_VRAM_GB
        self.hooks.before_history(prompt_id, result.success)
        if self.crashed:  # died mid-prompt: no history, nothing more on the wire
            return
        status_str = "success" if result.success else "error"
        last = result.messages[-1][0] if result.messages else ""
        self.log.execution(
            "execution_end",
            prompt_id,
            "interrupted" if last == "execution_interrupted" else status_str,
            gpu_s=round(self.executor.gpu_spent, 3),
        )
        self.queue.task_done(
            task_id,
            result.outputs,
            result.meta,
            {"status_str": status_str, "completed": result.success, "messages": result.messages},
        )
        if self.hub.client_id is not None:
            self.hub.send("executing", {"node": None, "prompt_id": prompt_id}, self.hub.client_id)
        self.hooks.on_prompt_end(prompt_id, status_str)

    def _apply_flags(self) -> None:
        flags = self.queue.take_flags()
        if flags.get("free_memory"):
            self.executor.reset()

    # -- app ---------------------------------------------------------------------------------

    def _queue_info(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": self.queue.tasks_remaining()}}

    def _features(self) -> dict[str, Any]:
        return {"supports_preview_metadata": True, "max_upload_size": self.options.max_upload_bytes}

    def _make_app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.options.max_upload_bytes,
            middlewares=[self.log.middleware, origin_guard, http_errors(self.hooks.http_error)],
        )
        faults = FaultRoutes(self.hooks)
        routes: list[tuple[str, str, Any]] = [
            ("GET", "/ws", self.hub.handle),
            ("GET", "/prompt", self.get_prompt),
            ("POST", "/prompt", self.post_prompt),
            ("GET", "/queue", self.get_queue),
            ("POST", "/queue", self.post_queue),
            ("GET", "/history", self.get_history),
            ("GET", "/history/{prompt_id}", self.get_history_item),
            ("POST", "/history", self.post_history),
            ("GET", "/view", self.view),
            ("POST", "/upload/image", self.upload_image),
            ("GET", "/system_stats", self.system_stats),
            ("GET", "/features", self.features),
            ("GET", "/object_info", self.object_info),
            ("GET", "/object_info/{node_class}", self.object_info_one),
            ("POST", "/interrupt", self.interrupt),
            ("POST", "/free", self.free),
            ("GET", "/models", self.models),
            ("GET", "/models/{folder}", self.models_folder),
            ("GET", "/embeddings", self.empty_list),
            ("GET", "/extensions", self.empty_list),
            ("GET", "/sim/requests", self.log.handle),
            ("GET", "/sim/faults", faults.get),
            ("POST", "/sim/faults", faults.post),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, "/api" + path, handler)
        app.router.add_get("/", self.index)
        return app

    # -- handlers ----------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        """A one-line page so a browser shows what this is."""
        return web.Response(
            text=f"videofactory simulator ({self.options.name}, "
            f"{device_name(self.options.card)}): a ComfyUI "
            f"{COMFYUI_PROTOCOL_VERSION} API without model weights.\n"
        )

    async def get_prompt(self, request: web.Request) -> web.Response:
        """Queue size."""
        return web.json_response(self._queue_info())

    async def post_prompt(self, request: web.Request) -> web.Response:
        """Validate and queue a prompt."""
        json_data = await request.json()
        if "number" in json_data:
            number: float | int = float(json_data["number"])
        else:
            number = self.number
            if "front" in json_data and json_data["front"]:
                number = -number
            self.number += 1  # counts every POST that parsed, valid or not
        if "prompt" not in json_data:
            error = {
                "type": "no_prompt",
                "message": "No prompt provided",
                "details": "No prompt provided",
                "extra_info": {},
            }
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        prompt = json_data["prompt"]
        prompt_id = str(json_data.get("prompt_id", uuid.uuid4()))
        valid = validate_prompt(self.catalog, prompt, json_data.get("partial_execution_targets"))
        extra_data = json_data.get("extra_data", {})
        if "client_id" in json_data:
            extra_data["client_id"] = json_data["client_id"]
        if not valid.ok:
            log.info("invalid prompt: %s", valid.error)
            return web.json_response(
                {"error": valid.error, "node_errors": valid.node_errors}, status=400
            )
        sensitive = {k: extra_data.pop(k) for k in SENSITIVE_KEYS if k in extra_data}
        self.queue.put((number, prompt_id, prompt, extra_data, valid.outputs, sensitive))
        return web.json_response(
            {"prompt_id": prompt_id, "number": number, "node_errors": valid.node_errors}
        )

    async def get_queue(self, request: web.Request) -> web.Response:
        """Running and pending items."""
        running, pending = self.queue.current()
        return web.json_response({"queue_running": running, "queue_pending": pending})

    async def post_queue(self, request: web.Request) -> web.Response:
        """Delete pending items or clear the queue."""
        json_data = await request.json()
        if "clear" in json_data and json_data["clear"]:
            self.queue.wipe()
        if "delete" in json_data:
            for prompt_id in json_data["delete"]:
                self.queue.delete(prompt_id)
        return web.Response(status=200)

    async def get_history(self, request: web.Request) -> web.Response:
        """History, optionally the last N or a page."""
        query = request.rel_url.query
        max_items = int(query["max_items"]) if "max_items" in query else None
        offset = int(query["offset"]) if "offset" in query else -1
        return web.json_response(self.queue.get_history(max_items=max_items, offset=offset))

    async def get_history_item(self, request: web.Request) -> web.Response:
        """One entry, or {} while pending/running/unknown."""
        return web.json_response(self.queue.get_history(request.match_info["prompt_id"]))

    async def post_history(self, request: web.Request) -> web.Response:
        """Clear or delete history entries."""
        json_data = await request.json()
        if "clear" in json_data and json_data["clear"]:
            self.queue.wipe_history()
        if "delete" in json_data:
            for prompt_id in json_data["delete"]:
                self.queue.delete_history(prompt_id)
        return web.Response(status=200)

    async def view(self, request: web.Request) -> web.StreamResponse:
        """Serve a file of output/input/temp (Range requests work)."""
        query = dict(request.rel_url.query)
        status, path = self.folders.view_path(query)
        if status != 200 or path is None:
            return web.Response(status=status)
        filename = os.path.basename(path)
        disposition = f'filename="{filename}"'
        if "preview" in query or query.get("channel", "rgba") in ("rgb", "a"):
            body, ctype = await asyncio.to_thread(reencode, path, query)
            return web.Response(
                body=body, content_type=ctype, headers={"Content-Disposition": disposition}
            )
        return web.FileResponse(
            path,
            headers={"Content-Disposition": disposition, "Content-Type": content_type(filename)},
        )

    async def upload_image(self, request: web.Request) -> web.Response:
        """Store a file in input/ (or temp/output) with ComfyUI's rename rule."""
        post = await request.post()
        kind = post.get("type")
        if kind is not None and self.folders.by_type(str(kind)) is None:
            raise ValueError(f"unknown upload type {kind!r}")  # ComfyUI answers 500 here
        image = post.get("image")
        if not isinstance(image, web.FileField) or not image.file:
            return web.Response(status=400)
        overwrite = post.get("overwrite")
        try:
            answer = self.folders.save_upload(
                str(kind) if kind is not None else None,
                str(post.get("subfolder", "")),
                image.filename or "",
                image.file.read(),
                overwrite in ("true", "1"),
            )
        except UploadError:
            return web.Response(status=400)
        return web.json_response(answer)

    async def system_stats(self, request: web.Request) -> web.Response:
        """Versions, argv, RAM, and the simulated GPU."""
        ram_total, ram_free = ram_bytes()
        total = round(self.options.vram_gb * GIB)
        free = max(0, total - round(self.vram_used_gb * GIB))
        return web.json_response(
            {
                "system": {
                    "os": os.name,
                    "ram_total": ram_total,
                    "ram_free": ram_free,
                    "comfyui_version": COMFYUI_PROTOCOL_VERSION,
                    "required_frontend_version": "1.27.10",
                    "installed_templates_version": "0.1.95",
                    "required_templates_version": "0.1.95",
                    "python_version": sys.version,
                    "pytorch_version": "none (videofactory simulator)",
                    "embedded_python": False,
                    "argv": self.options.real_argv,
                },
                "devices": [
                    {
                        # ComfyUI --cpu: the device is the CPU and its "VRAM" is the RAM.
                        "name": device_name(self.options.card, cpu=self.options.cpu),
                        "type": "cpu" if self.options.cpu else "cuda",
                        "index": None if self.options.cpu else 0,
                        "vram_total": total,
                        "vram_free": free,
                        "torch_vram_total": total,
                        "torch_vram_free": free,
                    }
                ],
            }
        )

    async def features(self, request: web.Request) -> web.Response:
        """Server feature flags."""
        return web.json_response(self._features())

    async def object_info(self, request: web.Request) -> web.Response:
        """Every node class."""
        return web.json_response(self.catalog.all())

    async def object_info_one(self, request: web.Request) -> web.Response:
        """One node class, or {}."""
        name = request.match_info["node_class"]
        return web.json_response({name: self.catalog.info(name)} if name in self.catalog else {})

    async def interrupt(self, request: web.Request) -> web.Response:
        """Interrupt the running prompt (only that id, when one is given)."""
        try:
            json_data = await request.json()
        except json.JSONDecodeError:
            json_data = {}
        prompt_id = json_data.get("prompt_id")
        if not prompt_id or prompt_id in self.queue.running_ids():
            self.executor.interrupt.set()
        else:
            log.info("prompt %s is not running; interrupt ignored", prompt_id)
        return web.Response(status=200)

    async def free(self, request: web.Request) -> web.Response:
        """Set unload/free flags; the worker acts on them between prompts."""
        json_data = await request.json()
        for flag in ("unload_models", "free_memory"):
            if json_data.get(flag, False):
                self.queue.set_flag(flag, json_data[flag])
        return web.Response(status=200)

    async def models(self, request: web.Request) -> web.Response:
        """Model folder names."""
        return web.json_response(MODEL_FOLDERS)

    async def models_folder(self, request: web.Request) -> web.Response:
        """Files of a model folder: always none here; unknown folder 404."""
        if request.match_info["folder"] not in MODEL_FOLDERS:
            return web.Response(status=404)
        return web.json_response([])

    async def empty_list(self, request: web.Request) -> web.Response:
        """/embeddings and /extensions: nothing installed."""
        return web.json_response([])
