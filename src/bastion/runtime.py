"""The opened application: settings, unlocked vault, encrypted database — one per process.

Everything with state lives here so commands open it once and close it cleanly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bastion import audit as audit_api
from bastion.audit import AuditLog
from bastion.config import Settings, load_settings
from bastion.fsutil import RUNTIME_LOCK, acquire_lock
from bastion.home import bastion_home
from bastion.store import Database, SessionStore, open_database
from bastion.vault import ApiKeyStore, Vault, open_vault


@dataclass
class Runtime:
    home: Path
    settings: Settings
    vault: Vault
    db: Database
    sessions: SessionStore
    api_keys: ApiKeyStore
    _audit: AuditLog | None = field(default=None, repr=False)
    #: shared lock on ``runtime.lock``: key rotation waits until no runtime is open
    _lock_fd: int | None = field(default=None, repr=False)

    @property
    def audit(self) -> AuditLog:
        """The tamper-evident audit log, opened on first use (also by ``bastion.audit.record``)."""
        if self._audit is None:
            self._audit = AuditLog(self.db, self.vault, self.settings)
        return self._audit

    @classmethod
    def open(cls, settings: Settings | None = None) -> Runtime:
        home = bastion_home()
        settings = settings or load_settings()
        lock = acquire_lock(home / RUNTIME_LOCK, shared=True)  # before the key is read
        try:
            vault = open_vault(home, settings.vault.slot)
            rt = cls.attach(home, settings, vault, _lock=lock)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise
        if settings.retention.days:
            from bastion.rights.retention import apply_retention

            try:
                apply_retention(rt)  # prints a notice and audits; never silent
            except BaseException:
                rt.close()
                raise
        return rt

    @classmethod
    def attach(cls, home: Path, settings: Settings, vault: Vault, *,
               _lock: int | None = None) -> Runtime:
        """Open the database with an already-unlocked vault (e.g. after a key rotation)."""
        lock = _lock if _lock is not None else acquire_lock(home / RUNTIME_LOCK, shared=True)
        try:
            db = open_database(home, vault.subkey("database"))
        except BaseException:
            if _lock is None and lock is not None:
                os.close(lock)
            raise
        rt = cls(home, settings, vault, db, SessionStore(db),
                 ApiKeyStore(db, vault.subkey("api-keys")), _lock_fd=lock)
        audit_api.install(lambda: rt.audit, owner=rt)
        return rt

    def close(self) -> None:
        audit_api.uninstall(owner=self)
        if self._audit is not None:
            self._audit.close()  # signs a final checkpoint
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
