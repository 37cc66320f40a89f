"""The journal's data: what one path looked like (``Side``), what an operation changed.

``current_side`` reads the state of a path without following symlinks anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bastion import safefs
from bastion.errors import BastionError

Kind = Literal["missing", "file", "dir", "symlink"]


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
    """One path's state before and after a journaled operation."""

    path: Path
    before: Side
    after: Side


@dataclass
class Operation:
    """One journaled operation: which tool changed which paths, and when."""

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
    """What an undo or redo did, kept or skipped, and why."""

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
