"""A FIFO in the workspace (``mkfifo`` by a command, or unpacked from an archive) never makes
the agent wait: every file tool refuses it in one line. ``read_file`` used to block on it until
a writer appeared — forever, in an unattended run."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import read_record, run_bastion, write_script


def test_file_tools_refuse_a_fifo_instead_of_waiting(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    os.mkfifo(ws / "pipe")
    (ws / "a.txt").write_text("needle\n")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [
            {"name": "read_file", "arguments": {"path": "pipe"}},
            {"name": "grep", "arguments": {"pattern": "needle"}},
            {"name": "grep", "arguments": {"pattern": "needle", "path": "pipe"}},
            {"name": "edit_file", "arguments": {"path": "pipe", "old_text": "a",
                                                "new_text": "b"}}]},
        {"content": "done"}])
    record = tmp_path / "rec.jsonl"
    env = {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}
    done = run_bastion("run", "x", "-w", ws, "--provider", "replay", "--script", script,
                       "--record", record, "--approve", "auto", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    results = [m["content"] for m in read_record(record)[-1]["messages"] if m["role"] == "tool"]
    assert "not a regular file" in results[0], results
    assert "a.txt:1: needle" in results[1], results
    assert results[2] == "(no matches)", results
    assert "not a regular file" in results[3], results
    assert (ws / "pipe").is_fifo()


def test_a_fifo_among_a_projects_files_is_refused_not_awaited(tmp_path: Path) -> None:
    """FIFOs where Bastion reads definitions or settings: a project's are skipped, and a
    settings file that is one is a clear error — reading it used to block every command."""
    ws = tmp_path / "ws"
    (ws / ".bastion" / "agents").mkdir(parents=True)
    os.mkfifo(ws / ".bastion" / "agents" / "stuck.yaml")
    env = {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}
    listed = run_bastion("agents", "list", cwd=ws, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr  # finished: the FIFO is not a definition
    assert "general" in listed.stdout
    home = tmp_path / "home"  # settings.json made a FIFO (by mistake or by another program)
    home.mkdir(exist_ok=True)
    os.mkfifo(home / "settings.json")
    script = write_script(tmp_path / "s.jsonl", [{"content": "done"}])
    ran = run_bastion("run", "x", "-w", ws, "--provider", "replay", "--script", script,
                      env=env, timeout=60)
    assert ran.returncode in (1, 2), ran.stderr
    assert "not a regular file" in ran.stderr and "internal error" not in ran.stderr.lower()
