"""The opened application: settings, unlocked vault, encrypted database — one per process.

Everything with state lives here so commands open it once and close it cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bastion.config import Settings, load_settings
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

    @classmethod
    def open(cls, settings: Settings | None = None) -> Runtime:
        home = bastion_home()
        settings = settings or load_settings()
        vault = open_vault(home, settings.vault.slot)
        db = open_database(home, vault.subkey("database"))
        return cls(home, settings, vault, db, SessionStore(db),
                   ApiKeyStore(db, vault.subkey("api-keys")))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
