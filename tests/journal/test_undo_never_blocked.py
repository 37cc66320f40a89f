"""Undo restores what it can: a folder the model replaced with a link or a file is put back
(parents first, the link replaced, never written through), one operation that cannot be
undone never blocks the others, and an interrupted undo finishes when run again."""

from __future__ import annotations

import os
from pathlib import Path

from bastion.journal import FileChange, Journal, current_side


def _record_replace_dir_by_link(journal: Journal, ws: Path, outside: Path) -> str:
    """What the command snapshot records for `rm -rf d && ln -s OUTSIDE d` (done for real)."""
    before = (ws / "d" / "f.txt").read_bytes()
    mode = current_side(ws / "d").mode
    op = journal.record_change_set("s1", None, "run_command", [
        FileChange(ws / "d" / "f.txt", before=before, before_mode=0o644),
        FileChange(ws / "d", before_kind="dir", before_mode=mode, after_kind="symlink",
                   after_hash=None),
    ])
    (ws / "d" / "f.txt").unlink()
    (ws / "d").rmdir()
    os.symlink(outside, ws / "d")
    # the link's after-state, as the snapshot would have hashed it
    journal.db.execute("UPDATE journal_changes SET after_hash = ? WHERE op_id = ? AND path = ?",
                       (current_side(ws / "d").hash, op, str(ws / "d")))
    return op


def test_a_folder_replaced_by_a_link_is_restored_and_the_outside_untouched(
        journal: Journal, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    (ws / "d" / "f.txt").write_text("mine\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("outside, never touched\n")
    _record_replace_dir_by_link(journal, ws, outside)
    other = journal.record_change_set("s1", None, "write_file", [
        FileChange(ws / "new.txt", after_hash="x")])
    (ws / "new.txt").write_text("agent\n")
    journal.db.execute("UPDATE journal_changes SET after_hash = ? WHERE op_id = ?",
                       (current_side(ws / "new.txt").hash, other))

    result = journal.undo(journal.last_applied(10, "s1"))
    assert not result.failed and not result.skipped
    assert (ws / "d").is_dir() and not (ws / "d").is_symlink()
    assert (ws / "d" / "f.txt").read_text() == "mine\n"
    assert not (ws / "new.txt").exists()
    assert (outside / "f.txt").read_text() == "outside, never touched\n"


def test_one_changed_operation_never_blocks_the_others(journal: Journal, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    ops = []
    for name in ("a.txt", "b.txt"):
        op = journal.record_change_set("s1", None, "write_file",
                                       [FileChange(ws / name, after_hash="x")])
        (ws / name).write_text("agent\n")
        journal.db.execute("UPDATE journal_changes SET after_hash = ? WHERE op_id = ?",
                           (current_side(ws / name).hash, op))
        ops.append(op)
    (ws / "a.txt").write_text("the user edited this since\n")
    result = journal.undo(journal.last_applied(10, "s1"))
    assert result.reverted == [ops[1]] and ops[0] in result.skipped
    assert not (ws / "b.txt").exists()
    assert (ws / "a.txt").read_text() == "the user edited this since\n"


def test_an_interrupted_undo_finishes_without_force(journal: Journal, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("a.txt", "b.txt"):
        (ws / name).write_text("old\n")
    op = journal.record_change_set("s1", None, "run_command", [
        FileChange(ws / "a.txt", before=b"old\n", before_mode=0o644, after_hash="x"),
        FileChange(ws / "b.txt", before=b"old\n", before_mode=0o644, after_hash="x")])
    for name in ("a.txt", "b.txt"):
        (ws / name).write_text("new\n")
    journal.db.execute("UPDATE journal_changes SET after_hash = ? WHERE op_id = ?",
                       (current_side(ws / "a.txt").hash, op))
    (ws / "a.txt").write_text("old\n")  # the undo was killed after restoring a.txt only
    os.chmod(ws / "a.txt", 0o644)
    result = journal.undo(journal.last_applied(10, "s1"))
    assert result.reverted == [op] and not result.skipped
    assert (ws / "b.txt").read_text() == "old\n"


def test_every_journal_folder_is_owner_only(journal: Journal, bastion_home: Path) -> None:
    for folder in (bastion_home / "journal", bastion_home / "journal" / "blobs"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
