"""JSON that Bastion did not write (remote sync objects, external audit files, files in the
data directory another program can edit) may be nested beyond the interpreter's recursion
limit: each reader refuses it the way it refuses other malformed JSON, never with an internal
RecursionError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion import jsonsafe
from bastion.policy import TrustStore
from helpers import run_bastion

DEEP = "[" * 100_000 + "]" * 100_000


def test_loads_turns_too_deep_into_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        jsonsafe.loads(DEEP)
    with pytest.raises(ValueError):
        jsonsafe.loads(DEEP.encode())
    assert jsonsafe.loads('{"a": [1]}') == {"a": [1]}


def test_a_tampered_sync_registry_is_refused(tmp_path: Path) -> None:
    from bastion.sync import SyncIntegrityError
    from bastion.sync.registry import ENVELOPE, decode_registry

    with pytest.raises(SyncIntegrityError, match="malformed or was modified"):
        decode_registry(None, "registry", ENVELOPE + DEEP.encode())  # type: ignore[arg-type]


def test_audit_verify_of_a_hostile_file_is_one_clear_line(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text(DEEP + "\n")
    env = {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}
    done = run_bastion("audit", "verify", "--file", log, env=env)
    assert done.returncode != 0
    assert "internal error" not in done.stderr.lower() and "Traceback" not in done.stderr


def test_a_damaged_trust_store_is_a_clear_error(tmp_path: Path) -> None:
    from bastion.policy.trust import TrustError

    project = tmp_path / "project"
    (project / ".bastion").mkdir(parents=True)
    (project / ".bastion" / "settings.json").write_text("{}")
    store = TrustStore(tmp_path / "home")
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(DEEP)
    with pytest.raises(TrustError, match="unreadable trust store"):
        store.is_trusted(project)
