"""`bastion export`: complete, hash-checked, secret-free, optionally age-encrypted."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pyrage
import pytest

from bastion.rights import ExportOptions, export_data
from bastion.runtime import Runtime
from helpers import PASSPHRASE, run_bastion
from rights.rights_data import API_KEY

TABLES = ("sessions", "messages", "tool_calls", "events")


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _db_counts() -> dict[str, int]:
    with Runtime.open() as rt:
        return {t: rt.db.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def _sqlite_counts(raw: bytes, tmp_path: Path) -> dict[str, int]:
    path = tmp_path / "copy.sqlite"
    path.write_bytes(raw)
    conn = sqlite3.connect(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "api_keys" not in names
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def test_export_counts_hashes_and_no_secrets(populated: dict[str, str], tmp_path: Path,
                                             bastion_home: Path) -> None:
    out = tmp_path / "export.zip"
    r = run_bastion("export", "--out", out, "--include-backups")
    assert r.returncode == 0, r.stderr
    files = _members(out.read_bytes())
    manifest = json.loads(files.pop("manifest.json"))
    # every file listed, every hash right, nothing unlisted
    assert set(manifest["files"]) == set(files)
    for name, meta in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == meta["sha256"], name
    counts = _db_counts()
    assert counts["sessions"] == 2 and counts["messages"] > 0 and counts["tool_calls"] == 3
    for table in TABLES:
        lines = files[f"data/{table}.jsonl"].decode().splitlines()
        assert len(lines) == counts[table] == manifest["counts"][table]
    assert _sqlite_counts(files["data/conversations.sqlite"], tmp_path) == counts
    # audit log and its verification; journal index and (asked for) the pre-image
    assert json.loads(files["audit/verification.json"])["ok"] is True
    assert files["audit/log.jsonl"].strip()
    assert manifest["counts"]["journal_operations"] >= 1
    assert any(n.startswith("journal/blobs/") and b"# demo" in files[n] for n in files)
    # no API key, no passphrase — in any member, nor in the archive bytes
    blob = out.read_bytes() + b"".join(files.values())
    for secret in (API_KEY, API_KEY[8:20], PASSPHRASE):
        assert secret.encode() not in blob
    assert json.loads(files["settings.json"])["telemetry"]["enabled"] in (True, False)
    # nothing staged beside the archive
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".export"))  == []


def test_export_masks_settings_secrets(populated: dict[str, str], tmp_path: Path,
                                       bastion_home: Path) -> None:
    settings = {"network": {"proxyUrl": "http://alice:s3cr3t-proxy-pw@proxy.local:3128"},
                "mcpServers": {"gh": {"command": "gh-mcp",
                                      "env": {"GITHUB_TOKEN": "ghp_" + "A1b2C3d4" * 5}}}}
    (bastion_home / "settings.json").write_text(json.dumps(settings))
    out = tmp_path / "e.zip"
    with Runtime.open() as rt:
        export_data(rt, ExportOptions(out=out))
    members = _members(out.read_bytes())
    everything = b"".join(members.values())
    assert b"s3cr3t-proxy-pw" not in everything and b"A1b2C3d4" not in everything
    exported = json.loads(members["settings.json"])
    assert exported["network"]["proxyUrl"] == "http://[removed]@proxy.local:3128"
    assert exported["mcpServers"]["gh"]["env"] == {"GITHUB_TOKEN": "[removed]"}


def test_encrypted_export_is_age_and_needs_the_passphrase(populated: dict[str, str],
                                                          tmp_path: Path) -> None:
    out = tmp_path / "export.zip.age"
    with Runtime.open() as rt:
        export_data(rt, ExportOptions(out=out, session=populated["reader"],
                                      passphrase="export pass phrase 1"))
    data = out.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")  # the standard age header
    with pytest.raises(pyrage.DecryptError):
        pyrage.passphrase.decrypt(data, "wrong passphrase")
    files = _members(pyrage.passphrase.decrypt(data, "export pass phrase 1"))
    sessions = [json.loads(x) for x in files["data/sessions.jsonl"].decode().splitlines()]
    assert [s["id"] for s in sessions] == [populated["reader"]]
    assert json.loads(files["manifest.json"])["session"] == populated["reader"]


def test_encrypt_without_passphrase_fails_cleanly(populated: dict[str, str],
                                                  tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    r = run_bastion("export", "--out", out, "--encrypt", input="")
    assert r.returncode == 1 and "passphrase" in r.stderr and not out.exists()
