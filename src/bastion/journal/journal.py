"""Change sets, undo and redo.

A change set (an *operation*) is recorded before the mutation happens, with the pre-image of
every path in the encrypted blob store. Undo restores the "before" side of each change and is
itself recorded as an operation whose pre-images are the state just before the restore, so an
undo can be undone (that is ``redo``). Undo never moves anything it cannot account for:

- a path whose current state is not the operation's "after" state was changed by someone
  else; undo refuses (unless ``force``) and says which paths;
- a path that did not exist before is deleted only if it still is what the operation made;
  a created directory is removed only when empty, so files the user added survive;
- every pre-image is loaded and verified before anything is touched; a corrupted blob stops
  the undo with nothing restored.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bastion import safefs
from bastion.errors import BastionError
from bastion.store import Database

from .blobs import BlobStore, CorruptBlobError
from .schema import MIGRATIONS

Kind = Literal["missing", "file", "dir", "symlink"]
BLOB_DIR = "journal/blobs"


class JournalError(BastionError):
    """An undo/redo that cannot be done safely, or an unknown operation."""


@dataclass(frozen=True)
class Side:
    """The state of one path at one moment: what kind of entry, its content hash, its mode."""

    kind: Kind
    hash: str | None = None  # files: SHA-256 of content; symlinks: of the link target
    mode: int | None = None

    def same_as(self, other: Side) -> bool:
        if self.kind != other.kind:
            return False
        if self.kind in ("file", "symlink") and self.hash != other.hash:
            return False
        return self.kind == "symlink" or self.mode is None or other.mode is None \
            or self.mode == other.mode


MISSING = Side("missing")


@dataclass
class FileChange:
    """One path changed by an operation (the API the sandbox uses for shell commands).

    ``before`` is the content before the change (bytes for a file, the link target for a
    symlink) or None when the path did not exist (``before_kind`` "missing"). Instead of
    bytes a caller may pass ``before_hash`` of a blob it stored with ``Journal.store_blob``.
    ``after_hash``/``after_mode``/``after_kind`` describe the state the change leaves.
    Directories: ``before_kind``/``after_kind`` "dir" with a mode; no content.
    """

    path: Path
    before: bytes | None = None
    before_mode: int | None = None
    after_hash: str | None = None
    after_mode: int | None = None
    before_kind: Kind | None = None  # default: "file" if before/before_hash else "missing"
    after_kind: Kind | None = None  # default: "file" if after_hash else "missing"
    before_hash: str | None = None

    def sides(self) -> tuple[Side, Side]:
        bkind: Kind = self.before_kind or (
            "file" if self.before is not None or self.before_hash else "missing")
        akind: Kind = self.after_kind or ("file" if self.after_hash else "missing")
        bhash = self.before_hash
        if self.before is not None:
            bhash = safefs.sha256(self.before)
        return (Side(bkind, bhash if bkind in ("file", "symlink") else None, self.before_mode),
                Side(akind, self.after_hash if akind in ("file", "symlink") else None,
                     self.after_mode))


@dataclass
class Change:
    path: Path
    before: Side
    after: Side


@dataclass
class Operation:
    id: str
    seq: int
    session_id: str | None
    tool_call_id: str | None
    tool: str
    kind: str  # change | undo | redo
    status: str  # applied | undone | failed
    reverts: list[str]
    summary: str
    created_at: float
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "seq": self.seq, "session_id": self.session_id,
            "tool_call_id": self.tool_call_id, "tool": self.tool, "kind": self.kind,
            "status": self.status, "reverts": self.reverts, "summary": self.summary,
            "created_at": self.created_at,
            "changes": [{"path": str(c.path),
                         "before": {"kind": c.before.kind, "hash": c.before.hash,
                                    "mode": c.before.mode},
                         "after": {"kind": c.after.kind, "hash": c.after.hash,
                                   "mode": c.after.mode}} for c in self.changes],
        }


@dataclass
class UndoResult:
    op: Operation  # the undo/redo operation that was recorded
    reverted: list[str]
    kept: list[str]  # created directories left in place because they are not empty
    forced: list[str]  # paths that had changed and were overwritten because of --force
    #: operations left as they are: op id → why (changed since, or blocked by a newer one)
    skipped: dict[str, str] = field(default_factory=dict)
    #: paths that could not be restored: path → why (their operation stays "applied")
    failed: dict[str, str] = field(default_factory=dict)


def current_side(path: Path) -> Side:
    """The state of ``path`` on disk, read without following symlinks anywhere."""
    try:
        with safefs.parent_dir(path) as dfd:
            entry = safefs.entry_at(dfd, path.name)
            if entry.kind == "file":
                return Side("file", safefs.sha256(safefs.read_at(dfd, path.name)), entry.mode)
            if entry.kind == "symlink":
                target = os.readlink(path.name, dir_fd=dfd)
                return Side("symlink", safefs.sha256(os.fsencode(target)), None)
            if entry.kind == "dir":
                return Side("dir", None, entry.mode)
            if entry.kind == "missing":
                return MISSING
            raise JournalError(f"{path} is a special file; not touched")
    except FileNotFoundError:
        return MISSING


def _describe(side: Side) -> str:
    return "missing" if side.kind == "missing" else side.kind


class Journal:
    """The change journal of one Bastion home (blobs on disk, operations in the database)."""

    def __init__(self, db: Database, home: Path, key: bytes) -> None:
        self.db = db
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
        op_id = uuid.uuid4().hex[:12]
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


def virtual_before(saved: list[Change], path: Path) -> Side:
    """For a path seen earlier in the same undo, its state is what the earlier step restored."""
    for ch in reversed(saved):
        if ch.path == path:
            return ch.after
    return MISSING


def _read_content(path: Path, side: Side) -> bytes:
    with safefs.parent_dir(path) as dfd:
        if side.kind == "symlink":
            return os.fsencode(os.readlink(path.name, dir_fd=dfd))
        return safefs.read_at(dfd, path.name)


def _inspect(path: Path) -> Side:
    """``current_side``, where a path whose parent is no longer a real folder (replaced by a
    link or a file) counts as missing: nothing there is ours, and nothing is followed."""
    try:
        return current_side(path)
    except (OSError, safefs.UnsafePathError):
        return MISSING


def _plan(ops: list[Operation], force: bool
          ) -> tuple[list[Operation], dict[str, str], list[str]]:
    """Which ops (newest first) can be undone; the skipped ones with the reason; conflicts
    overwritten because of ``force``. A path already in its old state is not a conflict."""
    virtual: dict[Path, Side] = {}
    blocked: set[Path] = set()
    chosen: list[Operation] = []
    skipped: dict[str, str] = {}
    forced: list[str] = []
    for op in ops:
        paths = {ch.path for ch in op.changes}
        if paths & blocked:
            skipped[op.id] = (f"operation {op.id}: a newer operation that is not undone "
                              "changed the same paths")
            blocked |= paths
            continue
        conflicts = []
        trial = dict(virtual)
        for ch in reversed(op.changes):
            found = trial[ch.path] if ch.path in trial else _inspect(ch.path)
            if not found.same_as(ch.after) and not found.same_as(ch.before):
                detail = " with different content or mode" if found.kind == ch.after.kind else ""
                conflicts.append(f"{ch.path} (expected {_describe(ch.after)} from operation "
                                 f"{op.id}, found {_describe(found)}{detail})")
            trial[ch.path] = ch.before
        if conflicts and not force:
            skipped[op.id] = "; ".join(conflicts[:3])
            blocked |= paths
            continue
        forced += conflicts
        virtual = trial
        chosen.append(op)
    return chosen, skipped, forced


def _final_targets(steps: list[tuple[Operation, Change]]) -> dict[Path, Side]:
    """Each path's state to restore: the ``before`` of the oldest change in the undo."""
    targets: dict[Path, Side] = {}
    for _, ch in steps:  # newest first, so the oldest change's "before" is assigned last
        targets[ch.path] = ch.before
    return targets


