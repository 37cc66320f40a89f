"""Slot 2: the master key wrapped by a passphrase (Argon2id → AES-256-GCM) in ``keyslot.json``.

The file holds only the KDF parameters, a salt and the sealed key; it is written atomically
and never rewritten on a failed unlock, so a wrong passphrase cannot destroy anything.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bastion import jsonsafe
from bastion.errors import BastionError
from bastion.fsutil import atomic_create_json, atomic_write_json

from .crypto import DecryptionError, open_sealed, seal

FILENAME = "keyslot.json"
_AAD = b"bastion/keyslot/v1"


class WrongPassphraseError(BastionError):
    """The passphrase does not unlock the key slot."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id parameters of a key slot."""

    memory_kib: int = 65536
    iterations: int = 2
    lanes: int = 1

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        return Argon2id(
            salt=salt,
            length=32,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        ).derive(passphrase.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_keyslot(path: Path, master_key: bytes, passphrase: str, params: KdfParams | None = None,
                  extra: dict[str, Any] | None = None, *, create: bool = False) -> None:
    """Write the slot atomically; ``create``: only if none exists (FileExistsError otherwise)."""
    params = params or KdfParams()
    salt = os.urandom(16)
    wrapped = seal(params.derive(passphrase, salt), master_key, _AAD)
    doc = {
        "version": 1,
        "kdf": {"name": "argon2id", "memoryKib": params.memory_kib,
                "iterations": params.iterations, "lanes": params.lanes, "salt": _b64(salt)},
        "cipher": "aes-256-gcm",
        "wrappedKey": _b64(wrapped),
        **(extra or {}),
    }
    if create:
        atomic_create_json(path, doc)
    else:
        atomic_write_json(path, doc)


def read_keyslot(path: Path) -> dict[str, Any]:
    try:
        doc = jsonsafe.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != 1 or doc["kdf"]["name"] != "argon2id":
            raise ValueError("unsupported key slot version")
        return dict(doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BastionError(
            f"{path}: key slot file is unreadable or corrupted ({exc})",
            hint="restore it from a backup; without it the encrypted data cannot be opened",
        ) from None


def unlock_keyslot(path: Path, passphrase: str) -> bytes:
    doc = read_keyslot(path)
    kdf = doc["kdf"]
    params = KdfParams(kdf["memoryKib"], kdf["iterations"], kdf["lanes"])
    key = params.derive(passphrase, base64.b64decode(kdf["salt"]))
    try:
        return open_sealed(key, base64.b64decode(doc["wrappedKey"]), _AAD, what="key slot")
    except DecryptionError:
        raise WrongPassphraseError(
            f"wrong passphrase for {path} (nothing was changed)",
            hint="check BASTION_PASSPHRASE or retype the passphrase",
        ) from None
