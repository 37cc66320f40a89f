"""Crash-safe master-key rotation: a small journal (``rotation.json``) and its recovery.

A rotation re-encrypts several things that cannot be switched in one atomic step (the
database file, the journal blob directory, the audit checkpoint file, the key slot). So the
new versions are first *staged* beside the old ones, and ``rotation.json`` records what is
staged and how far the rotation got:

``prepared``
    staging in progress; the live data and the slot still use the old key. Recovery rolls
    **back**: staged copies are deleted, the old key stays.
``staged``
    every staged copy is complete and fsynced. Recovery rolls **forward**: the new key goes
    into the slot, each staged copy replaces its original (each step is idempotent), and the
    journal is removed last.

``rotation.json`` never holds a plaintext key: it holds the new key sealed with a sub-key of
the old one and the old key sealed with a sub-key of the new one. Whichever key the slot
holds when the process died, recovery can derive the other, so no passphrase or keychain
state beyond the normal unlock is needed, and the file is useless without the slot.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion import jsonsafe
from bastion.errors import BastionError
from bastion.fsutil import atomic_write_json

from .crypto import KEY_BYTES, DecryptionError, derive_subkey, open_sealed, seal

FILENAME = "rotation.json"
STAGED_SUFFIX = ".rotating"
OLD_SUFFIX = ".pre-rotation"
CRASH_ENV = "BASTION_TEST_CRASH_AT"
_WRAP_AAD = b"bastion/rotation/v1"

StoreKey = Callable[[bytes], None]


class RotationError(BastionError):
    """A key rotation cannot start, or an interrupted one cannot be completed."""


def crash_point(phase: str) -> None:
    """Test hook: ``BASTION_TEST_CRASH_AT=<phase>`` kills the process here, like a power cut.

    SIGKILL (not an exception) so no ``finally`` block or atexit handler gets to tidy up.
    """
    if os.environ.get(CRASH_ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)


def key_id(key: bytes) -> str:
    """A short public identifier of a master key (an HMAC, reveals nothing about the key)."""
    return hmac.new(key, b"bastion/key-id/v1", hashlib.sha256).hexdigest()[:16]


def _wrap(kek_master: bytes, key: bytes) -> str:
    return base64.b64encode(seal(derive_subkey(kek_master, "rotation-wrap"), key,
                                 _WRAP_AAD)).decode()


def _unwrap(kek_master: bytes, wrapped: str) -> bytes:
    return open_sealed(derive_subkey(kek_master, "rotation-wrap"), base64.b64decode(wrapped),
                       _WRAP_AAD, what="rotation journal key")


def fsync_path(path: Path) -> None:
    """fsync a file, or every file below a directory, and then the directory entries."""
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                _fsync_one(p, os.O_RDONLY)
        for d in sorted((p for p in path.rglob("*") if p.is_dir()), reverse=True):
            _fsync_one(d, os.O_RDONLY | os.O_DIRECTORY)
        _fsync_one(path, os.O_RDONLY | os.O_DIRECTORY)
    elif path.exists():
        _fsync_one(path, os.O_RDONLY)
    fsync_dir(path.parent)


def _fsync_one(path: Path, flags: int) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse directory fsync
        _fsync_one(path, os.O_RDONLY | os.O_DIRECTORY)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@dataclass
class Swap:
    """One staged replacement: ``target`` (relative to home) ← ``target + .rotating``."""

    target: str
    #: an SQLite file: its -wal/-shm belong to the old key and must go before the rename
    sqlite: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "sqlite": self.sqlite}


@dataclass
class Rotation:
    """An in-progress rotation of the master key of ``home`` (see the module docstring)."""

    home: Path
    old_key: bytes = field(repr=False)
    new_key: bytes = field(repr=False)
    swaps: list[Swap] = field(default_factory=list)
    phase: str = "prepared"

    @property
    def path(self) -> Path:
        return self.home / FILENAME

    def staged(self, target: str) -> Path:
        return self.home / (target + STAGED_SUFFIX)

    def _write(self) -> None:
        atomic_write_json(self.path, {
            "version": 1,
            "phase": self.phase,
            "oldKeyId": key_id(self.old_key),
            "newKeyId": key_id(self.new_key),
            # each key sealed under the other: recoverable from whichever the slot holds
            "newKeyWrappedByOld": _wrap(self.old_key, self.new_key),
            "oldKeyWrappedByNew": _wrap(self.new_key, self.old_key),
            "swaps": [s.to_json() for s in self.swaps],
        })
        fsync_dir(self.home)

    @classmethod
    def begin(cls, home: Path, old_key: bytes) -> Rotation:
        if (home / FILENAME).exists():
            raise RotationError(f"{home / FILENAME}: an earlier rotation is unfinished",
                                hint="run any bastion command once to complete it, then retry")
        rotation = cls(home, old_key, os.urandom(KEY_BYTES))
        rotation._write()
        return rotation

    def stage(self, target: str, *, sqlite: bool = False) -> Path:
        """Register ``target`` for replacement and return the (fresh) path to build it at.

        Registered *before* anything is written, so a crash leaves nothing unaccounted for.
        """
        if self.phase != "prepared":
            raise RotationError("cannot stage after the rotation was committed")
        self.swaps.append(Swap(target, sqlite))
        self._write()
        staged = self.staged(target)
        _remove(staged)
        return staged

    def abort(self) -> None:
        """Undo a rotation that failed before :meth:`commit` (nothing live was touched)."""
        if self.phase == "prepared":
            _roll_back(self)

    def commit(self, store_key: StoreKey) -> None:
        """Everything is staged: make it durable, flip to ``staged``, and roll forward."""
        for swap in self.swaps:
            fsync_path(self.staged(swap.target))
        self.phase = "staged"
        self._write()
        crash_point("staged")
        _roll_forward(self, store_key)


def _load(home: Path) -> dict[str, Any]:
    try:
        doc = jsonsafe.loads((home / FILENAME).read_text(encoding="utf-8"))
        if doc.get("version") != 1 or doc.get("phase") not in ("prepared", "staged"):
            raise ValueError("unsupported rotation journal")
        return dict(doc)
    except (OSError, ValueError) as exc:
        raise RotationError(
            f"{home / FILENAME}: unreadable rotation journal ({exc})",
            hint="restore it from a backup; do not delete it while *.rotating files exist",
        ) from None


def pending(home: Path) -> bool:
    return (home / FILENAME).exists()


def recover(home: Path, slot_key: bytes, store_key: StoreKey) -> bytes:
    """Finish or undo an interrupted rotation; returns the master key that is now valid.

    ``slot_key`` is whatever the slot held (old or new key); ``store_key`` writes a key into
    the slot (needed when rolling forward).
    """
    doc = _load(home)
    try:
        if key_id(slot_key) == doc["oldKeyId"]:
            old, new = slot_key, _unwrap(slot_key, doc["newKeyWrappedByOld"])
        elif key_id(slot_key) == doc["newKeyId"]:
            old, new = _unwrap(slot_key, doc["oldKeyWrappedByNew"]), slot_key
        else:
            raise RotationError(f"{home / FILENAME} belongs to a different master key",
                                hint="it does not match the key in the slot; move it away")
    except DecryptionError as exc:
        raise RotationError(f"{home / FILENAME}: {exc.message}") from None
    rotation = Rotation(home, old, new, [Swap(s["target"], bool(s.get("sqlite")))
                                         for s in doc.get("swaps", [])], doc["phase"])
    if rotation.phase == "prepared":
        _roll_back(rotation)
        return old
    _roll_forward(rotation, store_key)
    return new


def _roll_back(rotation: Rotation) -> None:
    for swap in rotation.swaps:
        _remove(rotation.staged(swap.target))
    fsync_dir(rotation.home)
    rotation.path.unlink(missing_ok=True)
    fsync_dir(rotation.home)


def _roll_forward(rotation: Rotation, store_key: StoreKey) -> None:
    store_key(rotation.new_key)  # idempotent: writing the same key twice is harmless
    crash_point("slot-updated")
    for swap in rotation.swaps:
        _swap_in(rotation, swap)
        crash_point(f"swapped:{swap.target}")
    rotation.path.unlink(missing_ok=True)
    fsync_dir(rotation.home)


def _swap_in(rotation: Rotation, swap: Swap) -> None:
    target = rotation.home / swap.target
    staged = rotation.staged(swap.target)
    old = rotation.home / (swap.target + OLD_SUFFIX)
    if staged.exists() or staged.is_symlink():
        if swap.sqlite:
            # The old file was checkpointed before it was exported, and the staged copy holds
            # everything; a leftover WAL of the old key would be replayed into the new file.
            for suffix in ("-wal", "-shm", "-journal"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            os.replace(staged, target)
        elif staged.is_dir():
            if target.exists():
                os.replace(target, old)  # a directory cannot be replaced in one rename
            os.replace(staged, target)
        else:
            os.replace(staged, target)
        fsync_dir(target.parent)
    if old.exists():
        _remove(old)
