"""The tool, ``bastion exec``, fail-closed behaviour, journal and undo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bastion.config.models import SandboxSettings
from bastion.journal.snapshot import MemoryBlobStore, SnapshotCache, take_snapshot
from bastion.policy import Grant, Policy, Rule
from bastion.sandbox import launcher
from bastion.tools import ToolContext
from bastion.tools.run_command import CommandRunner, RunCommand, RunCommandArgs
from helpers import require, run_bastion


def _ctx(ws: Path, policy: Policy) -> ToolContext:
    return ToolContext(workspace=ws, policy=policy, session_id=None)


@pytest.mark.sandbox
def test_tool_denies_without_rule_and_runs_with_one(workspace: Path, bastion_home: Path
                                                    ) -> None:
    policy = Policy(workspace, approve="never", bastion_home=bastion_home)
    tool = RunCommand(SandboxSettings())
    res = tool.run(RunCommandArgs(command="echo hi > x.txt"), _ctx(workspace, policy))
    assert res.is_error and res.details["denied"] and not (workspace / "x.txt").exists()
    policy.rules.append(Rule.parse("Bash(echo:*)", "allow", "test", workspace,
                                   Path.home()))
    res = tool.run(RunCommandArgs(command="echo hi > x.txt; echo done"),
                   _ctx(workspace, policy))
    assert not res.is_error, res.content
    assert "exit code: 0" in res.content and "done" in res.content
    assert (workspace / "x.txt").read_text() == "hi\n"
    # a redirection to a protected path is decided like a write: denied before running
    res = tool.run(RunCommandArgs(command="echo x > .git/config"), _ctx(workspace, policy))
    assert res.is_error and res.details["outcome"] == "deny"
    res = tool.run(RunCommandArgs(command="echo hi && rm -rf src"), _ctx(workspace, policy))
    assert res.is_error and (workspace / "src").exists()


def test_missing_bwrap_fails_closed(workspace: Path, bastion_home: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    launcher._probe.cache_clear()
    monkeypatch.setattr(launcher, "_found", {})  # bwrap looked up again (once per PATH)
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    try:
        ok, detail = launcher.probe_sandbox()
        assert not ok and "bwrap" in detail
        policy = Policy(workspace, approve="auto", bastion_home=bastion_home)
        res = RunCommand(SandboxSettings()).run(RunCommandArgs(command="touch x"),
                                                _ctx(workspace, policy))
        assert res.is_error and "bubblewrap" in res.content
        assert not (workspace / "x").exists()
    finally:
        launcher._probe.cache_clear()


def test_mode_none_warns_and_reports(workspace: Path, bastion_home: Path,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    policy = Policy(workspace, approve="auto", bastion_home=bastion_home)
    res = RunCommand(SandboxSettings(mode="none")).run(RunCommandArgs(command="echo hi"),
                                                       _ctx(workspace, policy))
    assert res.details["sandboxed"] is False and "WITHOUT a sandbox" in res.content + \
        capfd.readouterr().err
    assert "WARNING" in res.content


@pytest.mark.sandbox
def test_undo_reverts_a_command(workspace: Path, bastion_home: Path) -> None:
    from bastion.journal import open_journal
    from bastion.runtime import Runtime

    (workspace / "keep.txt").write_text("original\n")
    (workspace / "gone.txt").write_text("will be deleted\n")
    with Runtime.open() as rt:
        journal = open_journal(rt)
        policy = Policy(workspace, bastion_home=bastion_home)
        out = CommandRunner(policy, SandboxSettings(), journal=journal).run(
            "echo new > created.txt; mkdir -p newdir && echo n > newdir/f; "
            "echo changed >> keep.txt; rm gone.txt; chmod 600 README.md", 20, authorized=True)
        assert out.op_id is not None
        assert {(Path(c.path).name, c.action) for c in out.changes} >= {
            ("created.txt", "created"), ("keep.txt", "modified"), ("gone.txt", "deleted"),
            ("newdir", "created"), ("README.md", "mode_changed")}
        journal.undo([journal.get(out.op_id)])
    assert not (workspace / "created.txt").exists() and not (workspace / "newdir").exists()
    assert (workspace / "keep.txt").read_text() == "original\n"
    assert (workspace / "gone.txt").read_text() == "will be deleted\n"
    assert (workspace / "README.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.sandbox
def test_bastion_exec_cli(workspace: Path) -> None:
    res = run_bastion("exec", "-w", workspace, "--", "sh", "-c",
                      "echo out; echo err >&2; echo x > made.txt; exit 7")
    assert res.returncode == 7, res.stderr
    assert res.stdout == "out\n" and "err" in res.stderr and "journaled" in res.stderr
    assert (workspace / "made.txt").exists()
    res = run_bastion("undo", "--last", "1")
    assert res.returncode == 0, res.stderr
    assert not (workspace / "made.txt").exists()


def test_snapshot_skips_are_reported_and_cache_avoids_rehash(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "i.js").write_text("x")
    (tmp_path / "big.bin").write_bytes(b"0" * 2000)
    (tmp_path / "a.txt").write_text("a")
    blobs, cache = MemoryBlobStore(), SnapshotCache()
    first = take_snapshot([tmp_path], blobs, cache=cache, max_file_bytes=1000)
    reasons = {Path(s.path).name: s.reason for s in first.skipped}
    assert "node_modules" in reasons and "big.bin" in reasons
    assert first.files_hashed == 1
    second = take_snapshot([tmp_path], blobs, cache=cache, max_file_bytes=1000)
    assert second.files_hashed == 0 and second.entries == first.entries


def test_hard_links_found_even_in_skipped_trees(tmp_path: Path) -> None:
    out = tmp_path / "outside.txt"
    out.write_text("x")
    (tmp_path / "ws" / "node_modules").mkdir(parents=True)
    (tmp_path / "ws" / "node_modules" / "l").hardlink_to(out)
    (tmp_path / "ws" / "l2").hardlink_to(out)
    snap = take_snapshot([tmp_path / "ws"], MemoryBlobStore())
    assert sorted(Path(p).name for p in snap.hardlinks) == ["l", "l2"]


def test_grants_shape_the_sandbox(tmp_path: Path, bastion_home: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    from bastion.sandbox import build_args, compile_spec

    ro = tmp_path / "docs"
    ro.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    policy = Policy(ws, grants=[Grant(ws, "write", "t"), Grant(ro, "read", "t")],
                    bastion_home=bastion_home)
    args = build_args(compile_spec(policy, SandboxSettings()), seccomp_fd=None,
                      use_landlock=False).args
    joined = " ".join(args)
    assert f"--ro-bind {ro} {ro}" in joined and f"--bind {ws} {ws}" in joined
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--cap-drop"):
        assert flag in args