def _restore_all(targets: dict[Path, Side], contents: dict[str, bytes]
                 ) -> tuple[list[str], dict[str, str]]:
    """Restore in a safe order: removals deepest first, then folders and files parents first
    (so a link that replaced a folder is replaced again, never written through). One path
    that fails is reported and never stops the others."""
    removals = sorted((p for p, t in targets.items() if t.kind == "missing"),
                      key=lambda p: -len(p.parts))
    creations = sorted((p for p, t in targets.items() if t.kind != "missing"),
                       key=lambda p: len(p.parts))
    kept: list[str] = []
    failed: dict[str, str] = {}
    for path in targets:
        sweep_temps(path)
    for path in [*removals, *creations]:
        target = targets[path]
        if target.kind == "missing" and _inspect(path).kind == "missing":
            continue  # already gone (or its folder was replaced: nothing of ours is there)
        if target.hash is not None and target.kind != "dir" and target.hash not in contents:
            failed[str(path)] = "its saved version is missing or corrupted"
            continue
        try:
            kept += _restore(path, target, contents)
        except (OSError, BastionError) as exc:
            failed[str(path)] = getattr(exc, "message", None) or str(exc)
    return kept, failed


def sweep_temps(path: Path) -> None:
    """Remove what a killed atomic write of ``path`` left beside it (safefs's temp files)."""
    pattern = re.compile(r"\." + re.escape(path.name[:100]) + r"\.bastion-[0-9a-f]{12}\.tmp")
    try:
        with safefs.parent_dir(path) as dfd:
            for name in os.listdir(dfd):
                if pattern.fullmatch(name) and safefs.entry_at(dfd, name).kind == "file":
                    os.unlink(name, dir_fd=dfd)
    except (OSError, safefs.UnsafePathError):
        return


