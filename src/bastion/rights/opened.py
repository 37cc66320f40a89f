"""What the data-rights functions need from the opened application.

:class:`bastion.runtime.Runtime` (the wiring layer above) has these attributes; naming them
here instead of importing it keeps ``rights`` below ``runtime`` (no import cycle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bastion.audit import AuditLog
from bastion.config import Settings
from bastion.store import Database, SessionStore
from bastion.vault import ApiKeyStore, Vault


class Opened(Protocol):
    home: Path
    settings: Settings
    vault: Vault
    db: Database
    sessions: SessionStore
    api_keys: ApiKeyStore

    @property
    def audit(self) -> AuditLog: ...
