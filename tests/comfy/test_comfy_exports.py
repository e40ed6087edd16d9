"""The adapter's public API: everything in __all__ exists and has a one-line docstring."""

from __future__ import annotations

import importlib
import pkgutil

import videofactory.comfy as comfy


def test_exports_exist_and_are_documented():
    for name in comfy.__all__:
        obj = getattr(comfy, name)
        assert (obj.__doc__ or "").strip(), name
    for mod in pkgutil.iter_modules(comfy.__path__):
        module = importlib.import_module(f"videofactory.comfy.{mod.name}")
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), (mod.name, name)
