"""Fixtures every test folder may use (helpers to import are in subprocs.py)."""

from __future__ import annotations

import pytest
from subprocs import run_cli


@pytest.fixture
def cli(tmp_path):
    """Call the CLI with the test's scratch folder as working directory."""

    def call(*args, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(list(args), **kw)

    return call
