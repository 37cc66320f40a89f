"""The small set of primitives Bastion uses: AES-256-GCM sealing and HKDF sub-keys.

Everything else in Bastion encrypts through :func:`seal` / :func:`open_sealed`, so nonce
handling lives in exactly one place.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.errors import BastionError

NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionError(BastionError):
    """Ciphertext failed authentication: wrong key, or the data was modified."""


def derive_subkey(master_key: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (e.g. ``"database"``), independent of every other."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"bastion/{purpose}/v1".encode()
    ).derive(master_key)


def seal(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """AES-256-GCM with a random 96-bit nonce; returns ``nonce || ciphertext || tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes = b"", *, what: str = "data") -> bytes:
    """Inverse of :func:`seal`; raises :class:`DecryptionError` naming ``what`` on failure."""
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError(f"{what} is truncated or corrupted")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError(
            f"{what} failed authentication (wrong key or modified data)"
        ) from None
