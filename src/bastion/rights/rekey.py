"""``bastion keys rotate``: re-encrypt everything under a new master key, crash-safely.

The protocol (staging, ``rotation.json``, roll forward/back) lives in
:mod:`bastion.vault.rotation`; this module builds the staged copies, which needs knowledge of
the layers above the vault:

- the database: ``sqlcipher_export`` into a new file keyed with the new database sub-key
  (rather than ``PRAGMA rekey``, which rewrites pages in place: a crash half-way leaves a file
  whose pages are under two keys, and whether the rollback journal restores it depends on
  journal mode — a separate file plus an atomic rename has no such window);
- inside that copy: API keys re-sealed, and the audit chain re-MACed under the new audit key
  (after the old chain was verified, so a rotation can never launder tampering);
- the journal's pre-image blobs, re-encrypted (and re-named) into a new directory;
- the signed audit checkpoint, re-signed with the new checkpoint key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlcipher3

from bastion.errors import BastionError
from bastion.fsutil import (
    INIT_LOCK,
    RUNTIME_LOCK,
    acquire_lock,
    exclusive_lock,
    owner_only_tree,
)
from bastion.store import FILENAME as DB_FILENAME
from bastion.vault import Rotation, Vault, crash_point, derive_subkey, key_id, reseal_all

JOURNAL_BLOBS = "journal/blobs"
AUDIT_CHECKPOINT = "audit-checkpoint.json"

Progress = Callable[[str], None]


@dataclass
class RotationReport:
    api_keys: int = 0
    audit_records: int = 0
    blobs: int = 0
    blobs_unreadable: int = 0
    checkpoint: bool = False
    new_key_id: str = ""


def _connect(path: Path, key: bytes) -> Any:
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails on a wrong key
    return conn


def _has_table(conn: Any, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (name,)).fetchone()
    return row is not None


def _export_database(old: Path, staged: Path, old_key: bytes, new_key: bytes) -> None:
    conn = _connect(old, old_key)
    try:
        # everything committed reaches the main file, so the export (and the later deletion
        # of the old -wal) cannot lose a transaction
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ATTACH DATABASE ? AS rotated KEY ?", (str(staged), f"x'{new_key.hex()}'"))
        conn.execute("SELECT sqlcipher_export('rotated')")
        conn.execute("DETACH DATABASE rotated")
    finally:
        conn.close()


def _rekey_audit(conn: Any, old_master: bytes, new_master: bytes) -> dict[int, str]:
    """Re-MAC the audit chain; returns {seq: new mac} for re-signing checkpoints."""
    if not _has_table(conn, "audit_log"):
        return {}
    from bastion.audit import ChainKeys  # the chain format is audit's; only keys change

    old_keys = ChainKeys.from_audit_key(derive_subkey(old_master, "audit"))
    new_keys = ChainKeys.from_audit_key(derive_subkey(new_master, "audit"))
    rows = conn.execute("SELECT seq, time, category, action, session_id, payload_hash, "
                        "prev_mac, mac, payload FROM audit_log ORDER BY seq").fetchall()
    macs: dict[int, str] = {}
    prev_new = None
    prev_old = None
    for seq, time, category, action, session_id, payload_hash, prev_mac, mac, payload in rows:
        header = {"v": 1, "seq": seq, "time": time, "category": category, "action": action,
                  "session_id": session_id, "payload_hash": payload_hash, "prev_mac": prev_mac}
        # belt and braces: the CLI verified the chain, but never re-MAC a record that
        # does not verify under the old key
        if old_keys.mac(header) != mac or (prev_old is not None and prev_mac != prev_old):
            raise BastionError(f"audit record {seq} does not verify; key rotation refused",
                               hint="run `bastion audit verify` and investigate first")
        prev_old = mac
        if payload is not None:
            header["payload_hash"] = new_keys.payload_hash(payload.encode("utf-8"))
        # a blanked payload's hash stays as it was: nothing is left to re-hash
        if prev_new is not None:
            header["prev_mac"] = prev_new
        new_mac = new_keys.mac(header)
        conn.execute("UPDATE audit_log SET payload_hash = ?, prev_mac = ?, mac = ? WHERE seq = ?",
                     (header["payload_hash"], header["prev_mac"], new_mac, seq))
        macs[seq] = new_mac
        prev_new = new_mac
    if _has_table(conn, "audit_checkpoints"):
        for (seq,) in conn.execute("SELECT seq FROM audit_checkpoints").fetchall():
            if seq in macs:
                conn.execute("UPDATE audit_checkpoints SET mac = ? WHERE seq = ?",
                             (macs[seq], seq))
    return macs


def _blob_digests(conn: Any) -> set[str]:
    if not _has_table(conn, "journal_changes"):
        return set()
    digests: set[str] = set()
    for before, after in conn.execute("SELECT before_hash, after_hash FROM journal_changes"):
        digests.update(d for d in (before, after) if d)
    return digests


def _rekey_blobs(src: Path, dst: Path, digests: set[str], old_master: bytes,
                 new_master: bytes, report: RotationReport) -> None:
    from bastion.journal import BlobStore, CorruptBlobError

    old = BlobStore(src, derive_subkey(old_master, "journal"))
    new = BlobStore(dst, derive_subkey(new_master, "journal"))
    for digest in sorted(digests):
        if not old.has(digest):
            continue
        try:
            new.put(old.get(digest))  # put() fsyncs each blob
        except CorruptBlobError:
            report.blobs_unreadable += 1  # unreadable under the old key already
            continue
        report.blobs += 1


def _checkpoint_to_resign(home: Path, old_master: bytes, macs: dict[int, str]) -> Any:
    """The current signed checkpoint (verified with the old key), or None if there is none."""
    from bastion.audit import CheckpointInvalid, CheckpointSigner

    old = CheckpointSigner(derive_subkey(old_master, "audit-checkpoint"), home / AUDIT_CHECKPOINT)
    try:
        current = old.read()
    except CheckpointInvalid as exc:
        raise BastionError(f"{exc}; key rotation refused",
                           hint="run `bastion audit verify` and investigate first") from None
    return current if current is not None and current.seq in macs else None


def _sign_checkpoint(staged: Path, current: Any, new_master: bytes, macs: dict[int, str]) -> None:
    from bastion.audit import Checkpoint, CheckpointSigner

    new = CheckpointSigner(derive_subkey(new_master, "audit-checkpoint"), staged)
    new.write(Checkpoint(current.seq, macs[current.seq], current.time))


def rotate_master_key(home: Path, vault: Vault, progress: Progress | None = None) -> RotationReport:
    """Rotate ``vault``'s master key; on return every file uses the new key (and ``vault``
    holds it). Nothing else may have the database open: call with the runtime closed.

    Waits (briefly) until no other Bastion process has the data open, and keeps new ones
    from starting until the rotation is done.
    """
    if vault.store_key is None:
        raise BastionError("this vault cannot store a new master key")
    lock = acquire_lock(home / RUNTIME_LOCK, shared=False, timeout_s=ROTATION_WAIT_S)
    if lock is None:
        raise BastionError("other Bastion commands are using the data; key rotation refused "
                           "(nothing was changed)", hint="retry when they have finished")
    try:
        with exclusive_lock(home / INIT_LOCK):
            report = _rotate(home, vault, progress)
            owner_only_tree(home)  # staged copies were created with the default mode
            return report
    finally:
        os.close(lock)


#: how long a rotation waits for other Bastion processes to finish
ROTATION_WAIT_S = 15.0


def _rotate(home: Path, vault: Vault, progress: Progress | None) -> RotationReport:
    assert vault.store_key is not None
    say = progress or (lambda _msg: None)
    report = RotationReport()
    old_master = vault.master_key
    rotation = Rotation.begin(home, old_master)
    new_master = rotation.new_key
    crash_point("prepared")

    try:
        say("re-encrypting the database")
        staged_db = rotation.stage(DB_FILENAME, sqlite=True)
        _export_database(home / DB_FILENAME, staged_db, derive_subkey(old_master, "database"),
                         derive_subkey(new_master, "database"))
        crash_point("db-exported")
        conn = _connect(staged_db, derive_subkey(new_master, "database"))
        try:
            conn.execute("PRAGMA journal_mode = DELETE")  # no -wal beside a file about to move
            conn.execute("BEGIN IMMEDIATE")
            if _has_table(conn, "api_keys"):
                report.api_keys = reseal_all(conn, derive_subkey(old_master, "api-keys"),
                                             derive_subkey(new_master, "api-keys"))
            macs = _rekey_audit(conn, old_master, new_master)
            report.audit_records = len(macs)
            digests = _blob_digests(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        crash_point("db-rekeyed")

        if (home / JOURNAL_BLOBS).is_dir():
            say(f"re-encrypting {len(digests)} journal pre-images")
            staged_blobs = rotation.stage(JOURNAL_BLOBS)
            _rekey_blobs(home / JOURNAL_BLOBS, staged_blobs, digests, old_master, new_master, report)
            crash_point("blobs-staged")

        checkpoint = _checkpoint_to_resign(home, old_master, macs)
        if checkpoint is not None:
            _sign_checkpoint(rotation.stage(AUDIT_CHECKPOINT), checkpoint, new_master, macs)
            report.checkpoint = True

    except BaseException:
        rotation.abort()  # the live data was never touched; drop the staged copies
        raise

    say("switching to the new key")
    rotation.commit(vault.store_key)
    vault.master_key = new_master
    report.new_key_id = key_id(new_master)
    return report
