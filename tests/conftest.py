"""Shared fixtures: every test gets its own BASTION_HOME, passphrase and no real keychain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


