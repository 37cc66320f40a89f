"""The change journal: encrypted pre-images, change sets per tool call, undo and redo.

Public API
----------
``Journal(db: Database, home: Path, key: bytes)`` — ``key`` is ``vault.subkey("journal")``;
``open_journal(rt)`` builds it from a :class:`~bastion.runtime.Runtime`.

- ``journal.store_blob(data: bytes) -> str`` — store a pre-image (encrypted, fsynced) and
  return its SHA-256; ``journal.load_blob(sha256) -> bytes`` verifies it (``CorruptBlobError``).
- ``journal.record_change_set(session_id, tool_call_id, tool, changes: Sequence[FileChange],
  *, summary="") -> str`` — records one operation and returns its id. For a shell command
  the sandbox stores pre-images with ``store_blob`` before the command runs (or passes the
  bytes), then records one ``FileChange`` per path that changed:

  ``FileChange(path, before=bytes | None, before_mode=int | None, after_hash=str | None,
  after_mode=int | None, before_kind=None, after_kind=None, before_hash=None)``

  ``before=None`` (and no ``before_hash``) means the path was created; ``after_hash=None``
  (with no ``after_kind``) means it was deleted. Kinds are "missing", "file", "dir",
  "symlink" (for a symlink, ``before`` is the link target and ``after_hash`` the SHA-256 of
  the new target); directories carry only a mode.
- ``journal.mark_failed(op_id)`` — the recorded mutation did not happen.
- ``journal.operations(session_id=None, limit=200) -> list[Operation]`` (newest first),
  ``journal.get(op_id_or_prefix)``, ``journal.last_applied(n, session_id=None)``.
- ``journal.undo(ops, *, force=False) -> UndoResult`` and ``journal.redo(*, force=False)``.
- ``begin_intent(journal, before_snapshot, session_id=, tool_call_id=, tool=, summary=) -> id``
  before a command runs, ``end_intent(journal, id)`` once its changes are recorded, and
  ``recover_intents(journal, alive) -> [op_id]`` at start-up: a command whose process died
  (SIGKILL) has its changes recorded then (:mod:`bastion.journal.intents`).
- ``current_side(path) -> Side`` — the state of a path (kind, content hash, mode), read
  without following symlinks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bastion.store import Database

from .blobs import BlobStore, CorruptBlobError
from .intents import begin_intent, end_intent, recover_intents
from .journal import (
    Change,
    FileChange,
    Journal,
    JournalError,
    Operation,
    Side,
    UndoResult,
    current_side,
)
from .snapshot import (
    ChangeRecord,
    MemoryBlobStore,
    Skipped,
    Snapshot,
    SnapshotCache,
    diff_snapshots,
    revert,
    take_snapshot,
    to_file_changes,
)


class _Opened(Protocol):
    """What opening the journal needs (:class:`bastion.runtime.Runtime` has it; naming it
    here keeps ``journal`` below the wiring layer)."""

    db: Database
    home: Path

    @property
    def vault(self) -> _Keys: ...


class _Keys(Protocol):
    def subkey(self, purpose: str) -> bytes: ...


def open_journal(rt: _Opened) -> Journal:
    return Journal(rt.db, rt.home, rt.vault.subkey("journal"),
                   owner=getattr(rt, "owner_id", None))


__all__ = [
    "BlobStore",
    "Change",
    "ChangeRecord",
    "CorruptBlobError",
    "FileChange",
    "Journal",
    "JournalError",
    "MemoryBlobStore",
    "Operation",
    "Side",
    "Skipped",
    "Snapshot",
    "SnapshotCache",
    "UndoResult",
    "begin_intent",
    "current_side",
    "diff_snapshots",
    "end_intent",
    "open_journal",
    "recover_intents",
    "revert",
    "take_snapshot",
    "to_file_changes",
]
