"""Write-ahead intents for commands: what a command changed is recoverable after a SIGKILL.

A command's effects are journaled when it finishes; a process killed while the command runs
(SIGKILL, power loss) used to lose them — undo could not restore what the command deleted or
appended. Now, before the command starts, its pre-command snapshot (every file's pre-image is
already in the encrypted blob store) is written as an *intent* row; the row is removed once
the command's change set is recorded. At the next start-up (:func:`recover_intents`), an intent
whose owning process is dead is finished: the granted folders are snapshotted again, the
difference is recorded as the command's operation (summary marked "interrupted"), and the
intent is removed — so ``bastion undo`` restores the tree as it was before the command.

Changes another process made in the same folders after the crash and before the recovery are
attributed to the interrupted command (they are undoable, not lost).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .snapshot import Entry, Snapshot, diff_snapshots, take_snapshot, to_file_changes

if TYPE_CHECKING:
    from .journal import Journal


def begin_intent(journal: Journal, before: Snapshot, *, session_id: str | None,
                 tool_call_id: str | None, tool: str, summary: str) -> str:
    """Record that a command is about to run over ``before.roots``; returns the intent id."""
    entries = {p: [e.kind, e.mode, e.size, e.sha256, e.target] for p, e in before.entries.items()}
    intent_id = os.urandom(16).hex()
    journal.db.execute(
        "INSERT INTO journal_intents (id, owner, session_id, tool_call_id, tool, summary, roots, "
        "entries, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (intent_id, journal.owner, session_id, tool_call_id, tool, summary,
         json.dumps(before.roots), json.dumps(entries), time.time()))
    return intent_id


def end_intent(journal: Journal, intent_id: str) -> None:
    """The command's changes are recorded (or there were none): the intent is done."""
    journal.db.execute("DELETE FROM journal_intents WHERE id = ?", (intent_id,))


def recover_intents(journal: Journal, alive: Callable[[str], bool],
                    foreign: Callable[[str], bool] | None = None) -> list[str]:
    """Finish the intents of dead owners; returns the ids of the operations recorded.
    ``foreign(path)``: a file that appeared meanwhile but is not the command's doing (the
    sandbox's own placeholders, left by the kill) — not recorded as created by it."""
    rows = journal.db.query("SELECT * FROM journal_intents ORDER BY created_at")
    recorded: list[str] = []
    for row in rows:
        owner = row["owner"]
        if owner is not None and alive(owner):
            continue  # a live process's command: it records its own changes
        op = _recover(journal, row, foreign)
        if op is not None:
            recorded.append(op)
        end_intent(journal, row["id"])
    return recorded


def _recover(journal: Journal, row: Any, foreign: Callable[[str], bool] | None) -> str | None:
    roots = json.loads(row["roots"])
    before = Snapshot(roots=roots)
    for path, (kind, mode, size, sha, target) in json.loads(row["entries"]).items():
        before.entries[path] = Entry(kind, mode, size, sha, target)
    after = take_snapshot(roots, journal.blobs)
    changes = [c for c in diff_snapshots(before, after)
               if not (foreign and c.action == "created" and foreign(c.path))]
    if not changes:
        return None
    return journal.record_change_set(
        row["session_id"], row["tool_call_id"], row["tool"], to_file_changes(changes),
        summary=f"{row['summary']} (interrupted; recovered at start-up)")
