"""The encrypted database: SQLCipher 4 opened with a raw 256-bit key, WAL, and migrations.

The key is HKDF-derived from the master key, so opening costs no passphrase KDF. Temporary
tables and sorts stay in memory so no plaintext spills into temp files.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlcipher3

from bastion.errors import BastionError
from bastion.fsutil import INIT_LOCK, exclusive_lock
from bastion.textsafe import escape_surrogates

from .schema import MIGRATIONS

FILENAME = "bastion.db"
#: how long a statement waits for another process's write lock before failing
BUSY_TIMEOUT_S = 60.0
Row = sqlcipher3.Row


class DatabaseError(BastionError):
    """The database cannot be opened (wrong key, corruption) or a statement failed."""


class Database:
    """One SQLCipher connection. Use :meth:`transaction` for every multi-statement change."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        fresh = not path.exists() or path.stat().st_size == 0
        if fresh:  # the first writer fixes the file's salt and schema: one process at a time
            with exclusive_lock(path.parent / INIT_LOCK):
                self._open(key)
        else:
            self._open(key)

    def _open(self, key: bytes) -> None:
        path = self.path
        # SQLite gives the -wal and -shm files the main file's mode, so owner-only here covers all.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600))
        self.conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_S)
        self.conn.row_factory = sqlcipher3.Row
        self.conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        try:
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError as exc:
            self.conn.close()
            if _environmental(str(exc)):
                raise DatabaseError(f"{path}: cannot open the database: {exc} (in "
                                    f"{path.parent}); nothing was changed",
                                    hint="free some disk space or fix the folder's "
                                         "permissions, then retry") from None
            raise DatabaseError(
                f"{path}: cannot open the database (wrong master key or corrupted file); "
                "nothing was changed"
            ) from None
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA temp_store = MEMORY")
        self.conn.execute("PRAGMA secure_delete = ON")
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction():
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                              "component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        self.ensure_schema("core", MIGRATIONS)

    def _version(self, component: str) -> int:
        row = self.conn.execute("SELECT version FROM schema_migrations WHERE component = ?",
                                (component,)).fetchone()
        return int(row[0]) if row else 0

    def ensure_schema(self, component: str, migrations: list[str]) -> None:
        """Apply the not-yet-applied ``migrations`` of one component (e.g. "journal", "audit").

        Each package owns its tables and its migration list; append to a list, never edit a
        released entry. A database newer than this code is refused rather than misread. The
        version is read again inside the write transaction of each step, so concurrent
        processes never apply the same migration twice.
        """
        if self._version(component) == len(migrations):
            return  # the common case, without taking the write lock
        while True:
            with self.transaction():
                version = self._version(component)
                if version > len(migrations):
                    raise DatabaseError(
                        f"{self.path}: the {component} schema is v{version}, newer than this "
                        f"Bastion (v{len(migrations)}); upgrade Bastion")
                if version == len(migrations):
                    return
                for statement in _split(migrations[version]):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version + 1))

    @contextmanager
    def transaction(self) -> Iterator[sqlcipher3.Connection]:
        if self.conn.in_transaction:  # nested: join the outer transaction
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: Any = ()) -> sqlcipher3.Cursor:
        return self.conn.execute(sql, _storable(params))

    def query(self, sql: str, params: Any = ()) -> list[sqlcipher3.Row]:
        return list(self.conn.execute(sql, _storable(params)).fetchall())

    def close(self) -> None:
        with contextlib.suppress(sqlcipher3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


def _environmental(message: str) -> bool:
    """SQLite's words for a machine problem (not a wrong key or a damaged file)."""
    return any(word in message for word in ("disk is full", "disk I/O", "unable to open",
                                            "readonly", "locked"))


def _storable(params: Any) -> Any:
    """Strings SQLite can encode: bytes of non-UTF-8 names appear as ``\\xNN``."""
    if isinstance(params, tuple | list):
        return tuple(escape_surrogates(p) if isinstance(p, str) else p for p in params)
    return params


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def now() -> float:
    return time.time()


def open_database(home: Path, key: bytes) -> Database:
    return Database(home / FILENAME, key)
