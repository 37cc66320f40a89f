"""Fixtures for the audit tests: an opened runtime and a log with a few sessions in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bastion.runtime import Runtime


def write_settings(home: Path, settings: dict[str, Any]) -> None:
    (home / "settings.json").write_text(json.dumps(settings))


def fill(rt: Runtime, n: int = 12) -> None:
    """Records from two sessions, then a checkpoint (as a finished session leaves it)."""
    for i in range(n):
        session = "sess-a" if i % 2 == 0 else "sess-b"
        rt.audit.record("tool", "call", {"name": "read_file", "arguments": {"path": f"f{i}.txt"}},
                        session_id=session)
    rt.audit.checkpoint()


@pytest.fixture
def rt(bastion_home: Path) -> Iterator[Runtime]:
    runtime = Runtime.open()
    try:
        yield runtime
    finally:
        runtime.close()


def reopen(rt: Runtime) -> Runtime:
    rt.close()
    return Runtime.open()
