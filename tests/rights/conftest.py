"""Fixtures for the data-rights tests: a home with sessions, journal pre-images and a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.runtime import Runtime
from rights.rights_data import API_KEY, make_session


@pytest.fixture
def populated(workspace: Path, tmp_path: Path) -> dict[str, str]:
    """Two sessions: one that edits a file (a journal pre-image), one that only reads."""
    with Runtime.open() as rt:
        rt.api_keys.set("openai", API_KEY)
    editor = make_session(workspace, tmp_path, "editor", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "README.md"}}]},
        {"content": "", "tool_calls": [{"name": "edit_file", "arguments": {
            "path": "README.md", "old_text": "# demo", "new_text": "# edited demo"}}]},
        {"content": "edited"},
    ])
    reader = make_session(workspace, tmp_path, "reader", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "it prints hello"},
    ])
    return {"editor": editor, "reader": reader}
