"""Undo/redo: byte-identical restores, refusals, corrupted blobs, restarts."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from bastion.journal import FileChange, Journal, JournalError
from bastion.store import Database
from bastion.tools import ToolContext
from bastion.tools.edit import DeleteFile, MoveFile, WriteFile


def call(tool: Any, ctx: ToolContext, **args: Any) -> None:
    r = tool.run(tool.parse(args), ctx)
    assert not r.is_error, r.content


def test_undo_restores_bytes_and_modes_and_redo_reapplies(ctx: ToolContext, workspace: Path,
                                                          journal: Journal) -> None:
    f = workspace / "run.sh"
    f.write_bytes(b"#!/bin/sh\n\x00binary\n")
    f.chmod(0o741)
    call(WriteFile(), ctx, path="run.sh", content="changed")
    call(WriteFile(), ctx, path="new/dir/n.txt", content="n")
    call(MoveFile(), ctx, source="README.md", destination="docs/README.md")
    call(DeleteFile(), ctx, path="src/app.py")
    ops = journal.last_applied(100, "s1")
    assert len(ops) == 4
    result = journal.undo(ops)
    assert f.read_bytes() == b"#!/bin/sh\n\x00binary\n" and stat.S_IMODE(f.stat().st_mode) == 0o741
    assert not (workspace / "new").exists() and not (workspace / "docs").exists()
    assert (workspace / "README.md").read_text() == "# demo\n"
    assert (workspace / "src" / "app.py").read_text() == "print('hello')\n"
    assert sorted(result.reverted) == sorted(o.id for o in ops)
    journal.redo()
    assert f.read_text() == "changed" and (workspace / "new" / "dir" / "n.txt").read_text() == "n"
    assert not (workspace / "src" / "app.py").exists()
    # and undo again (the originals are applied again after the redo)
    journal.undo(journal.last_applied(100, "s1"))
    assert (workspace / "src" / "app.py").exists() and not (workspace / "new").exists()


def test_undo_refuses_when_changed_since_unless_forced(ctx: ToolContext, workspace: Path,
                                                       journal: Journal) -> None:
    call(WriteFile(), ctx, path="README.md", content="agent")
    (workspace / "README.md").write_text("user edit")
    with pytest.raises(JournalError, match="changed since"):
        journal.undo(journal.last_applied(1))
    assert (workspace / "README.md").read_text() == "user edit"
    journal.undo(journal.last_applied(1), force=True)
    assert (workspace / "README.md").read_text() == "# demo\n"
    journal.redo(force=True)  # the user's edit was saved before the forced restore
    assert (workspace / "README.md").read_text() == "user edit"


def test_created_file_deleted_only_if_unchanged_and_user_files_survive(
        ctx: ToolContext, workspace: Path, journal: Journal) -> None:
    call(WriteFile(), ctx, path="gen/out.txt", content="agent")
    (workspace / "gen" / "mine.txt").write_text("user file")
    journal.undo(journal.last_applied(1))
    assert not (workspace / "gen" / "out.txt").exists()
    assert (workspace / "gen" / "mine.txt").read_text() == "user file"
    journal.redo()
    assert (workspace / "gen" / "out.txt").read_text() == "agent"


def test_corrupted_blob_is_reported_never_restored(ctx: ToolContext, workspace: Path,
                                                   journal: Journal) -> None:
    call(WriteFile(), ctx, path="README.md", content="agent")
    op = journal.last_applied(1)[0]
    digest = op.changes[0].before.hash
    assert digest is not None
    blob = journal.blobs.path_for(digest)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="nothing was restored"):
        journal.undo([op])
    assert (workspace / "README.md").read_text() == "agent"
    assert b"# demo" not in blob.read_bytes()  # encrypted at rest


def test_journal_survives_restart(bastion_home: Path, workspace: Path) -> None:
    key, jkey = os.urandom(32), os.urandom(32)
    from bastion.policy import Policy

    db = Database(bastion_home / "r.db", key)
    ctx = ToolContext(workspace=workspace, policy=Policy(workspace), session_id="s",
                      extras={"journal": Journal(db, bastion_home, jkey)})
    call(WriteFile(), ctx, path="README.md", content="agent")
    db.close()
    db = Database(bastion_home / "r.db", key)
    journal = Journal(db, bastion_home, jkey)
    journal.undo(journal.last_applied(1, "s"))
    assert (workspace / "README.md").read_text() == "# demo\n"
    db.close()


def test_record_change_set_api_for_commands(journal: Journal, workspace: Path) -> None:
    """What the sandbox does for a shell command: pre-images first, then the change set."""
    f = workspace / "src" / "app.py"
    before = f.read_bytes()
    digest = journal.store_blob(before)
    (workspace / "build").mkdir()
    (workspace / "build" / "out.o").write_bytes(b"obj")
    f.write_text("rewritten")
    os.symlink("app.py", workspace / "src" / "link")
    from bastion.safefs import sha256

    op = journal.record_change_set("s2", "call_9", "run_command", [
        FileChange(f, before_hash=digest, before_mode=0o644, after_hash=sha256(b"rewritten"),
                   after_mode=0o644),
        FileChange(workspace / "build", before_kind="missing", after_kind="dir", after_mode=0o755),
        FileChange(workspace / "build" / "out.o", after_hash=sha256(b"obj"), after_mode=0o644),
        FileChange(workspace / "src" / "link", after_kind="symlink",
                   after_hash=sha256(b"app.py")),
    ])
    journal.undo([journal.get(op)])
    assert f.read_bytes() == before
    assert not (workspace / "build").exists() and not (workspace / "src" / "link").exists()
