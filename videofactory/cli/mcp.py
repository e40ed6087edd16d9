"""``videofactory mcp``: the factory's tools for an agent over the Model Context Protocol.

The server is ``videofactory.mcpserver``; this command only reads its options and starts it
(imported when run, not for ``--help``: the SDK and its web stack take a while to load).
"""

from __future__ import annotations

from pathlib import Path

import typer

from videofactory.cli.options import WORKDIR_OPT, example

__all__ = ["MCP_EPILOG", "mcp_command"]

MCP_EPILOG = example("videofactory mcp --workdir ~/films/runs")


def mcp_command(
    http: int | None = typer.Option(
        None,
        "--http",
        min=1,
        max=65535,
        metavar="PORT",
        help="Serve streamable HTTP at http://127.0.0.1:PORT/mcp (this machine only) instead "
        "of stdio.",
    ),
    farm: str | None = typer.Option(
        None,
        "--farm",
        help="Farm file the tools use when a call names none (default: $VIDEOFACTORY_FARM, "
        "then ./factory.yaml, else the built-in simulated farm).",
    ),
    workdir: Path = WORKDIR_OPT,
) -> None:
    """Serve the factory as MCP tools to an agent (Claude Desktop, Claude Code, any MCP client).

    \b
    Tools: farm_status, plan, render (returns a run id at once; a background process
    renders), run_status, wait (bounded), show_shot (a keyframe or a clip's frame as an
    image), redo, cancel, assemble, list_runs. By default it speaks MCP on stdin/stdout: an
    MCP client starts it as a subprocess. With --http PORT it serves streamable HTTP on
    127.0.0.1. Errors come back as tool errors; the server goes on.

    \b
    Claude Code: claude mcp add videofactory -- videofactory mcp --workdir ~/films/runs
    Claude Desktop and other clients: README.md, "Use it from an MCP client".
    """
    from videofactory.cli.options import state
    from videofactory.mcpserver.server import serve
    from videofactory.mcpserver.tools import Defaults
    from videofactory.store import check_workdir

    defaults = Defaults(
        workdir=check_workdir(workdir).expanduser().absolute(),
        farm=str(Path(farm).expanduser().absolute()) if farm else None,
        debug=bool(state["debug"]),
    )
    serve(defaults, http_port=http)
