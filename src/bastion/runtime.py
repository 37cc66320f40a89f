"""The opened application: settings, unlocked vault, encrypted database — one per process.

Everything with state lives here so commands open it once and close it cleanly.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bastion import audit as audit_api
from bastion.audit import AuditLog
from bastion.config import (
    ManagedRefusal,
    Settings,
    SettingsError,
    dump_settings,
    enforce_managed,
    get_key,
    load_settings,
    parse_settings,
    read_settings_json,
    set_key,
    settings_path,
    write_settings_json,
)
from bastion.fsutil import RUNTIME_LOCK, acquire_lock
from bastion.home import bastion_home
from bastion.store import Database, OwnerLock, SessionStore, open_database, owner_alive
from bastion.vault import ApiKeyStore, Vault, open_vault


@dataclass
class Runtime:
    """An opened data directory: settings, vault, database, sessions and audit log."""

    home: Path
    settings: Settings
    vault: Vault
    db: Database
    sessions: SessionStore
    api_keys: ApiKeyStore
    _audit: AuditLog | None = field(default=None, repr=False)
    #: shared lock on ``runtime.lock``: key rotation waits until no runtime is open
    _lock_fd: int | None = field(default=None, repr=False)
    #: this process's liveness token: its sessions are never swept as crashed
    _owner: OwnerLock | None = field(default=None, repr=False)

    @property
    def audit(self) -> AuditLog:
        """The tamper-evident audit log, opened on first use (also by ``bastion.audit.record``)."""
        if self._audit is None:
            self._audit = AuditLog(self.db, self.vault, self.settings)
        return self._audit

    @classmethod
    def open(cls, settings: Settings | None = None) -> Runtime:
        home = bastion_home()
        refused: ManagedRefusal | None = None
        try:  # settings made by hand (-c overrides) may not loosen managed ones
            settings = enforce_managed(settings) if settings is not None else load_settings()
        except ManagedRefusal as exc:
            refused, settings = exc, load_settings()
        lock = acquire_lock(home / RUNTIME_LOCK, shared=True)  # before the key is read
        try:
            vault = open_vault(home, settings.vault.slot, settings.vault.key_cache_s)
            rt = cls.attach(home, settings, vault, _lock=lock)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise
        if refused is not None:  # audited, then refused
            for r in refused.refusals:
                rt.audit.record("config", "refused", {**r.to_json(), "command": "run"})
            rt.close()
            raise refused
        rt.sweep_crashed()
        for problem in rt.audit.rollback_problems():  # checkpoint copies outside the home
            import sys

            rt.audit.record("session", "rollback-detected", {"problem": problem})
            sys.stderr.write(f"warning: {problem}; if you restored a backup on purpose, run "
                             "`bastion audit accept-restore`\n")
        if settings.retention.days:
            from bastion.rights import apply_retention

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
                 ApiKeyStore(db, vault.subkey("api-keys")), _lock_fd=lock,
                 _owner=OwnerLock(home))
        rt.sessions.owner = rt._owner.id if rt._owner else None
        audit_api.install(lambda: rt.audit, owner=rt)
        return rt

    @property
    def owner_id(self) -> str | None:
        """This process's liveness token (sessions and command intents name it)."""
        return self._owner.id if self._owner is not None else None

    def sweep_crashed(self) -> list[str]:
        """Sessions left 'running' by a process that died (SIGKILL) become 'interrupted', and
        the changes of a command it was running are journaled (undoable)."""
        try:
            swept = self.sessions.sweep_orphans(lambda owner: owner_alive(self.home, owner))
            for session_id in swept:
                self.audit.record("session", "end", {
                    "status": "interrupted", "reason": "found after its process ended"},
                    session_id=session_id)
        except Exception:
            return []
        self._recover_commands()
        return swept

    def _recover_commands(self) -> None:
        if not self.db.query("SELECT name FROM sqlite_master WHERE name = 'journal_intents'"):
            return
        if not self.db.query("SELECT 1 FROM journal_intents LIMIT 1"):
            return
        from bastion.journal import open_journal, recover_intents
        from bastion.sandbox import is_placeholder, sweep_placeholders

        try:
            sweep_placeholders()  # a killed command's mount points are not its changes
            ops = recover_intents(open_journal(self), lambda o: owner_alive(self.home, o),
                                  foreign=is_placeholder)
        except Exception as exc:  # never block start-up; the intent stays for the next one
            self.audit.record("command", "recovery-failed", {"error": str(exc)})
            return
        for op in ops:
            self.audit.record("command", "recovered", {
                "operation": op, "reason": "its process ended while the command ran"})

    def close(self, exc: BaseException | None = None) -> None:
        """Close everything; a session of this process left 'running' is settled first."""
        with contextlib.suppress(Exception):  # closing must go on even if the db is full
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            for session_id in self.sessions.settle_running(status):
                self.audit.record("session", "end", {"status": status,
                                                     "reason": type(exc).__name__ if exc
                                                     else "not finished"},
                                  session_id=session_id)
        audit_api.uninstall(owner=self)
        if self._audit is not None:
            self._audit.close()  # signs a final checkpoint
        self.db.close()
        if self._owner is not None:
            self._owner.release()
            self._owner = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(exc)


@dataclass
class SettingChange:
    """One validated change to the user's ``settings.json`` (``config set``, the web UI).

    :meth:`prepare` validates the file as it is and as it would be; :meth:`apply` writes it
    and records the change in the audit log — a change that cannot be audited is not made.
    """

    path: Path
    key: str
    old: Any
    new: Any
    data: dict[str, Any]

    @classmethod
    def prepare(cls, key: str, value: Any, path: Path | None = None, *,
                remove: bool = False) -> SettingChange:
        """``remove``: drop ``key`` from the file (back to its default) instead of setting it."""
        p = path or settings_path()
        data = read_settings_json(p)
        parse_settings(data, p)  # refuse to edit a file that is already invalid
        old = set_key(data, key, value)
        if remove:
            parent = data
            *parents, last = key.split(".")
            for part in parents:
                parent = parent[part]
            del parent[last]
        parsed = parse_settings(data, p)  # validate before anything is written
        if not remove:
            _check_type(key, value, parsed)
        return cls(p, key, old, None if remove else value, data)

    @property
    def changed(self) -> bool:
        return json.dumps(self.old, sort_keys=True) != json.dumps(self.new, sort_keys=True)

    def apply(self, audit_log: AuditLog, *, via: str = "cli") -> None:
        try:
            write_settings_json(self.path, self.data)
        except ManagedRefusal as refused:  # would loosen managed settings: refused, audited
            for r in refused.refusals:
                audit_log.record("config", "refused", {**r.to_json(), "command": via})
            raise
        data = {"key": self.key, "old": audit_api.mask_setting(self.key, self.old),
                "new": audit_api.mask_setting(self.key, self.new), "file": str(self.path)}
        if via != "cli":
            data["via"] = via
        audit_log.record("config", "set", data)


def _check_type(key: str, new: Any, parsed: Settings) -> None:
    """Refuse a value the schema would only accept by conversion ("yes" for a boolean)."""
    try:
        stored = get_key(dump_settings(parsed), key)
    except KeyError:
        return
    if type(stored) is not type(new) and not (isinstance(stored, float) and type(new) is int):
        expected = "true or false" if isinstance(stored, bool) else json.dumps(stored)
        raise SettingsError(f"{key}: {json.dumps(new)} is not the right type "
                            f"(expected a value like {expected}); nothing was changed")

