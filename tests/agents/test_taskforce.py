"""Taskforces end to end: the orchestrator delegates to two members through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_bastion, write_script


def _session(session_id: str) -> dict:
    shown = run_bastion("sessions", "show", session_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_taskforce_delegates_to_two_agents_and_history_shows_transitions(
        workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "tf.jsonl", [
        # orchestrator → reviewer
        {"content": "", "tool_calls": [{"name": "delegate", "arguments": {
            "agent": "reviewer", "task": "Find the bug in src/app.py"}}]},
        # reviewer reads a file, then answers
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "The greeting is lower-case on line 1."},
        # orchestrator → coder
        {"content": "", "tool_calls": [{"name": "delegate", "arguments": {
            "agent": "coder", "task": "Capitalise the greeting in src/app.py"}}]},
        {"content": "", "tool_calls": [{"name": "edit_file", "arguments": {
            "path": "src/app.py", "old_text": "hello", "new_text": "Hello"}}]},
        {"content": "Changed 'hello' to 'Hello'."},
        # orchestrator's final answer
        {"content": "Fixed the greeting.\nSuccess criteria:\n"
                    "1. The cause of the bug is identified: met (reviewer found line 1)\n"
                    "2. The fix is minimal and in the right place: met\n"},
    ])
    record = tmp_path / "record.jsonl"
    result = run_bastion("run", "fix the greeting", "-w", workspace, "--taskforce", "bugfix",
                         "--provider", "replay", "--script", script, "--record", record,
                         "--approve", "auto", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    assert "## Success criteria" in answer["answer"]
    assert "[met] The cause of the bug is identified" in answer["answer"]
    assert "[unknown] Tests or a reproduction show the bug is gone" in answer["answer"]
    assert "reviewer (completed" in answer["answer"] and "coder (completed" in answer["answer"]
    assert (workspace / "src" / "app.py").read_text() == "print('Hello')\n"

    session = _session(answer["session_id"])
    transitions = [e["data"] for e in session["events"] if e["kind"] == "agent_transition"]
    assert [(t["from"], t["to"]) for t in transitions] == [
        ("user", "orchestrator"), ("orchestrator", "reviewer"), ("reviewer", "orchestrator"),
        ("orchestrator", "coder"), ("coder", "orchestrator"), ("orchestrator", "user")]
    assert transitions[1]["task"] == "Find the bug in src/app.py"
    assert all(t["taskforce"] == "bugfix" for t in transitions)
    assert transitions[-1]["criteria"][0]["status"] == "met"
    # every message is attributed to the agent that produced it
    by_agent = {(m["agent"], m["role"]) for m in session["messages"]}
    assert {("orchestrator", "system"), ("reviewer", "system"), ("coder", "system")} <= by_agent
    calls = {(c["agent"], c["name"]) for c in session["tool_calls"]}
    assert {("orchestrator", "delegate"), ("reviewer", "read_file"), ("coder", "edit_file")} <= calls

    # what each agent was offered: the reviewer only read-only tools, the orchestrator delegate
    requests = [json.loads(line) for line in record.read_text().splitlines()]
    offered = [sorted(t["function"]["name"] for t in r["tools"]) for r in requests]
    assert "delegate" in offered[0] and "write_file" not in offered[0]
    assert offered[1] == ["glob", "grep", "list_dir", "read_file"]
    assert "edit_file" in offered[4] and "delegate" not in offered[4]


def test_delegate_to_a_non_member_is_an_error_for_the_model(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "tf.jsonl", [
        {"content": "", "tool_calls": [{"name": "delegate", "arguments": {
            "agent": "general", "task": "do anything"}}]},
        {"content": "gave up"},
    ])
    result = run_bastion("run", "x", "-w", workspace, "--taskforce", "refactor", "--provider",
                         "replay", "--script", script, "--json")
    assert result.returncode == 0, result.stderr
    session = _session(json.loads(result.stdout.splitlines()[-1])["session_id"])
    call = next(c for c in session["tool_calls"] if c["name"] == "delegate")
    assert call["status"] == "error" and "members: reviewer, coder" in call["result"]
    assert not [e for e in session["events"] if e["kind"] == "agent_transition"
                and e["data"].get("to") == "general"]


def test_project_taskforce_with_unknown_member_is_refused(workspace: Path, tmp_path: Path) -> None:
    folder = workspace / ".bastion" / "taskforces"
    folder.mkdir(parents=True)
    (folder / "duo.yaml").write_text("members: [reviewer, ghost]\nsuccessCriteria: [done]\n")
    result = run_bastion("run", "x", "-w", workspace, "--taskforce", "duo", "--provider",
                         "replay", "--script", write_script(tmp_path / "s.jsonl", []))
    assert result.returncode != 0
    assert "unknown agent 'ghost'" in result.stderr


def test_untrusted_project_taskforce_runs_members_read_only(workspace: Path, tmp_path: Path) -> None:
    folder = workspace / ".bastion" / "taskforces"
    folder.mkdir(parents=True)
    (folder / "solo.yaml").write_text("orchestrator: {prompt: Lead.}\nmembers: [coder]\n")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "delegate", "arguments": {
            "agent": "coder", "task": "write"}}]},
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": "new.txt", "content": "x"}}]},
        {"content": "done"},
        {"content": "finished"},
    ])
    result = run_bastion("run", "x", "-w", workspace, "--taskforce", "solo", "--provider",
                         "replay", "--script", script, "--approve", "auto", "--json")
    assert result.returncode == 0, result.stderr
    assert not (workspace / "new.txt").exists()
    session = _session(json.loads(result.stdout.splitlines()[-1])["session_id"])
    call = next(c for c in session["tool_calls"] if c["agent"] == "coder")
    assert call["status"] == "error" and "unknown tool 'write_file'" in call["result"]
