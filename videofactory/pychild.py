"""Python children of videofactory's own, started so that the user's folder is never code.

``python -m videofactory ...`` puts the current directory first on ``sys.path``: a ``json.py``
or ``concurrent.py`` in the folder someone runs videofactory from would be imported instead of
the standard library's, and the child would crash, or run that file. So every Python child
videofactory starts (the built-in farm's simulated servers, the ``--detach`` background
process, the farm launcher's supervisor) runs with ``-P`` (Python 3.11+: prepend nothing),
and finds videofactory itself through ``PYTHONPATH`` when it is not installed.

Not ``-I``: isolated mode would also drop ``PYTHONPATH`` and the user's site-packages, where a
source checkout or a ``pip install --user`` puts videofactory (and its dependencies).
"""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Mapping
from pathlib import Path

import videofactory

__all__ = ["child_env", "python_module"]


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m MODULE ARGS`` with this interpreter, safely."""
    return [sys.executable, "-P", "-m", module, *args]


def _site_dirs() -> set[Path]:
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    return {Path(d).resolve() for d in dirs}


def child_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a Python child: ours (or ``base``) plus ``extra``, and ``PYTHONPATH``
    made to find this very videofactory and nothing from the current directory.

    The folder holding the package goes first unless it is a site-packages folder the child
    searches anyway (putting site-packages before the standard library would let a package
    there shadow it). Empty entries are dropped: Python reads one as the current directory,
    and ``PYTHONPATH=$PYTHONPATH:/x`` with PYTHONPATH unset makes one by accident.
    """
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    entries = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    root = Path(videofactory.__file__).resolve().parents[1]
    if root not in _site_dirs() and str(root) not in entries:
        entries.insert(0, str(root))
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    else:
        env.pop("PYTHONPATH", None)
    return env
