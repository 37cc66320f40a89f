"""Shared data for the data-rights tests (importable; conftest holds the fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bastion.agent.runner import RunOptions, run_task
from bastion.runtime import Runtime
from helpers import write_script

API_KEY = "sk-proj-" + "Zx9Qw7Er5Ty3" * 4


def make_session(workspace: Path, tmp_path: Path, name: str, turns: list[dict[str, Any]]) -> str:
    """A real agent session with the replay provider, in-process (a subprocess per session
    would make these tests slow; the CLI path is covered by the export and delete tests)."""
    script = write_script(tmp_path / f"{name}.jsonl", turns)
    with Runtime.open() as rt:
        result = run_task(rt, RunOptions(task=f"task {name}", workspace=workspace,
                                         provider="replay", script=script, approve="auto"))
    return result.session_id
