"""The MCP server's error lines and the cancel a starting background run must honour: pure,
no server (the server itself: test_mcpserver_client.py)."""

from __future__ import annotations

import json
import os
import time

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, ValidationError

from videofactory.detach import DETACHED_FILE, cancelled_since_start
from videofactory.errors import ShotListError
from videofactory.mcpserver.server import _invalid, answers

pytestmark = pytest.mark.core


class _Arguments(BaseModel):
    duration: float = Field(gt=0)
    shots: list[str]


def test_bad_arguments_read_as_one_line_naming_each_field_and_what_was_given():
    with pytest.raises(ValidationError) as caught:
        _Arguments.model_validate({"duration": -5})
    line = _invalid(caught.value)
    assert line == (
        "invalid arguments: duration: Input should be greater than 0 (got -5); "
        "shots: Field required"
    )


def test_a_factory_error_is_a_tool_error_of_one_line_and_other_errors_pass_through():
    with pytest.raises(ToolError) as caught, answers():
        raise ShotListError("shotlist: shots.0.duration:\n  must be positive")
    assert str(caught.value) == "shotlist: shots.0.duration: must be positive"
    assert isinstance(caught.value.__cause__, ShotListError)
    with pytest.raises(ToolError, match=r"No such file or directory: /nowhere"), answers():
        raise FileNotFoundError(2, "No such file or directory", "/nowhere")
    with pytest.raises(KeyError), answers():  # a bug is the SDK's to log, not ours to word
        raise KeyError("x")


def test_a_cancel_after_the_background_process_started_stands(tmp_path):
    def started(at: float, pid: int = os.getpid()) -> None:
        record = {"run_id": "r", "pid": pid, "log": "", "argv": [], "started_at": at}
        (tmp_path / DETACHED_FILE).write_text(json.dumps(record))

    now = time.time()
    started(now - 5)
    cancelled = {"state": "cancelled", "updated_at": now}
    assert cancelled_since_start(cancelled, tmp_path)
    # not cancelled, or cancelled before this process was started (a resume of a cancelled
    # run), or another process's record, or none: the run goes on
    assert not cancelled_since_start({"state": "pending", "updated_at": now}, tmp_path)
    started(now + 5)
    assert not cancelled_since_start(cancelled, tmp_path)
    started(now - 5, pid=os.getpid() + 1)
    assert not cancelled_since_start(cancelled, tmp_path)
    (tmp_path / DETACHED_FILE).unlink()
    assert not cancelled_since_start(cancelled, tmp_path)
