"""`bastion chat` streams turns into one session; a full session leaves every audit category."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from helpers import require, run_bastion, write_script


def test_chat_keeps_one_session_across_turns(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "Hi there, first answer."},
        {"content": "", "tool_calls": [{"name": "list_dir", "arguments": {}}]},
        {"content": "Second answer."},
    ])
    r = run_bastion("chat", "-w", workspace, "--provider", "replay", "--script", script,
                    input="hello\nwhat files?\n\n")
    assert r.returncode == 0, r.stderr
    assert "Hi there, first answer." in r.stdout and "Second answer." in r.stdout
    sessions = json.loads(run_bastion("sessions", "list", "--json").stdout)
    assert len(sessions) == 1
    shown = json.loads(run_bastion("sessions", "show", sessions[0]["id"], "--json").stdout)
    users = [m["content"] for m in shown["messages"] if m["role"] == "user"]
    assert users == ["hello", "what files?"]
    assert [c["name"] for c in shown["tool_calls"]] == ["list_dir"]


def test_one_session_records_every_audit_category(workspace: Path, tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [
            {"name": "read_file", "arguments": {"path": "README.md"}},
            {"name": "write_file", "arguments": {"path": "notes.txt", "content": "hi\n"}},
            {"name": "write_file", "arguments": {"path": ".git/hooks/pre-commit", "content": "x"}},
            {"name": "run_command", "arguments": {"command": "echo made > made.txt"}},
            {"name": "fetch_url", "arguments": {"url": "http://127.0.0.1:9/"}},
        ]},
        {"content": "done"},
    ])
    r = run_bastion("run", "do things", "-w", workspace, "--provider", "replay", "--script",
                    script, "--approve", "auto")
    assert r.returncode == 0, r.stderr
    assert (workspace / "notes.txt").read_text() == "hi\n"
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    assert run_bastion("config", "set", "retention.days", "90").returncode == 0
    assert run_bastion("undo", "--last", "1").returncode == 0
    exported = run_bastion("audit", "export", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    categories = {rec["category"] for rec in records}
    assert {"session", "tool", "decision", "file", "command", "network", "config",
            "user"} <= categories, categories
    denied = [rec for rec in records if rec["category"] == "decision"
              and rec["payload"]["decision"] == "deny"]
    assert any("protected" in rec["payload"]["rule"] for rec in denied)
    network = [rec for rec in records if rec["category"] == "network"]
    assert network and network[0]["payload"]["decision"] == "deny"
    assert run_bastion("audit", "verify").returncode == 0
