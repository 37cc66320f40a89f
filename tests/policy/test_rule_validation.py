"""A misspelled rule is a settings error naming the file and key, never a rule matching nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.policy import Rule, RuleError
from helpers import run_bastion, write_script


@pytest.mark.parametrize("text", ["Wirte(*.lock)", "Raed", "bash_cmd(ls)", "mcp__", "Fetch()",
                                  "WebFetch(domain:)", "Write(", "Read(x) y"])
def test_malformed_rules_are_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(RuleError):
        Rule.parse(text, "deny", "test", tmp_path)


@pytest.mark.parametrize("text", ["Write(*.lock)", "write(*.lock)", "Bash(npm test:*)",
                                  "WebFetch(domain:example.com)", "Fetch(https://x.org/*)",
                                  "mcp__github__*", "delete_file", "*", "delegate(reviewer)"])
def test_valid_rules_parse(text: str, tmp_path: Path) -> None:
    assert Rule.parse(text, "deny", "test", tmp_path).text == text


def test_a_bad_rule_stops_validate_and_run(workspace: Path, tmp_path: Path,
                                           bastion_home: Path) -> None:
    settings = bastion_home / "settings.json"
    settings.write_text(json.dumps({"permissions": {"deny": ["Write(*.key)", "Wirte(*.lock)"]}}))
    r = run_bastion("config", "validate")
    assert r.returncode != 0
    assert str(settings) in r.stderr and "permissions.deny[1]" in r.stderr and "Wirte" in r.stderr
    assert "Traceback" not in r.stderr
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file",
                                        "arguments": {"path": "x.lock", "content": "x"}}]},
        {"content": "done"}])
    r = run_bastion("run", "t", "-w", workspace, "--provider", "replay", "--script", script)
    assert r.returncode == 1 and "permissions.deny[1]" in r.stderr
    assert not (workspace / "x.lock").exists()
    assert json.loads(run_bastion("sessions", "list", "--json").stdout) == []
    settings.write_text("{}")
    (workspace / ".bastion").mkdir()
    project = workspace / ".bastion" / "settings.json"
    project.write_text(json.dumps({"permissions": {"allow": ["Raed(src/**)"]}}))
    r = run_bastion("run", "t", "-w", workspace, "--provider", "replay", "--script", script)
    assert r.returncode == 1 and str(project) in r.stderr and "permissions.allow[0]" in r.stderr
    r = run_bastion("policy", "check", "Write(./a)", "-w", workspace)
    assert r.returncode == 1 and "Raed" in r.stderr
