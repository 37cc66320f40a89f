"""Copies of the signed checkpoint kept outside the data directory (rollback detection).

The checkpoint beside the key slot proves the database was not cut short — unless the whole
data directory is put back from an older copy, checkpoint and all. So every checkpoint is also
written to *anchors* that such a restore does not touch:

* the OS keychain (where ``keyring`` has a usable backend), one entry per data directory;
* ``<audit.logPath>.checkpoint`` beside the external audit log file, when one is configured.

An anchor only moves forward and is never overwritten by a checkpoint that contradicts it, so
the evidence survives later runs. Start-up and ``audit verify`` compare the database with the
anchors; ``bastion audit accept-restore`` re-anchors after a deliberate restore (audited).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

from bastion.fsutil import atomic_write_json
from bastion.vault import keychain_switched_off

from .checkpoint import Checkpoint, CheckpointInvalid, CheckpointSigner

SERVICE = "bastion"


class Anchor(Protocol):
    where: str

    def read_text(self) -> str | None: ...

    def write_text(self, text: str) -> None: ...

    def forget(self) -> bool: ...


class KeychainAnchor:
    """The OS keychain entry ``bastion`` / ``audit-anchor:<home digest>``."""

    def __init__(self, home: Path) -> None:
        self.account = "audit-anchor:" + hashlib.sha256(str(home).encode()).hexdigest()[:16]
        self.where = "the OS keychain"

    def _backend(self):  # type: ignore[no-untyped-def]
        if keychain_switched_off():
            return None
        try:
            import keyring

            backend = keyring.get_keyring()
        except Exception:
            return None
        name = type(backend).__module__
        return None if name.startswith(("keyring.backends.fail", "keyring.backends.null")) \
            else backend

    def read_text(self) -> str | None:
        backend = self._backend()
        if backend is None:
            return None
        try:
            value = backend.get_password(SERVICE, self.account)
        except Exception:
            return None
        return str(value) if value else None

    def write_text(self, text: str) -> None:
        backend = self._backend()
        if backend is not None:
            with contextlib.suppress(Exception):  # best effort: the other anchors remain
                backend.set_password(SERVICE, self.account, text)

    def forget(self) -> bool:
        backend = self._backend()
        if backend is None or self.read_text() is None:
            return False
        with contextlib.suppress(Exception):
            backend.delete_password(SERVICE, self.account)
        return self.read_text() is None


class FileAnchor:
    """``<logPath>.checkpoint``: beside the external audit log, outside the data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def read_text(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write_text(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, json.loads(text))

    def forget(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def anchors_for(home: Path, log_path: Path | None) -> list[Anchor]:
    found: list[Anchor] = [KeychainAnchor(home)]
    if log_path is not None:
        found.append(FileAnchor(log_path.with_name(log_path.name + ".checkpoint")))
    return found


def forget_external(home: Path, log_path: Path | None) -> list[str]:
    """``delete --all``: remove the anchors and the rotated parts of ``logPath`` (what was
    removed, for the report)."""
    from .files import rotated_segments

    removed = [a.where for a in anchors_for(home, log_path) if a.forget()]
    for part in rotated_segments(log_path) if log_path is not None else []:
        part.unlink()
        removed.append(str(part))
    return removed


def read_anchor(anchor: Anchor, signer: CheckpointSigner) -> Checkpoint | None:
    """The anchored checkpoint (None: none stored); raises :class:`CheckpointInvalid`."""
    text = anchor.read_text()
    return None if text is None else signer.parse(text, anchor.where)


def write_anchor(anchor: Anchor, signer: CheckpointSigner, checkpoint: Checkpoint) -> None:
    anchor.write_text(json.dumps(signer.document(checkpoint)))


def _mac_at(conn: Any, seq: int) -> str | None:
    row = conn.execute("SELECT mac FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def advance_anchors(anchors: list[Anchor], signer: CheckpointSigner, conn: Any,
                    checkpoint: Checkpoint) -> None:
    """Move every anchor forward to ``checkpoint`` — except one that the database
    contradicts (or that does not verify): that one is the evidence of a rollback."""
    for anchor in anchors:
        try:
            existing = read_anchor(anchor, signer)
        except CheckpointInvalid:
            continue
        if existing is not None and (existing.seq > checkpoint.seq
                                     or _mac_at(conn, existing.seq) != existing.mac):
            continue
        if existing is None or existing.seq < checkpoint.seq:
            with contextlib.suppress(OSError):  # an unwritable anchor is reported by verify
                write_anchor(anchor, signer, checkpoint)


def rollback_problems(anchors: list[Anchor], signer: CheckpointSigner, conn: Any) -> list[str]:
    """Why the database looks older than (or different from) what its anchors recorded."""
    head = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0] or 0
    problems = []
    for anchor in anchors:
        try:
            anchored = read_anchor(anchor, signer)
        except CheckpointInvalid as exc:
            problems.append(f"the audit anchor in {anchor.where} does not verify: {exc}")
            continue
        if anchored is None:
            continue
        if anchored.seq > head:
            problems.append(f"the data directory is older than its anchor in {anchor.where}: "
                            f"audit record {anchored.seq} was signed at {anchored.time}, the "
                            f"log now ends at record {head} (restored from an older copy?)")
        elif _mac_at(conn, anchored.seq) != anchored.mac:
            problems.append(f"the data directory does not match its anchor in {anchor.where}: "
                            f"audit record {anchored.seq} (signed at {anchored.time}) is a "
                            "different record now (restored from an older copy, then used?)")
    return problems


def reset_anchors(anchors: list[Anchor], signer: CheckpointSigner,
                  checkpoint: Checkpoint) -> None:
    """After an accepted restore: every anchor starts again from ``checkpoint``."""
    for anchor in anchors:
        write_anchor(anchor, signer, checkpoint)


__all__ = ["Anchor", "CheckpointInvalid", "FileAnchor", "KeychainAnchor", "advance_anchors",
           "anchors_for", "forget_external", "read_anchor", "reset_anchors",
           "rollback_problems", "write_anchor"]
