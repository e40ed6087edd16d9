"""The ``videofactory`` command: every command module, thin over the core.

``app.py`` holds the Typer app and the run commands (plan, generate, render, resume, show ...);
``runs.py`` the commands that watch or follow a run (wait, logs, report); ``farm.py`` status and
test; ``launcher.py`` the ``farm`` group (up, down, status); ``sim.py`` the simulator;
``assemble.py`` re-assembling a run; ``options.py`` the shared options, output and the error
decorator that turns a ``FactoryError`` into one line and a non-zero exit.
"""

from videofactory.cli.app import app, main

__all__ = ["app", "main"]
