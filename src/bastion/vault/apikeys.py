"""Provider API keys, AES-256-GCM-sealed inside the encrypted database.

The AAD binds each ciphertext to its provider and key id, so a sealed key copied to another
row does not decrypt.
"""

from __future__ import annotations

import builtins
import os
import time
from typing import TYPE_CHECKING, Any

from .crypto import open_sealed, seal

if TYPE_CHECKING:
    from bastion.store import Database

ENV_VARS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "local": "LOCAL_API_KEY"}


def mask_secret(value: str) -> str:
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:3]}…{value[-4:]}" if len(value) >= 16 else f"{value[:2]}…{value[-2:]}"


def _aad(provider: str, key_id: str) -> bytes:
    return f"bastion/api-key/{provider}\x00{key_id}".encode()


class ApiKeyStore:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._key = key

    def set(self, provider: str, value: str, key_id: str = "default") -> None:
        sealed = seal(self._key, value.encode(), _aad(provider, key_id))
        self.db.execute(
            "INSERT OR REPLACE INTO api_keys (provider, key_id, sealed, masked, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (provider, key_id, sealed, mask_secret(value), time.time()),
        )

    def get(self, provider: str, key_id: str = "default") -> str | None:
        """The stored key, else the provider's environment variable, else None."""
        rows = self.db.query("SELECT sealed FROM api_keys WHERE provider = ? AND key_id = ?",
                             (provider, key_id))
        if rows:
            return open_sealed(self._key, bytes(rows[0]["sealed"]), _aad(provider, key_id),
                               what=f"API key {provider}/{key_id}").decode()
        env = ENV_VARS.get(provider)
        return os.environ.get(env) if env else None

    def list(self) -> builtins.list[dict[str, str]]:
        rows = self.db.query("SELECT provider, key_id, masked, created_at FROM api_keys "
                             "ORDER BY provider, key_id")
        return [dict(r) for r in rows]

    def delete(self, provider: str, key_id: str = "default") -> bool:
        cur = self.db.execute("DELETE FROM api_keys WHERE provider = ? AND key_id = ?",
                              (provider, key_id))
        return cur.rowcount > 0

    def all_values(self) -> builtins.list[str]:
        """Every stored key in clear — for the privacy filter's known-value redaction only."""
        out = []
        for r in self.db.query("SELECT provider, key_id, sealed FROM api_keys"):
            out.append(open_sealed(self._key, bytes(r["sealed"]),
                                   _aad(r["provider"], r["key_id"])).decode())
        return out


def reseal_all(conn: Any, old_key: bytes, new_key: bytes) -> int:
    """Re-seal every API key row under ``new_key`` (key rotation), keeping masks and dates.

    ``conn`` is a DB-API connection to the database being rotated (a staged copy).
    """
    rows = conn.execute("SELECT provider, key_id, sealed FROM api_keys").fetchall()
    for provider, key_id, sealed in rows:
        aad = _aad(provider, key_id)
        value = open_sealed(old_key, bytes(sealed), aad, what=f"API key {provider}/{key_id}")
        conn.execute("UPDATE api_keys SET sealed = ? WHERE provider = ? AND key_id = ?",
                     (seal(new_key, value, aad), provider, key_id))
    return len(rows)
