"""Change sets, undo and redo.

A change set (an *operation*) is recorded before the mutation happens, with the pre-image of
every path in the encrypted blob store. Undo restores the "before" side of each change and is
itself recorded as an operation whose pre-images are the state just before the restore, so an
undo can be undone (that is ``redo``). Undo never moves anything it cannot account for:

- a path whose current state is neither the operation's "after" nor its "before" state was
  changed by someone else; that operation (and every older one on the same paths) is skipped
  unless ``force``, and the rest go ahead (planning and restore order: ``restore.py``);
- a path that did not exist before is deleted only if it still is what the operation made;
  a created directory is removed only when empty, so files the user added survive;
- every pre-image is loaded and verified before anything is touched; an operation with a
  corrupted blob is left exactly as it is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bastion.store import Database

from .blobs import BlobStore, CorruptBlobError
from .model import (
    MISSING,
    Change,
    FileChange,
    JournalError,
    Kind,
    Operation,
    Side,
    UndoResult,
    current_side,
)
from .restore import _final_targets, _inspect, _plan, _read_content, _restore_all, virtual_before
from .schema import MIGRATIONS

BLOB_DIR = "journal/blobs"
__all__ = [
    "BLOB_DIR",
    "MISSING",
    "Change",
    "FileChange",
    "Journal",
    "JournalError",
    "Kind",
    "Operation",
    "Side",
    "UndoResult",
    "current_side",
]

class Journal:
    """The change journal of one Bastion home (blobs on disk, operations in the database)."""

    def __init__(self, db: Database, home: Path, key: bytes, *, owner: str | None = None) -> None:
        self.db = db
        #: the liveness token of the process (write-ahead intents name it)
        self.owner = owner
        self.blobs = BlobStore(home / BLOB_DIR, key)
        db.ensure_schema("journal", MIGRATIONS)

    # ------------------------------------------------------------------ recording
    def store_blob(self, data: bytes) -> str:
        """Store a pre-image durably; returns its SHA-256 (use as ``FileChange.before_hash``)."""
        return self.blobs.put(data)

    def load_blob(self, digest: str) -> bytes:
        return self.blobs.get(digest)

    def record_change_set(self, session_id: str | None, tool_call_id: str | None, tool: str,
                          changes: Sequence[FileChange], *, summary: str = "") -> str:
        """Store pre-images, then record one operation; returns its id. Call *before* mutating
        (the tools do) or, for a shell command, right after with the snapshot's pre-images."""
        rows: list[Change] = []
        for ch in changes:
            if ch.before is not None:
                self.blobs.put(ch.before)
            elif ch.before_hash and not self.blobs.has(ch.before_hash):
                raise JournalError(f"pre-image {ch.before_hash[:12]} of {ch.path} was not stored")
            before, after = ch.sides()
            rows.append(Change(Path(ch.path), before, after))
        return self._insert(session_id, tool_call_id, tool, "change", rows,
                            summary or _summary(tool, rows), [])

    def _insert(self, session_id: str | None, tool_call_id: str | None, tool: str, kind: str,
                rows: list[Change], summary: str, reverts: list[str]) -> str:
        op_id = os.urandom(6).hex()
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO journal_ops (id, session_id, tool_call_id, tool, kind, status, "
                "reverts, summary, created_at) VALUES (?, ?, ?, ?, ?, 'applied', ?, ?, ?)",
                (op_id, session_id, tool_call_id, tool, kind, json.dumps(reverts), summary,
                 time.time()))
            self.db.conn.executemany(
                "INSERT INTO journal_changes (op_id, idx, path, before_kind, before_hash, "
                "before_mode, after_kind, after_hash, after_mode) VALUES (?,?,?,?,?,?,?,?,?)",
                [(op_id, i, str(c.path), c.before.kind, c.before.hash, c.before.mode,
                  c.after.kind, c.after.hash, c.after.mode) for i, c in enumerate(rows)])
        return op_id

    def mark_failed(self, op_id: str) -> None:
        """The mutation recorded as ``op_id`` did not happen (undo will skip it)."""
        self.db.execute("UPDATE journal_ops SET status = 'failed' WHERE id = ?", (op_id,))

    # ------------------------------------------------------------------ reading
    def _ops(self, where: str, params: Iterable[Any], *, with_changes: bool = True,
             limit: int | None = None) -> list[Operation]:
        sql = f"SELECT * FROM journal_ops WHERE {where} ORDER BY seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        ops = [Operation(r["id"], r["seq"], r["session_id"], r["tool_call_id"], r["tool"],
                         r["kind"], r["status"], json.loads(r["reverts"] or "[]"), r["summary"],
                         r["created_at"]) for r in self.db.query(sql, tuple(params))]
        if with_changes:
            for op in ops:
                op.changes = [
                    Change(Path(r["path"]), Side(r["before_kind"], r["before_hash"], r["before_mode"]),
                           Side(r["after_kind"], r["after_hash"], r["after_mode"]))
                    for r in self.db.query("SELECT * FROM journal_changes WHERE op_id = ? "
                                           "ORDER BY idx", (op.id,))]
        return ops

    def operations(self, session_id: str | None = None, limit: int = 200) -> list[Operation]:
        """Operations, newest first (optionally of one session)."""
        if session_id:
            return self._ops("session_id = ?", (session_id,), limit=limit)
        return self._ops("1 = 1", (), limit=limit)

    def get(self, op_id: str) -> Operation:
        ops = self._ops("id = ? OR id LIKE ?", (op_id, op_id.replace("%", "") + "%"), limit=2)
        exact = [o for o in ops if o.id == op_id]
        ops = exact or ops
        if not ops:
            raise JournalError(f"no operation '{op_id}'", hint="`bastion changes` lists them")
        if len(ops) > 1:
            raise JournalError(f"'{op_id}' matches more than one operation; give more of the id")
        return ops[0]

    def max_seq(self) -> int:
        """The sequence number of the newest operation (0 for an empty journal)."""
        row = self.db.query("SELECT COALESCE(MAX(seq), 0) FROM journal_ops")
        return int(row[0][0])

    def others_since(self, seq: int, session_id: str | None) -> dict[str, tuple[str, str | None]]:
        """Paths other sessions' operations after ``seq`` changed: path → (kind, hash) they
        left (the newest wins). A command's diff leaves these out: they are not its changes."""
        rows = self.db.query(
            "SELECT c.path, c.after_kind, c.after_hash FROM journal_changes c JOIN journal_ops o "
            "ON o.id = c.op_id WHERE o.seq > ? AND o.session_id IS NOT ? ORDER BY o.seq, c.idx",
            (seq, session_id))
        return {r["path"]: (r["after_kind"], r["after_hash"]) for r in rows}

    def last_applied(self, n: int, session_id: str | None = None) -> list[Operation]:
        where = "kind = 'change' AND status = 'applied'"
        params: tuple[Any, ...] = ()
        if session_id:
            where += " AND session_id = ?"
            params = (session_id,)
        return self._ops(where, params, limit=n)

    # ------------------------------------------------------------------ undo / redo
    def undo(self, ops: Sequence[Operation], *, force: bool = False,
             session_id: str | None = None, kind: str = "undo") -> UndoResult:
        """Revert ``ops`` as one recorded operation, restoring what can be restored.

        An operation whose files changed since (without ``force``) is skipped, and so is every
        older one that touched the same paths; the rest go ahead. The undo is recorded (with
        the pre-restore state) *before* anything is restored, so an interrupted undo is
        finished by running it again: a path already back in its old state counts as done.
        """
        ops = sorted(ops, key=lambda o: -o.seq)
        for op in ops:
            if op.status != "applied":
                raise JournalError(f"operation {op.id} is {op.status}; nothing to revert")
        if not any(op.changes for op in ops):
            raise JournalError("nothing to undo")
        ops, skipped, conflicts = _plan(ops, force)
        if not ops:
            raise JournalError(
                "refusing to undo: changed since the operation: "
                + "; ".join(list(skipped.values())[:5])
                + (f" (+{len(skipped) - 5} more)" if len(skipped) > 5 else ""),
                hint="inspect the files, then repeat with --force to overwrite them "
                     "(their current state is saved, so that can be undone too)")
        steps = [(op, ch) for op in ops for ch in reversed(op.changes)]
        contents = self._contents(steps)
        for op in list(ops):  # a corrupt pre-image: that operation is left exactly as it is
            bad = [ch.path for ch in op.changes if ch.before.kind in ("file", "symlink")
                   and ch.before.hash not in contents]
            if bad:
                ops.remove(op)
                skipped[op.id] = f"cannot restore {bad[0]}: its saved version is corrupted"
        if not ops:
            raise JournalError("; ".join(skipped.values()) + "; nothing was restored")
        steps = [(op, ch) for op in ops for ch in reversed(op.changes)]

        # Save the pre-restore state of every path and record the undo, then restore.
        saved: list[Change] = []
        seen: set[Path] = set()
        for _, ch in steps:
            now = _inspect(ch.path) if ch.path not in seen else None
            seen.add(ch.path)
            if now is not None and now.kind in ("file", "symlink"):
                self.blobs.put(_read_content(ch.path, now))
            saved.append(Change(ch.path, now if now is not None else virtual_before(saved, ch.path),
                                ch.before))
        summary = f"{kind} of " + ", ".join(op.id for op in ops)
        undo_id = self._insert(session_id, None, kind, kind, saved, summary, [o.id for o in ops])
        kept, failed = _restore_all(_final_targets(steps), contents)
        done = [op for op in ops if not any(str(c.path) in failed for c in op.changes)]
        with self.db.transaction():
            for path in kept:  # a created directory that now holds someone else's files stays
                self.db.execute("UPDATE journal_changes SET after_kind = 'dir', after_mode = NULL "
                                "WHERE op_id = ? AND path = ?", (undo_id, path))
            for op in done:
                self.db.execute("UPDATE journal_ops SET status = 'undone' WHERE id = ?", (op.id,))
                # reverting an undo re-applies what that undo had reverted
                for reverted in op.reverts if op.kind in ("undo", "redo") else []:
                    self.db.execute("UPDATE journal_ops SET status = 'applied' WHERE id = ? "
                                    "AND status = 'undone'", (reverted,))
        return UndoResult(self.get(undo_id), [o.id for o in done], kept,
                          [c.split(" (")[0] for c in conflicts], skipped=skipped, failed=failed)

    def _contents(self, steps: list[tuple[Operation, Change]]) -> dict[str, bytes]:
        """The verified pre-images the restore needs (a corrupt one fails only its path)."""
        contents: dict[str, bytes] = {}
        for _, ch in steps:
            if ch.before.kind in ("file", "symlink") and ch.before.hash not in contents:
                assert ch.before.hash is not None
                try:
                    contents[ch.before.hash] = self.blobs.get(ch.before.hash)
                except CorruptBlobError:
                    continue
        return contents

    def redo(self, *, force: bool = False) -> UndoResult:
        """Undo the most recent undo that is still in effect."""
        ops = self._ops("kind = 'undo' AND status = 'applied'", (), limit=1)
        if not ops:
            raise JournalError("nothing to redo")
        return self.undo(ops, force=force, kind="redo")

def _summary(tool: str, rows: list[Change]) -> str:
    names = [r.path.name for r in rows if r.before.kind != "dir" and r.after.kind != "dir"]
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    return f"{tool} {shown}".strip()

