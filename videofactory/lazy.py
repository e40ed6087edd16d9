"""Names a package re-exports, imported from their modules on first use.

Importing any module of a package runs the package's ``__init__`` first: one that imported
all its modules would make ``import videofactory.presets`` (a table of sizes) load
PyAV and Pillow, and ``videofactory --help`` load the simulator. So a package lists where
each public name lives and lets this module's ``__getattr__`` fetch it when asked for.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for the names in ``homes``.

    ``homes`` maps each name to the submodule that defines it (``{"Timeline": "timeline"}``).
    The first look-up imports it and keeps it in the package (``namespace``, its
    ``globals()``), so later ones cost a dict look-up.

    Usage, at the end of a package's ``__init__.py`` (``from videofactory import lazy``)::

        __getattr__, __dir__ = lazy.exports(globals(), _HOMES)

    A name that is also the name of one of the package's modules (``assembly.probe``) cannot
    wait: importing that module puts the module in the package under its name, and
    ``__getattr__`` is never asked. Import such a name in the ``__init__`` itself.
    """
    package = namespace["__name__"]
    modules = {
        entry.name.removesuffix(".py")
        for folder in namespace["__path__"]
        for entry in os.scandir(folder)
        if entry.name.endswith(".py") or entry.is_dir()
    }
    shadowed = sorted(modules.intersection(homes))
    if shadowed:  # a mistake of the package's author: said at once, not in a later import
        raise ValueError(f"{package}: import {', '.join(shadowed)} in its __init__ itself")

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
