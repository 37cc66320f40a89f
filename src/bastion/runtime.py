"""The opened application: settings, unlocked vault, encrypted database — one per process.

Everything with state lives here so commands open it once and close it cleanly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bastion import audit as audit_api
from bastion.audit import AuditLog
from bastion.config import (
    ManagedRefusal,
    Settings,
    load_settings,
    parse_settings,
    read_settings_json,
    set_key,
    settings_path,
    write_settings_json,
)
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
        vault = open_vault(home, settings.vault.slot, settings.vault.key_cache_s)
        rt = cls.attach(home, settings, vault)
        for problem in rt.audit.rollback_problems():  # checkpoint copies outside the home
            import sys

            sys.stderr.write(f"warning: {problem}; if you restored a backup on purpose, run "
                             "`bastion audit accept-restore`\n")
        if settings.retention.days:
            from bastion.rights.retention import apply_retention

            try:
                apply_retention(rt)  # prints a notice and audits; never silent
            except BaseException:
                rt.close()
                raise
        return rt

    @classmethod
    def attach(cls, home: Path, settings: Settings, vault: Vault) -> Runtime:
        """Open the database with an already-unlocked vault (e.g. after a key rotation)."""
        db = open_database(home, vault.subkey("database"))
        rt = cls(home, settings, vault, db, SessionStore(db),
                 ApiKeyStore(db, vault.subkey("api-keys")))
        audit_api.install(lambda: rt.audit, owner=rt)
        return rt

    def close(self) -> None:
        audit_api.uninstall(owner=self)
        if self._audit is not None:
            self._audit.close()  # signs a final checkpoint
        self.db.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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
        parse_settings(data, p)  # validate before anything is written
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
