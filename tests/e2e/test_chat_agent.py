"""`bastion chat --agent` / `--taskforce`: the interactive session runs as the named agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import run_bastion, write_script


def _only_session() -> dict[str, Any]:
    listed = run_bastion("sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (session,) = json.loads(listed.stdout)
    shown = run_bastion("sessions", "show", session["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    result: dict[str, Any] = json.loads(shown.stdout)
    return result


def test_chat_runs_as_the_named_agent(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "The greeting is lower-case."},
    ])
    r = run_bastion("chat", "--agent", "reviewer", "-w", workspace, "--provider", "replay",
                    "--script", script, input="question\n\n")
    assert r.returncode == 0, r.stderr
    assert "The greeting is lower-case." in r.stdout  # streamed through on_text as before
    session = _only_session()
    assert session["agent"] == "reviewer"
    assert [m["content"] for m in session["messages"] if m["role"] == "user"] == ["question"]
    assert {m["agent"] for m in session["messages"]} == {"reviewer"}


def test_chat_runs_a_taskforce(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "delegate", "arguments": {
            "agent": "reviewer", "task": "Look at src/app.py"}}]},
        {"content": "It prints a greeting."},
        {"content": "The app prints a greeting."},
    ])
    r = run_bastion("chat", "--taskforce", "bugfix", "-w", workspace, "--provider", "replay",
                    "--script", script, "--approve", "auto", input="what does it do?\n\n")
    assert r.returncode == 0, r.stderr
    assert "The app prints a greeting." in r.stdout
    session = _only_session()
    assert session["agent"] == "taskforce:bugfix"
    transitions = [e["data"] for e in session["events"] if e["kind"] == "agent_transition"]
    assert ("orchestrator", "reviewer") in [(t["from"], t["to"]) for t in transitions]


def test_chat_refuses_agent_and_taskforce_together(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [{"content": "unused"}])
    r = run_bastion("chat", "--agent", "reviewer", "--taskforce", "bugfix", "-w", workspace,
                    "--provider", "replay", "--script", script, input="question\n\n")
    assert r.returncode != 0
    assert "either --agent or --taskforce" in r.stdout + r.stderr
