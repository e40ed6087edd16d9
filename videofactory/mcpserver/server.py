"""The MCP server: the factory's tools for an agent, on the official ``mcp`` SDK (``MCPServer``).

Every tool's arguments are typed and bounded in its input schema (the SDK validates them);
what the factory refuses (a FactoryError: no such run, a bad shot list, an unreachable farm)
comes back as a tool error with its one line, like the CLI's ``error:`` line. Neither ends the
server: the next call is served as usual. The tools' work is in ``tools``; this module only
describes them to the client and translates errors.

Adding a tool after a merge is a few lines in ``build_server`` (see "more tools" there).
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ImageContent, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from videofactory import __version__
from videofactory.errors import ConfigError, FactoryError
from videofactory.mcpserver import tools
from videofactory.mcpserver.tools import Defaults

__all__ = ["SERVER_NAME", "build_server", "serve"]

SERVER_NAME = "videofactory"
#: The longest a ``wait`` call may wait: MCP clients give up on a request after a minute or
#: a few; a longer run is waited for by calling ``wait`` again.
MAX_WAIT_S = 300.0

INSTRUCTIONS = """\
videofactory makes videos: a concept -> a shot list (plan) -> keyframes, clips and hero passes
on a farm of ComfyUI servers -> narration -> an FFmpeg assembly (final.mp4).
Typical loop: farm_status; plan(concept, duration) -> a shot list (edit it if you like);
render(shotlist) -> a run id at once; wait(run) until finished (call again while it is not);
show_shot(run, shot) to look at a shot (take=N: one take's clip, when rendered with takes);
pick(run, shot, take) to choose the take the film uses; redo(run, shot, prompt=...) to change
one shot (a new run that reuses everything else); assemble(run, ...) for another cut
(transition, music, aspect); cancel(run) to stop one. With no farm file the built-in
simulated farm renders.
"""

# -- argument types: what the schemas say ---------------------------------------------------------

RunArg = Annotated[
    str, Field(min_length=1, max_length=200, description="Run id (a unique prefix is enough).")
]
ShotArg = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Shot id, e.g. s03 (run_status lists them).",
    ),
]
WorkdirArg = Annotated[
    str | None,
    Field(
        max_length=4000,
        description="Folder of runs and of the run database (default: the server's, ./runs).",
    ),
]
FarmArg = Annotated[
    str | None,
    Field(
        max_length=4000,
        description="Farm file (default: the server's, $VIDEOFACTORY_FARM, ./factory.yaml, "
        "else the built-in simulated farm).",
    ),
]
AspectArg = Annotated[
    str | None,
    Field(
        max_length=20,
        description="Frame shape, e.g. 16:9, 9:16 (vertical: 720x1280) or 1:1.",
    ),
]


# -- errors ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def answers() -> Iterator[None]:
    """A FactoryError (or an OS error: a folder that cannot be written) as a tool error with
    its one line; anything else is the SDK's: logged with its traceback, the call answered
    with an error, the server going on."""
    try:
        yield
    except FactoryError as exc:
        raise ToolError(" ".join(str(exc).split())) from exc
    except OSError as exc:
        raise ToolError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from exc


def _invalid(exc: ValidationError) -> str:
    """Arguments that fail the schema, in one line: each field, what is wrong, what was
    given (``duration: Input should be greater than 0 (got -5)``)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        given = error.get("input")
        shown = "" if isinstance(given, dict) else f" (got {json.dumps(given, default=str)[:80]})"
        parts.append(f"{where}: {error['msg']}{shown}")
    return "invalid arguments: " + "; ".join(parts)


class FactoryServer(MCPServer):
    """``MCPServer`` whose argument errors read as one line naming each field."""

    async def call_tool(self, name: str, arguments: dict[str, Any], *args: Any, **kw: Any) -> Any:
        try:
            return await super().call_tool(name, arguments, *args, **kw)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and cause.title.endswith("Arguments"):
                raise ToolError(f"{name}: {_invalid(cause)}") from cause
            raise


# -- the tools ------------------------------------------------------------------------------------


def build_server(defaults: Defaults) -> MCPServer:
    """The server with every tool, using ``defaults`` where a call names no workdir or farm."""
    server = FactoryServer(
        SERVER_NAME,
        title="videofactory",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=read_only)
    def farm_status(farm: FarmArg = None) -> dict[str, Any]:
        """The farm: each GPU server's card, roles, URL, reachability, memory and queue, the
        task kinds it refuses, and the kinds no server can run (``impossible``). The built-in
        simulated farm is described, not started."""
        with answers():
            return tools.farm_status(defaults, farm)

    @server.tool(annotations=read_only)
    def plan(
        concept: Annotated[
            str, Field(min_length=1, max_length=2000, description="What the video is about.")
        ],  # fmt: skip
        duration: Annotated[float, Field(gt=0, le=3600, description="Length in seconds.")] = 30.0,
        aspect: AspectArg = None,
        width: Annotated[int | None, Field(ge=16, le=8192)] = None,
        height: Annotated[int | None, Field(ge=16, le=8192)] = None,
        fps: Annotated[int, Field(ge=1, le=120)] = 24,
        seed: Annotated[int, Field(ge=0, le=2**63 - 1, description="Same seed, same plan.")] = 0,
        clip_seconds: Annotated[
            float | None, Field(gt=0, le=60, description="Length of one generated clip.")
        ] = None,
        planner: Literal["auto", "llm", "rules"] = "auto",
        style: Annotated[str | None, Field(max_length=1000, description="The film's look.")] = None,
        transition: Literal["auto", "cut", "crossfade"] = "auto",
        farm: FarmArg = None,
    ) -> dict[str, Any]:
        """Plan a shot list for a concept (nothing is rendered): the run-level fields and the
        shots (id, duration, prompt, narration, camera, hero, transition...). Edit it and pass
        it to render as ``shotlist``. The format is docs/shotlist.md."""
        with answers():
            return tools.plan(
                defaults, concept, duration, aspect=aspect, width=width, height=height, fps=fps,
                seed=seed, clip_seconds=clip_seconds, planner=planner, style=style,
                transition=transition, farm=farm,
            )  # fmt: skip

    @server.tool()
    def render(
        shotlist: Annotated[
            dict[str, Any] | None,
            Field(description="The shot list as plan returns it (maybe edited)."),
        ] = None,
        shotlist_file: Annotated[
            str | None, Field(max_length=4000, description="Or a shot list YAML file's path.")
        ] = None,
        assemble: Annotated[
            bool, Field(description="False: render and speak every shot, stop before FFmpeg.")
        ] = True,
        music: Annotated[
            str | None,
            Field(
                max_length=4000,
                description="An audio file, or 'none' (default: a bed made for the film).",
            ),
        ] = None,  # fmt: skip
        fresh: Annotated[
            bool, Field(description="Render every task, reusing nothing from the cache.")
        ] = False,
        aspect: AspectArg = None,
        style: Annotated[str | None, Field(max_length=1000)] = None,
        transition: Annotated[str | None, Field(max_length=40)] = None,
        preview: Annotated[
            bool,
            Field(
                description="Keyframes only, assembled into an animatic (preview.mp4) in "
                "seconds, to judge the plan; a later render of it reuses the keyframes."
            ),
        ] = False,
        takes: Annotated[
            int | None,
            Field(ge=1, le=8, description="Clips per shot to choose from (pick)."),
        ] = None,
        workdir: WorkdirArg = None,
        farm: FarmArg = None,
    ) -> dict[str, Any]:
        """Start rendering a shot list; returns at once with the run id (``state``
        starting). A background process renders it and survives this server. Follow it with
        wait or run_status. Unchanged tasks come from the work directory's artifact cache.
        A shot's reference_image in ``shotlist`` is best an absolute path (a relative one is
        read from the server's folder; in ``shotlist_file``, from the file's)."""
        with answers():
            return tools.render(
                defaults, shotlist=shotlist, shotlist_file=shotlist_file, workdir=workdir,
                farm=farm, assemble=assemble, music=music, fresh=fresh, aspect=aspect,
                style=style, transition=transition, preview=preview, takes=takes,
            )  # fmt: skip

    @server.tool(annotations=read_only)
    def run_status(run: RunArg, workdir: WorkdirArg = None) -> dict[str, Any]:
        """Where a run stands now: state (starting, running, stopped, done, rendered, failed,
        cancelled), tasks done of total, jobs in flight, an ETA, each shot's tasks and files,
        and, once it ended, its result (final video, duration, size)."""
        with answers():
            return tools.run_status(defaults, run, workdir)

    @server.tool(annotations=read_only)
    def wait(
        run: RunArg,
        timeout_s: Annotated[
            float,
            Field(ge=0, le=MAX_WAIT_S, description="Return after this many seconds at most."),
        ] = 60.0,
        workdir: WorkdirArg = None,
    ) -> dict[str, Any]:
        """Wait for a run to end, at most timeout_s seconds; returns its state either way
        (``finished`` false, ``timed_out`` true: it goes on, call wait again)."""
        with answers():
            return tools.wait(defaults, run, timeout_s, workdir)

    @server.tool(annotations=read_only, structured_output=False)
    def show_shot(
        run: RunArg,
        shot: ShotArg,
        source: Annotated[
            Literal["auto", "keyframe", "clip", "hero"],
            Field(description="auto: the hero pass, else the clip, else the keyframe."),
        ] = "auto",
        at_s: Annotated[
            float | None,
            Field(ge=0, le=3600, description="Seconds into the clip (default: its middle)."),
        ] = None,
        max_side: Annotated[int, Field(ge=64, le=4096)] = 1024,
        take: Annotated[
            int | None,
            Field(ge=1, le=8, description="A take's clip (a run rendered with takes)."),
        ] = None,
        workdir: WorkdirArg = None,
    ) -> list[ImageContent | TextContent]:
        """Look at one shot of a run: its keyframe, or a frame of its clip or hero pass, as an
        image, with a line saying which file and time it shows."""
        with answers():
            data, mime, info = tools.shot_picture(
                defaults, run, shot, source=source, at_s=at_s, max_side=max_side,
                take=take, workdir=workdir,
            )  # fmt: skip
        return [
            ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime),
            TextContent(type="text", text=json.dumps(info)),
        ]

    @server.tool()
    def redo(
        run: RunArg,
        shot: ShotArg,
        prompt: Annotated[str | None, Field(min_length=1, max_length=4000)] = None,
        seed: Annotated[int | None, Field(ge=0, le=2**63 - 1)] = None,
        duration: Annotated[float | None, Field(gt=0, le=600)] = None,
        workdir: WorkdirArg = None,
        farm: Annotated[
            str | None,
            Field(max_length=4000, description="Farm file instead of the one the run recorded."),
        ] = None,
    ) -> dict[str, Any]:
        """Render one shot of a run again, edited, as a new run (started in the background;
        returns its id at once): only that shot and what depends on it render, the rest comes
        from the cache, the video is assembled anew. No prompt, seed or duration: a new seed."""
        with answers():
            return tools.redo(
                defaults, run, shot, prompt=prompt, seed=seed, duration=duration,
                workdir=workdir, farm=farm,
            )  # fmt: skip

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, open_world_hint=False))
    def cancel(run: RunArg, workdir: WorkdirArg = None) -> dict[str, Any]:
        """Cancel a run: its running jobs interrupted, its queued ones taken off the servers,
        its process stopped. What finished is kept (resume goes on from there)."""
        with answers():
            return tools.cancel(defaults, run, workdir)

    @server.tool()
    def assemble(
        run: RunArg,
        transition: Annotated[
            str | None,
            Field(
                max_length=40,
                description="One transition for every shot: cut, crossfade, "
                "fadeblack or an ffmpeg xfade name (default: each shot's own).",
            ),
        ] = None,  # fmt: skip
        transition_seconds: Annotated[float, Field(gt=0, le=10)] = 0.5,
        music: Annotated[
            str | None, Field(max_length=4000, description="An audio file, 'none' or 'auto'.")
        ] = None,
        aspect: AspectArg = None,
        resolution: Annotated[
            Literal["480p", "720p", "1080p", "4K"] | None, Field(description="Resolution preset.")
        ] = None,
        reframe: Literal["follow", "center", "pad"] = "follow",
        burn_subtitles: bool = False,
        workdir: WorkdirArg = None,
    ) -> dict[str, Any]:
        """Assemble a finished run again with other settings as a new version of the video
        (final.v2.mp4, then v3...); no GPU work. Returns when the file is made."""
        with answers():
            return tools.assemble(
                defaults, run, workdir, transition=transition,
                transition_seconds=transition_seconds, music=music, aspect=aspect,
                resolution=resolution, reframe=reframe, burn_subtitles=burn_subtitles,
            )  # fmt: skip

    @server.tool(annotations=read_only)
    def list_runs(workdir: WorkdirArg = None) -> dict[str, Any]:
        """The runs of the work directory, newest first: id, state, concept, final video."""
        with answers():
            return {"runs": tools.list_runs(defaults, workdir)}

    @server.tool()
    def pick(
        run: RunArg,
        shot: ShotArg,
        take: Annotated[int, Field(ge=1, le=8, description="The take the film uses (1 ...).")],
        hero: Annotated[
            bool, Field(description="Also give this take a hero pass (renders it on the farm).")
        ] = False,
        workdir: WorkdirArg = None,
        farm: Annotated[
            str | None,
            Field(max_length=4000, description="Farm file instead of the one the run recorded."),
        ] = None,
    ) -> dict[str, Any]:
        """Choose the take of a shot the film uses (a run rendered with takes): the run is
        re-assembled in place as its next version (final.v2.mp4 ...), rendering nothing but the
        hero pass the pick needs. With no hero pass to render it returns with the new video;
        with one, at once (detached: true): the pass renders in the background, follow it
        with wait(run). On a run still rendering the pick is recorded (pending: true) and its
        video uses it, unless it would move a hero pass (then wait for the run first)."""
        with answers():
            return tools.pick(defaults, run, shot, take, hero=hero, workdir=workdir, farm=farm)

    return server


def serve(defaults: Defaults, *, http_port: int | None = None) -> None:
    """Serve on stdio (the client starts this process), or on streamable HTTP at
    ``http://127.0.0.1:PORT/mcp`` (only this machine can reach it)."""
    import anyio

    server = build_server(defaults)
    if http_port is None:
        if sys.stdin.isatty():  # a person, not a client: say what this is (on stderr)
            print(
                "videofactory MCP server on stdio: an MCP client starts this command and talks "
                "to it (README: 'Use it from an MCP client'); Ctrl-C stops it",
                file=sys.stderr,
            )
        anyio.run(server.run_stdio_async)
        return
    _check_port(http_port)
    url = f"http://127.0.0.1:{http_port}/mcp"
    print(f"videofactory MCP server on {url} (work directory {defaults.workdir})", file=sys.stderr)
    anyio.run(lambda: server.run_streamable_http_async(host="127.0.0.1", port=http_port))


def _check_port(port: int) -> None:
    """Refuse a port another program holds, in one line, before the web server starts."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}; pass --http another port"
            ) from exc
