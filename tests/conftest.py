"""Shared fixtures: every test gets its own BASTION_HOME, passphrase and no real keychain."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.journal import Journal
from bastion.policy import Policy
from bastion.store import Database
from bastion.tools import ToolContext
from helpers import PASSPHRASE


@pytest.fixture(autouse=True)
def bastion_home(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("bastion-home")
    monkeypatch.setenv("BASTION_HOME", str(home))
    monkeypatch.setenv("BASTION_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("BASTION_TELEMETRY_DISABLED", "1")
    # Never touch a developer's real keychain; tests that need a backend set their own.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    yield home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "README.md").write_text("# demo\n")
    (ws / "src").mkdir()
    (ws / "src" / "app.py").write_text("print('hello')\n")
    return ws




@pytest.fixture
def journal(bastion_home: Path) -> Iterator[Journal]:
    """A journal on a throwaway encrypted database (policy, journal and tool tests)."""
    db = Database(bastion_home / "test.db", os.urandom(32))
    yield Journal(db, bastion_home, os.urandom(32))
    db.close()


@pytest.fixture
def ctx(workspace: Path, journal: Journal) -> ToolContext:
    return ToolContext(workspace=workspace, policy=Policy(workspace), session_id="s1",
                       extras={"journal": journal})
