"""Fixtures for the audit tests: an opened runtime and a log with a few sessions in it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bastion.audit import AuditLog
from bastion.config import Settings
from bastion.store import Database
from bastion.vault import Vault


def write_settings(home: Path, settings: dict[str, Any]) -> None:
    (home / "settings.json").write_text(json.dumps(settings))


@dataclass
class Light:
    """The parts of a Runtime the log needs, without the passphrase KDF of a real unlock
    (a few hundred ms per open adds up over dozens of tests)."""

    home: Path
    vault: Vault
    db: Database
    settings: Settings
    audit: AuditLog

    def close(self) -> None:
        self.audit.close()
        self.db.close()


def open_light(home: Path, master: bytes) -> Light:
    path = home / "settings.json"
    settings = Settings.model_validate(json.loads(path.read_text()) if path.exists() else {})
    vault = Vault(home, master, "passphrase")
    db = Database(home / "bastion.db", vault.subkey("database"))
    return Light(home, vault, db, settings, AuditLog(db, vault, settings))


@pytest.fixture
def master() -> bytes:
    return os.urandom(32)


def fill(rt: Light, n: int = 12) -> None:
    """Records from two sessions, then a checkpoint (as a finished session leaves it)."""
    for i in range(n):
        session = "sess-a" if i % 2 == 0 else "sess-b"
        rt.audit.record("tool", "call", {"name": "read_file", "arguments": {"path": f"f{i}.txt"}},
                        session_id=session)
    rt.audit.checkpoint()


@pytest.fixture
def rt(bastion_home: Path, master: bytes) -> Iterator[Light]:
    light = open_light(bastion_home, master)
    try:
        yield light
    finally:
        light.close()


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(*args: object, input: str | None = None) -> CliResult:
    """Run a ``bastion`` command in this process (a subprocess costs a second of imports),
    mapping errors to exit codes and one stderr line the way ``bastion.cli.main`` does."""
    from typer.testing import CliRunner

    from bastion.cli._app import app
    from bastion.errors import BastionError

    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    code, stderr = result.exit_code, result.stderr
    exc = result.exception
    if isinstance(exc, BastionError):
        code, stderr = exc.exit_code, stderr + f"error: {exc.message}\n"
    elif exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return CliResult(code, result.stdout, stderr)
