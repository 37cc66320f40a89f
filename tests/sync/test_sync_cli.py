"""The sync commands end to end through a folder: recovery file, export, conflicts, audit."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from bastion.sync import FolderBackend, SyncConflict
from helpers import PASSPHRASE, run_bastion

RECOVERY = {"BASTION_RECOVERY_PASSPHRASE": "recovery passphrase 123"}


def _env(home: Path) -> dict[str, str]:
    return {"BASTION_HOME": str(home), "BASTION_PASSPHRASE": PASSPHRASE, **RECOVERY}


def test_recovery_file_export_and_audit(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    a, b = _env(tmp_path / "a"), _env(tmp_path / "b")
    rec = tmp_path / "recovery.age"
    r = run_bastion("sync", "init", "--folder", str(remote), "--recovery-file", str(rec),
                    "--json", env=a)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pairing_code"].startswith("BSYNC-")
    text = rec.read_text()
    assert "space" not in text and bytes.fromhex(text)[:21] == b"age-encryption.org/v1"

    # wrong passphrase: one clear line, nothing joined
    bad = {**b, "BASTION_RECOVERY_PASSPHRASE": "not the right one"}
    r = run_bastion("sync", "join", "--recovery-file", str(rec), "--folder", str(remote), env=bad)
    assert r.returncode == 1 and "wrong passphrase" in r.stderr
    r = run_bastion("sync", "join", "--recovery-file", str(rec), "--folder", str(remote),
                    "--json", env=b)
    assert r.returncode == 0, r.stderr
    r = run_bastion("sync", "devices", "--json", env=b)
    assert len(json.loads(r.stdout)) == 2

    # export carries the sync location, never a key or the pairing material
    out = tmp_path / "export.zip"
    r = run_bastion("export", "--out", str(out), env=a)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as zf:
        settings = json.loads(zf.read("settings.json"))
        everything = b"".join(zf.read(n) for n in zf.namelist())
    assert settings["sync"]["backend"] == "folder"
    assert b"private_key" not in everything and b"sync_config" not in everything

    # every sync is audited
    assert run_bastion("sync", "now", env=a).returncode == 0
    audit = run_bastion("audit", "export", "--format", "jsonl", env=a).stdout
    actions = [json.loads(line).get("action") for line in audit.splitlines() if line.strip()]
    assert "sync-init" in actions and "sync" in actions


def test_conditional_writes_refuse_a_lost_race(tmp_path: Path) -> None:
    store = FolderBackend(tmp_path / "remote")
    name = "ab" * 32
    etag = store.replace(name, b"v1", None)
    store.replace(name, b"v2 from another device", etag)
    with pytest.raises(SyncConflict):
        store.replace(name, b"v2 from this device", etag)
    with pytest.raises(SyncConflict):
        store.create(name, b"again")
    with pytest.raises(Exception, match="keyed hash"):
        store.get("../../etc/passwd")