def _restore(path: Path, target: Side, contents: dict[str, bytes]) -> list[str]:
    """Make ``path`` match ``target``; returns paths deliberately left in place."""
    if target.kind == "missing":
        try:
            with safefs.parent_dir(path) as dfd:
                entry = safefs.entry_at(dfd, path.name)
                if entry.kind == "dir":
                    try:
                        os.rmdir(path.name, dir_fd=dfd)
                    except OSError:
                        return [str(path)]  # not empty: holds files someone else made
                elif entry.kind != "missing":
                    os.unlink(path.name, dir_fd=dfd)
                safefs.fsync_dir(dfd)
        except FileNotFoundError:
            pass
        return []
    with safefs.parent_dir(path, create=True) as dfd:
        entry = safefs.entry_at(dfd, path.name)
        if target.kind == "dir":
            if entry.kind not in ("dir", "missing"):
                os.unlink(path.name, dir_fd=dfd)
            if entry.kind != "dir":
                os.mkdir(path.name, 0o700, dir_fd=dfd)
            if target.mode is not None:
                os.chmod(path.name, target.mode, dir_fd=dfd, follow_symlinks=False)
            return []
        assert target.hash is not None
        data = contents[target.hash]
        if entry.kind == "dir":
            raise JournalError(f"cannot restore {path}: a directory is in the way")
        if target.kind == "symlink":
            if entry.kind != "missing":
                os.unlink(path.name, dir_fd=dfd)
            os.symlink(os.fsdecode(data), path.name, dir_fd=dfd)
            return []
        if entry.kind == "symlink":
            os.unlink(path.name, dir_fd=dfd)  # rename would replace it anyway; be explicit
        mode = target.mode if target.mode is not None else safefs.DEFAULT_FILE_MODE
        safefs.write_atomic_at(dfd, path.name, data, mode)
    return []


def _summary(tool: str, rows: list[Change]) -> str:
    names = [r.path.name for r in rows if r.before.kind != "dir" and r.after.kind != "dir"]
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    return f"{tool} {shown}".strip()
