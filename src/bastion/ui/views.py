"""Read-only data for the pages, gathered through the packages' public faces (no business logic)."""

from __future__ import annotations

import collections
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.audit import Entry, entry_payload, parse_since
from bastion.rights import TELEMETRY_FILENAME as TELEMETRY_FILE
from bastion.runtime import Runtime

if TYPE_CHECKING:  # the journal loads the policy (and its shell parser): on first use only
    from bastion.journal import Journal, Operation

DIFF_INPUT_LIMIT = 200_000  # bytes per side: bounded work for a page view
DIFF_LINES = 400


@dataclass
class FileDiff:
    path: str
    before: str
    after: str
    diff: str


def bounded_diff(path: str, old: bytes | None, new: bytes | None) -> str:
    if (old and len(old) > DIFF_INPUT_LIMIT) or (new and len(new) > DIFF_INPUT_LIMIT):
        return "(file too large to diff here)"
    if b"\0" in (old or b"") or b"\0" in (new or b""):
        return "(binary content)"
    a = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    b = (new or b"").decode("utf-8", "replace").splitlines(keepends=True)
    sep = "" if path.startswith("/") else "/"
    lines = list(difflib.unified_diff(a, b, f"a{sep}{path}" if old is not None else "/dev/null",
                                      f"b{sep}{path}" if new is not None else "/dev/null", n=2))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… ({len(lines) - DIFF_LINES} more lines)\n"]
    return "".join(lines)


def _content(journal: Journal, path: Path, digest: str | None, kind: str) -> bytes | None:
    """A side's file content: from the journal's saved versions, or the file if it still matches."""
    from bastion.journal import CorruptBlobError, current_side

    if kind != "file" or digest is None:
        return None
    try:
        return journal.load_blob(digest)
    except (CorruptBlobError, OSError, KeyError, ValueError):
        pass
    try:
        if current_side(path).hash == digest:
            return path.read_bytes()
    except OSError:
        pass
    raise LookupError


def operation_diffs(journal: Journal, op: Operation) -> list[FileDiff]:
    diffs = []
    for change in op.changes:
        before, after = change.before, change.after
        try:
            old = _content(journal, change.path, before.hash, before.kind)
            new = _content(journal, change.path, after.hash, after.kind)
            text = bounded_diff(str(change.path), old, new) or "(no content change)"
        except LookupError:
            text = "(that version of the file is no longer available)"
        diffs.append(FileDiff(str(change.path), before.kind, after.kind, text))
    return diffs


def changes_view(rt: Runtime, session: str | None, limit: int) -> list[tuple[Operation,
                                                                          list[FileDiff]]]:
    from bastion.journal import open_journal

    journal = open_journal(rt)
    return [(op, operation_diffs(journal, op)) for op in journal.operations(session, limit)]


def audit_entries(rt: Runtime, *, category: str | None, session: str | None,
                  since: str | None, limit: int, after_seq: int | None = None
                  ) -> list[tuple[Entry, dict[str, Any] | None]]:
    """The newest ``limit`` records matching the filters, newest first."""
    since_ts = parse_since(since) if since else None
    recent: collections.deque[Entry] = collections.deque(maxlen=limit)
    recent.extend(rt.audit.entries(since=since_ts, session_id=session or None,
                                   category=category or None, after_seq=after_seq))
    return [(e, entry_payload(e)) for e in reversed(recent)]


def telemetry_record(home: Path) -> str | None:
    """The local telemetry file exactly as stored (it holds counts, never content)."""
    path = home / TELEMETRY_FILE
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def sync_configured() -> bool:
    from bastion.config import load_settings

    return bool(load_settings().sync.backend)
