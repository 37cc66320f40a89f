"""Master-key custody: find or create the 256-bit master key in the keychain or the key slot.

Order of preference: an existing key slot file; an existing keychain entry; on first run the
keychain if it is a real one, otherwise a passphrase slot. If neither can be used Bastion stops
with instructions — it never writes the master key anywhere in plaintext.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bastion.errors import BastionError
from bastion.fsutil import INIT_LOCK, exclusive_lock

from . import keycache, keychain, rotation
from .crypto import KEY_BYTES, derive_subkey
from .keyslot import FILENAME, unlock_keyslot, write_keyslot

PASSPHRASE_ENV = "BASTION_PASSPHRASE"


class VaultError(BastionError):
    """The master key cannot be found, created or unlocked."""


@dataclass
class Vault:
    """The unlocked master key and where it lives. Hand out sub-keys, never the master key."""

    home: Path
    master_key: bytes = field(repr=False)
    slot: str  # "keychain" or "passphrase"
    #: writes a new master key into the same slot (keychain entry, or the key slot re-wrapped
    #: with the passphrase that unlocked it) — used by key rotation
    store_key: Callable[[bytes], None] | None = field(default=None, repr=False, compare=False)

    def subkey(self, purpose: str) -> bytes:
        return derive_subkey(self.master_key, purpose)

    @property
    def keyslot_path(self) -> Path:
        return self.home / FILENAME


def _passphrase(*, confirm: bool) -> str | None:
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Bastion passphrase: ")
    if confirm:
        if len(first) < 8:
            raise VaultError("passphrase too short (at least 8 characters)")
        if getpass.getpass("Repeat passphrase: ") != first:
            raise VaultError("the passphrases do not match; nothing was created")
    return first


_NO_PASSPHRASE_HINT = (
    f"set {PASSPHRASE_ENV} (for headless use) or run Bastion in a terminal to type it"
)


def open_vault(home: Path, slot: str = "auto", cache_s: int = 0) -> Vault:
    """Unlock (or on first run create) the master key for the data directory ``home``.

    An interrupted key rotation (``rotation.json``) is completed or rolled back first, so the
    key returned always opens the data on disk. ``cache_s`` > 0: a passphrase slot's unlocked
    key is cached in the session keyring for that many idle seconds (``keycache.py``).
    """
    if (home / FILENAME).exists() and slot != "keychain" and not rotation.pending(home):
        return _open_slot(home, slot, cache_s)  # the common case: nothing is created or changed
    # first run (a key is created) or recovery: one process at a time, re-checked under the lock
    with exclusive_lock(home / INIT_LOCK):
        vault = _open_slot(home, slot, 0 if rotation.pending(home) else cache_s)
        if rotation.pending(home):
            if vault.store_key is None:
                raise VaultError("an interrupted key rotation cannot be completed "
                                 "(no writable slot)")
            vault.master_key = rotation.recover(home, vault.master_key, vault.store_key)
    return vault


def _keychain_writer(backend: keychain.KeyringBackend, home: Path) -> Callable[[bytes], None]:
    def store(key: bytes) -> None:
        keychain.store_master_key(backend, home, key)
        if keychain.load_master_key(backend, home) != key:
            raise VaultError("the keychain did not keep the new master key")
    return store


def _keyslot_writer(slot_file: Path, passphrase: str) -> Callable[[bytes], None]:
    return lambda key: write_keyslot(slot_file, key, passphrase)


def _cached_slot_writer(slot_file: Path, master: bytes) -> Callable[[bytes], None]:
    """Writer for a key that came from the cache: asks for the passphrase when needed."""
    def store(key: bytes) -> None:
        passphrase = _passphrase(confirm=False)
        if passphrase is None or unlock_keyslot(slot_file, passphrase) != master:
            raise VaultError(f"{slot_file} needs its passphrase", hint=_NO_PASSPHRASE_HINT)
        write_keyslot(slot_file, key, passphrase)
    return store


def _open_slot(home: Path, slot: str, cache_s: int = 0) -> Vault:
    slot_file = home / FILENAME
    if slot_file.exists() and slot != "keychain":
        cached = keycache.load(home, slot_file, os.environ.get(PASSPHRASE_ENV) or None,
                               cache_s)
        if cached is not None:
            return Vault(home, cached, "passphrase", _cached_slot_writer(slot_file, cached))
        passphrase = _passphrase(confirm=False)
        if passphrase is None:
            raise VaultError(f"{slot_file} needs a passphrase", hint=_NO_PASSPHRASE_HINT)
        master = unlock_keyslot(slot_file, passphrase)
        keycache.store(home, slot_file, master, passphrase, cache_s)
        return Vault(home, master, "passphrase", _keyslot_writer(slot_file, passphrase))

    backend, reason = keychain.secure_backend() if slot != "passphrase" else (None, "disabled")
    if backend is not None:
        existing = keychain.load_master_key(backend, home)
        if existing is not None:
            return Vault(home, existing, "keychain", _keychain_writer(backend, home))
    if slot == "keychain" and backend is None:
        raise VaultError(f"cannot use the OS keychain: {reason}",
                         hint='install a keychain (e.g. gnome-keyring) or set "vault.slot" '
                              'to "passphrase"')

    if _has_data(home):
        raise VaultError(
            f"the master key for {home} is missing (no key slot file, no keychain entry)",
            hint="restore keyslot.json or the keychain entry; data cannot be opened without it",
        )
    master = os.urandom(KEY_BYTES)
    if backend is not None:
        keychain.store_master_key(backend, home, master)
        if keychain.load_master_key(backend, home) != master:
            raise VaultError(f"the keychain backend {reason} did not keep the master key")
        return Vault(home, master, "keychain", _keychain_writer(backend, home))
    passphrase = _passphrase(confirm=True)
    if passphrase is None:
        raise VaultError(
            f"no secure place for the master key: {reason}, and no passphrase was given",
            hint=_NO_PASSPHRASE_HINT,
        )
    write_keyslot(slot_file, master, passphrase, create=True)
    return Vault(home, master, "passphrase", _keyslot_writer(slot_file, passphrase))


def _has_data(home: Path) -> bool:
    return (home / "bastion.db").exists()


def describe_custody(home: Path) -> str:
    """One line for ``bastion doctor`` about where the master key is or would be kept."""
    if (home / FILENAME).exists():
        return f"passphrase key slot ({home / FILENAME})"
    backend, reason = keychain.secure_backend()
    if backend is not None:
        return f"OS keychain ({reason})"
    return f"passphrase key slot (keychain not usable: {reason})"
