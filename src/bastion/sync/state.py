"""This device's sync state, inside the encrypted database (component ``sync``).

The vault keys, the space secret and the device's private key live here and nowhere else on
the device: the database is SQLCipher-encrypted under the master key (and re-encrypted by
``bastion keys rotate``). Nothing here is ever uploaded except through the object format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bastion.store import Database

MIGRATIONS: list[str] = [
    """
CREATE TABLE sync_config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sync_seen (device TEXT PRIMARY KEY, version INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TABLE sync_applied (name TEXT PRIMARY KEY);
CREATE TABLE sync_rows (tbl TEXT NOT NULL, local_id TEXT NOT NULL, uid TEXT NOT NULL,
                        PRIMARY KEY (tbl, local_id));
CREATE INDEX sync_rows_uid ON sync_rows(tbl, uid);
CREATE TABLE sync_sessions (session_id TEXT PRIMARY KEY, meta_hash TEXT NOT NULL);
CREATE TABLE sync_tombstones (session_id TEXT PRIMARY KEY, deleted_at REAL NOT NULL);
CREATE TABLE sync_configs (kind TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
                           PRIMARY KEY (kind, name))
""",
    # 2: every segment entry seen in any manifest (tail or page), so tombstones can find the
    # objects of a deleted session without re-reading immutable pages
    """
CREATE TABLE sync_index (name TEXT PRIMARY KEY, device TEXT NOT NULL, session TEXT NOT NULL);
CREATE INDEX sync_index_session ON sync_index(session)
""",
]

LOCAL_TABLES = ("sync_config", "sync_seen", "sync_applied", "sync_rows", "sync_sessions",
                "sync_tombstones", "sync_configs", "sync_index")


@dataclass
class Identity:
    """The secrets that make a device a member of a sync space."""

    device_id: str
    device_name: str
    private_key: bytes
    space: bytes
    keys: dict[int, bytes]
    epoch: int

    @property
    def key(self) -> bytes:
        return self.keys[self.epoch]


class SyncState:
    """Key/value settings plus the bookkeeping tables, over one open database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("sync", MIGRATIONS)

    def get(self, key: str, default: Any = None) -> Any:
        rows = self.db.query("SELECT value FROM sync_config WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def set(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO sync_config (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value)))

    @property
    def configured(self) -> bool:
        return self.get("device_id") is not None

    def identity(self) -> Identity | None:
        if not self.configured:
            return None
        keys = {int(e): bytes.fromhex(k) for e, k in self.get("keys").items()}
        return Identity(self.get("device_id"), self.get("device_name"),
                        bytes.fromhex(self.get("private_key")), bytes.fromhex(self.get("space")),
                        keys, int(self.get("epoch")))

    def save_identity(self, ident: Identity) -> None:
        with self.db.transaction():
            self.set("device_id", ident.device_id)
            self.set("device_name", ident.device_name)
            self.set("private_key", ident.private_key.hex())
            self.set("space", ident.space.hex())
            self.save_keys(ident.keys, ident.epoch)

    def save_keys(self, keys: dict[int, bytes], epoch: int) -> None:
        self.set("keys", {str(e): k.hex() for e, k in keys.items()})
        self.set("epoch", epoch)

    def forget(self) -> None:
        """Drop every key and bookkeeping row (``delete --remote`` forgets the vault key)."""
        with self.db.transaction():
            for table in LOCAL_TABLES:
                self.db.execute(f"DELETE FROM {table}")

    # seen versions of other devices' manifests (replay protection) ---------------------------
    def seen(self, device: str) -> tuple[int, str] | None:
        rows = self.db.query("SELECT version, hash FROM sync_seen WHERE device = ?", (device,))
        return (int(rows[0]["version"]), rows[0]["hash"]) if rows else None

    def mark_seen(self, device: str, version: int, hash_: str) -> None:
        self.db.execute("INSERT INTO sync_seen (device, version, hash) VALUES (?, ?, ?) "
                        "ON CONFLICT(device) DO UPDATE SET version = excluded.version, "
                        "hash = excluded.hash", (device, version, hash_))

    def applied(self, name: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM sync_applied WHERE name = ?", (name,)))

    def mark_applied(self, name: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO sync_applied (name) VALUES (?)", (name,))

    def index(self, device: str, entries: list[list[Any]]) -> None:
        """Remember segment entries ([name, session, …]) listed by ``device``."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO sync_index (name, device, session) VALUES (?, ?, ?)",
            [(str(e[0]), device, str(e[1] or "")) for e in entries])

    def tombstoned_objects(self) -> list[str]:
        """Indexed segments of tombstoned sessions not deleted from the store yet."""
        return [r["name"] for r in self.db.query(
            "SELECT i.name FROM sync_index i JOIN sync_tombstones t ON t.session_id = i.session "
            "WHERE NOT EXISTS (SELECT 1 FROM sync_applied a WHERE a.name = 'deleted:' || i.name)")]

    def tombstones(self) -> dict[str, float]:
        return {r["session_id"]: float(r["deleted_at"])
                for r in self.db.query("SELECT * FROM sync_tombstones")}

    def add_tombstone(self, session_id: str, when: float) -> None:
        self.db.execute("INSERT OR IGNORE INTO sync_tombstones (session_id, deleted_at) "
                        "VALUES (?, ?)", (session_id, when))
        self.db.execute("DELETE FROM sync_sessions WHERE session_id = ?", (session_id,))
