"""The unlocked master key, cached for the login session (like ``sudo``'s timestamp).

Unlocking a passphrase key slot costs one Argon2id derivation (~250 ms, on purpose). After a
successful unlock the key is kept in the kernel's **session keyring** as a ``user`` key that
only possessors of that keyring can read (not other sessions of the same user), expiring after
``vault.keyCacheS`` idle seconds (every use restarts the clock). ``bastion lock`` forgets it;
``vault.keyCacheS: 0`` turns the cache off. Sandboxed commands can never read it: each starts
with a fresh, empty session keyring and seccomp refuses the keyring system calls.

The entry is bound to the key slot file (its SHA-256): a rotated or replaced slot never opens
with a stale cached key. When a passphrase is supplied anyway (``BASTION_PASSPHRASE``), it must
match the one that unlocked the cached key (an HMAC under the master key), so a wrong
passphrase is still refused.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from bastion import keyctl

from .crypto import KEY_BYTES

_DIGEST = 32


def _description(home: Path) -> str:
    return "bastion:master:" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:24]


def _slot_digest(slot_file: Path) -> bytes | None:
    try:
        return hashlib.sha256(slot_file.read_bytes()).digest()
    except OSError:
        return None


def _tag(master: bytes, passphrase: str) -> bytes:
    return hmac.new(master, b"bastion/keycache/passphrase\0" + passphrase.encode(),
                    "sha256").digest()


def store(home: Path, slot_file: Path, master: bytes, passphrase: str, timeout_s: int) -> bool:
    """Cache ``master`` (just unlocked from ``slot_file`` with ``passphrase``)."""
    digest = _slot_digest(slot_file)
    if timeout_s <= 0 or digest is None or not keyctl.available():
        return False
    forget(home)
    payload = digest + _tag(master, passphrase) + master
    return keyctl.add(_description(home), payload, timeout_s) is not None


def load(home: Path, slot_file: Path, passphrase: str | None, timeout_s: int) -> bytes | None:
    """The cached master key for ``slot_file``, or None (not cached, expired, slot changed)."""
    if timeout_s <= 0 or not keyctl.available():
        return None
    key = keyctl.find(_description(home))
    if key is None:
        return None
    payload = keyctl.read(key)
    digest = _slot_digest(slot_file)
    if payload is None or len(payload) != 2 * _DIGEST + KEY_BYTES or digest is None:
        return None
    master = payload[2 * _DIGEST:]
    if not hmac.compare_digest(payload[:_DIGEST], digest):
        return None
    if passphrase is not None and \
            not hmac.compare_digest(payload[_DIGEST:2 * _DIGEST], _tag(master, passphrase)):
        return None
    keyctl.touch(key, timeout_s)
    return master


def forget(home: Path) -> bool:
    """Remove the cached key for ``home``; True if there was one."""
    key = keyctl.find(_description(home)) if keyctl.available() else None
    return key is not None and keyctl.invalidate(key)
