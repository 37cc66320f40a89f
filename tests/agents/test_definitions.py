"""Agent definitions: validation errors name file and field; permissions can only narrow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.agent.definitions import (
    DefinitionError,
    LoadedAgent,
    load_agent_file,
    load_agents,
    narrow_policy,
)
from bastion.policy import Grant, Policy, Rule, TrustStore
from helpers import run_bastion, write_script


def _agent(workspace: Path, name: str, body: str) -> Path:
    folder = workspace / ".bastion" / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(body)
    return path


def _session_policy(workspace: Path, tmp_path: Path) -> Policy:
    shared = tmp_path / "shared"
    shared.mkdir(exist_ok=True)
    rules = [Rule.parse("Bash(pytest:*)", "allow", "user settings", workspace)]
    return Policy(workspace, grants=[Grant(workspace, "write", "default (workspace)"),
                                     Grant(shared, "read", "user settings")], rules=rules)


@pytest.mark.parametrize(("body", "field", "expected"), [
    ("name: x\nmodel: {temperature: hot}\n", "model.temperature", "expected a valid number"),
    ("name: x\nmodel: {maxTokens: 1}\n", "model.maxTokens", "greater than or equal to 16"),
    ("name: x\ntools: [read_file, rm_rf]\n", "tools", "unknown tool 'rm_rf'"),
    ("name: x\ncolour: red\n", "colour", "unknown field"),
    ("name: x\npermissions: {folders: [{path: a, access: admin}]}\n",
     "permissions.folders[0].access", "expected 'read' or 'write'"),
    ("name: y\n", "name", "expected 'x' (the file name)"),
    ("name: x\nenabled: maybe\n", "enabled", "valid boolean"),
])
def test_validation_errors_name_file_field_and_expectation(tmp_path: Path, body: str, field: str,
                                                            expected: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(body)
    with pytest.raises(DefinitionError) as info:
        load_agent_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert f"field '{field}'" in message
    assert expected in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: x\ntools: [read_file\n")
    with pytest.raises(DefinitionError, match=rf"{path}: not valid YAML at line \d+"):
        load_agent_file(path)


@pytest.mark.parametrize(("perms", "field", "why"), [
    ("{folders: [{path: /etc, access: read}]}", "permissions.folders[0]",
     "outside the session's granted folders"),
    ("{folders: [{path: ../shared, access: write}]}", "permissions.folders[0]",
     "but the session only reads it"),
    ("{allow: ['Bash(rm:*)']}", "permissions.allow[0]", "not allowed by the session's own rules"),
    ("{allow: ['Bash']}", "permissions.allow[0]", "not allowed by the session's own rules"),
])
def test_widening_definition_is_refused_at_load(workspace: Path, tmp_path: Path,
                                                 bastion_home: Path, perms: str, field: str,
                                                 why: str) -> None:
    path = _agent(workspace, "greedy", f"name: greedy\npermissions: {perms}\n")
    catalog = load_agents(workspace, bastion_home, policy=_session_policy(workspace, tmp_path))
    assert "greedy" not in catalog.agents
    with pytest.raises(DefinitionError) as info:
        catalog.get("greedy")
    assert str(info.value).startswith(f"{path}: field '{field}'")
    assert why in str(info.value)


def test_narrowing_definition_loads_and_narrows(workspace: Path, tmp_path: Path,
                                                bastion_home: Path) -> None:
    _agent(workspace, "careful", "name: careful\npermissions:\n"
           "  folders: [{path: src, access: write}, {path: ../shared, access: read}]\n"
           "  allow: ['Bash(pytest:*)']\n  deny: ['Read(README.md)']\n")
    base = _session_policy(workspace, tmp_path)
    catalog = load_agents(workspace, bastion_home, policy=base, trusted=True)
    narrowed = narrow_policy(base, catalog.get("careful"))
    assert narrowed.decide("write_file", "src/app.py").verdict == "allow"
    assert narrowed.decide("write_file", "other.txt").verdict == "ask"  # outside its grants now
    assert narrowed.decide("read_file", "README.md").verdict == "deny"
    assert base.decide("read_file", "README.md").verdict == "allow"  # the session is unchanged
    assert narrowed.decide("run_command", "pytest -q").verdict == "allow"


def test_untrusted_project_agent_is_read_only_until_trusted(workspace: Path, tmp_path: Path,
                                                            bastion_home: Path) -> None:
    _agent(workspace, "fixer", "name: fixer\ntools: [read_file, write_file]\n"
           "model: {provider: openai}\n")
    base = Policy(workspace)
    loaded = load_agents(workspace, bastion_home, policy=base).get("fixer")
    assert not loaded.trusted and loaded.origin == "project"
    assert loaded.allows_tool("read_file", True) and not loaded.allows_tool("write_file", False)
    assert narrow_policy(base, loaded).decide("write_file", "a.txt").verdict == "deny"
    TrustStore(bastion_home).trust(workspace)
    trusted = load_agents(workspace, bastion_home, policy=base).get("fixer")
    assert trusted.trusted and trusted.allows_tool("write_file", False)
    assert narrow_policy(base, trusted).decide("write_file", "a.txt").verdict == "allow"
    # any change to the project's definitions makes it untrusted again
    _agent(workspace, "fixer", "name: fixer\ntools: [read_file, write_file, run_command]\n")
    assert not load_agents(workspace, bastion_home, policy=base).get("fixer").trusted


def test_precedence_project_over_user_over_builtin(workspace: Path, bastion_home: Path) -> None:
    user = bastion_home / "agents"
    user.mkdir()
    (user / "reviewer.yaml").write_text("name: reviewer\ndescription: user reviewer\n"
                                        "tools: [read_file]\n")
    (user / "mine.yaml").write_text("name: mine\ndescription: user agent\n")
    catalog = load_agents(workspace, bastion_home)
    assert catalog.get("reviewer").definition.description == "user reviewer"
    assert catalog.get("coder").origin == "builtin"
    _agent(workspace, "mine", "name: mine\ndescription: project agent\n")
    catalog = load_agents(workspace, bastion_home)
    assert catalog.get("mine").definition.description == "project agent"
    # a broken project file does not silently fall back to the user's definition
    _agent(workspace, "mine", "name: mine\nbogus: 1\n")
    with pytest.raises(DefinitionError, match="field 'bogus'"):
        load_agents(workspace, bastion_home).get("mine")


def test_disabled_agent_is_refused(workspace: Path, bastion_home: Path) -> None:
    _agent(workspace, "off", "name: off\nenabled: false\n")
    with pytest.raises(DefinitionError, match="disabled"):
        load_agents(workspace, bastion_home).get("off")


def test_builtins_are_valid(workspace: Path, bastion_home: Path) -> None:
    catalog = load_agents(None, bastion_home, policy=Policy(workspace))
    assert not catalog.errors
    assert {"general", "reviewer", "coder"} <= set(catalog.agents)
    reviewer = catalog.get("reviewer")
    assert isinstance(reviewer, LoadedAgent)
    assert not reviewer.allows_tool("write_file", False)
    assert not reviewer.allows_tool("run_command", False)


def test_cli_run_with_widening_agent_fails_naming_file_and_field(workspace: Path,
                                                                 tmp_path: Path) -> None:
    path = _agent(workspace, "greedy", "name: greedy\npermissions:\n"
                  "  folders: [{path: /, access: write}]\n")
    script = write_script(tmp_path / "s.jsonl", [{"content": "hi"}])
    result = run_bastion("run", "x", "-w", workspace, "--agent", "greedy", "--provider", "replay",
                         "--script", script)
    assert result.returncode == 1
    assert f"{path}: field 'permissions.folders[0]'" in result.stderr
    assert "Traceback" not in result.stderr
    validate = run_bastion("agents", "validate", "-w", workspace)
    assert validate.returncode == 1 and "permissions.folders[0]" in validate.stderr
    one = run_bastion("agents", "validate", path, "-w", workspace)
    assert one.returncode == 1 and str(path) in one.stderr


def test_cli_reviewer_agent_cannot_write(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": "x.txt", "content": "x"}}]},
        {"content": "could not write"},
    ])
    record = tmp_path / "rec.jsonl"
    result = run_bastion("run", "x", "-w", workspace, "--agent", "reviewer", "--provider",
                         "replay", "--script", script, "--record", record, "--approve", "auto",
                         "--json")
    assert result.returncode == 0, result.stderr
    assert not (workspace / "x.txt").exists()
    first = json.loads(record.read_text().splitlines()[0])
    assert first["messages"][0]["content"].startswith("You are a code reviewer.")
    assert sorted(t["function"]["name"] for t in first["tools"]) == [
        "glob", "grep", "list_dir", "read_file"]
    listing = run_bastion("agents", "list", "--json", "-w", workspace)
    assert {row["name"] for row in json.loads(listing.stdout)} >= {"general", "reviewer", "coder"}
