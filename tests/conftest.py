"""Fixtures every test folder may use (helpers to import: subprocs.py, runkit.py, standins.py);
no test sees the developer's own LLM settings or keys."""

from __future__ import annotations

import os

import pytest
from subprocs import run_cli

#: Real small media (ffmpeg_bin, media, rms_of, boxes_of, a finished run) for any folder.
pytest_plugins = ["mediakit"]


def pytest_xdist_auto_num_workers(config) -> int:
    """Workers for ``-n auto`` (pyproject's addopts): one per core, at least 3 (most tests
    wait on subprocesses, servers and ffmpeg, so two cores keep three busy: the suite took
    10 minutes with 3 workers on 2 cores against 16 with one), at most 8 (each farm test
    starts several processes of its own)."""
    return min(max(os.cpu_count() or 1, 3), 8)


@pytest.fixture
def cli(tmp_path):
    """Call the CLI with the test's scratch folder as working directory."""

    def call(*args, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(list(args), **kw)

    return call


@pytest.fixture(autouse=True)
def _clean_llm_env(monkeypatch):
    """No test sees the developer's own LLM settings or keys."""
    for name in list(os.environ):
        if name.startswith("VIDEOFACTORY_LLM_") or name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
            monkeypatch.delenv(name)
