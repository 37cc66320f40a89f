"""The mutating tools: safe, atomic, journaled writes that a race cannot redirect."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from bastion.journal import Journal
from bastion.policy import Grant, Policy
from bastion.tools import ToolContext, ToolResult
from bastion.tools.edit import DeleteFile, EditFile, MoveFile, WriteFile
from bastion.tools.files import ReadFile


def call(tool: Any, ctx: ToolContext, **args: Any) -> ToolResult:
    result: ToolResult = tool.run(tool.parse(args), ctx)
    return result


def test_write_creates_dirs_and_keeps_mode(ctx: ToolContext, workspace: Path) -> None:
    script = workspace / "run.sh"
    script.write_text("echo 1\n")
    script.chmod(0o750)
    r = call(WriteFile(), ctx, path="run.sh", content="echo 2\n")
    assert not r.is_error, r.content
    assert script.read_text() == "echo 2\n" and stat.S_IMODE(script.stat().st_mode) == 0o750
    r = call(WriteFile(), ctx, path="a/b/c.txt", content="new")
    assert not r.is_error and (workspace / "a" / "b" / "c.txt").read_text() == "new"
    assert not [p for p in workspace.rglob("*.tmp")]  # no temp files left behind


def test_toctou_directory_swapped_for_symlink_cannot_redirect(
        ctx: ToolContext, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("OUTSIDE")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "f.txt").write_text("inside")
    original = Policy.authorize

    def racing(self: Policy, tool: str, requests: Any, **kw: Any) -> Any:
        auth = original(self, tool, requests, **kw)  # the gate passes on the real directory…
        os.rename(workspace / "sub", workspace / "sub-moved")  # …then the attacker swaps it
        os.symlink(outside, workspace / "sub")
        return auth

    monkeypatch.setattr(Policy, "authorize", racing)
    r = call(WriteFile(), ctx, path="sub/f.txt", content="PWNED")
    assert r.is_error and "symlink" in r.content
    assert (outside / "f.txt").read_text() == "OUTSIDE"
    assert not (outside / "sub").exists() and sorted(os.listdir(outside)) == ["f.txt"]


def test_symlinked_target_file_is_not_written_through(ctx: ToolContext, workspace: Path,
                                                      tmp_path: Path) -> None:
    victim = workspace / "real.txt"
    victim.write_text("real")
    os.symlink(victim, workspace / "alias.txt")
    r = call(WriteFile(), ctx, path="alias.txt", content="x")
    # the policy resolves the link to real.txt (inside); the write goes to the resolved file,
    # never through a link
    assert not r.is_error
    assert victim.read_text() == "x" and (workspace / "alias.txt").is_symlink()


def test_hard_linked_file_is_refused(ctx: ToolContext, workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("OUTSIDE")
    os.link(outside, workspace / "planted.txt")
    r = call(WriteFile(), ctx, path="planted.txt", content="PWNED")
    assert r.is_error and "hard links" in r.content
    assert outside.read_text() == "OUTSIDE"


def test_edit_requires_fresh_read_and_unique_text(ctx: ToolContext, workspace: Path) -> None:
    f = workspace / "src" / "app.py"
    r = call(EditFile(), ctx, path="src/app.py", old_text="hello", new_text="bye")
    assert r.is_error and "read" in r.content
    assert not call(ReadFile(), ctx, path="src/app.py").is_error
    f.write_text("print('hello') # hello\n")  # changed behind the model's back
    r = call(EditFile(), ctx, path="src/app.py", old_text="hello", new_text="bye")
    assert r.is_error and "changed since" in r.content
    call(ReadFile(), ctx, path="src/app.py")
    r = call(EditFile(), ctx, path="src/app.py", old_text="hello", new_text="bye")
    assert r.is_error and "2 times" in r.content
    r = call(EditFile(), ctx, path="src/app.py", old_text="hello", new_text="bye", replace_all=True)
    assert not r.is_error and f.read_text() == "print('bye') # bye\n"
    # its own write counts as a read: a second edit needs no re-read
    r = call(EditFile(), ctx, path="src/app.py", old_text="# bye", new_text="")
    assert not r.is_error and f.read_text() == "print('bye') \n"


def test_delete_and_move(ctx: ToolContext, workspace: Path) -> None:
    (workspace / "a.txt").write_text("A")
    (workspace / "b.txt").write_text("B")
    r = call(MoveFile(), ctx, source="a.txt", destination="b.txt")
    assert r.is_error and "exists" in r.content
    assert not call(MoveFile(), ctx, source="a.txt", destination="x/y/a.txt").is_error
    assert (workspace / "x" / "y" / "a.txt").read_text() == "A" and not (workspace / "a.txt").exists()
    assert not call(DeleteFile(), ctx, path="b.txt").is_error and not (workspace / "b.txt").exists()
    r = call(DeleteFile(), ctx, path="src")
    assert r.is_error and "directory" in r.content


def test_no_journal_no_change(workspace: Path) -> None:
    ctx = ToolContext(workspace=workspace, policy=Policy(workspace))
    r = call(WriteFile(), ctx, path="a.txt", content="x")
    assert r.is_error and "journal" in r.content and not (workspace / "a.txt").exists()


def test_placeholder_seam_only_inside_workspace(ctx: ToolContext, workspace: Path,
                                                tmp_path: Path) -> None:
    ctx.extras["restore_placeholders"] = lambda text: text.replace("<SECRET_1>", "s3cr3t")
    call(WriteFile(), ctx, path="cfg.txt", content="key=<SECRET_1>")
    assert (workspace / "cfg.txt").read_text() == "key=s3cr3t"
    extra = tmp_path / "extra"  # granted, but not the workspace: placeholders stay
    extra.mkdir()
    ctx.policy = Policy(workspace, grants=[Grant(workspace, "write", "ws"),
                                           Grant(extra, "write", "extra")])
    r = call(WriteFile(), ctx, path=str(extra / "out.txt"), content="key=<SECRET_1>")
    assert not r.is_error, r.content
    assert (extra / "out.txt").read_text() == "key=<SECRET_1>"


def test_denied_write_leaves_disk_alone_and_records_nothing(ctx: ToolContext, workspace: Path,
                                                            journal: Journal) -> None:
    r = call(WriteFile(), ctx, path=".git/hooks/pre-commit", content="evil")
    assert r.is_error and r.details["denied"] and "protected" in r.content
    assert not (workspace / ".git").exists()
    assert journal.operations() == []
