"""Managed settings end to end: a managed file (via the test-only variable) that users,
projects, ``config set``, ``-c`` and flags cannot loosen. Verdicts are read from outside:
bytes on disk, the provider record, the exported audit log, the CLI's exit status."""

from __future__ import annotations

import grp
import json
import os
from pathlib import Path
from typing import Any

import pytest

from helpers import read_record, run_bastion, write_script

SECRET = "ORG-CONFIDENTIAL-7f3a9"


@pytest.fixture
def managed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    folder = tmp_path / "etc-bastion"
    folder.mkdir(mode=0o755)
    path = folder / "managed-settings.json"

    def write(doc: dict[str, Any]) -> Path:
        path.write_text(json.dumps(doc))
        path.chmod(0o644)
        return path

    monkeypatch.setenv("BASTION_MANAGED_SETTINGS", str(path))
    write({})
    return write


def user_settings(home: Path, doc: dict[str, Any]) -> None:
    (home / "settings.json").write_text(json.dumps(doc))


def audit_records(category: str | None = None) -> list[dict[str, Any]]:
    r = run_bastion("audit", "export")
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return [d for d in docs if category is None or d["category"] == category]


def test_user_allow_rule_cannot_override_managed_deny(managed, bastion_home: Path,  # type: ignore[no-untyped-def]
                                                      workspace: Path, tmp_path: Path) -> None:
    (workspace / "payroll.csv").write_text(SECRET)
    # the rule governs the file tools; denyRead also hides the file inside the sandbox
    managed({"permissions": {"deny": ["Read(./payroll.csv)"], "denyRead": ["payroll.csv"]}})
    user_settings(bastion_home, {"permissions": {"allow": ["Read(./payroll.csv)"],
                                                 "denyRead": []}})
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "payroll.csv"}}]},
        {"content": "", "tool_calls": [{"name": "run_command",
                                        "arguments": {"command": "cat payroll.csv"}}]},
        {"content": "done"}])
    record = tmp_path / "record.jsonl"
    r = run_bastion("run", "read it", "-w", workspace, "--provider", "replay", "--script", script,
                    "--record", record, "--approve", "auto", "--json")
    assert r.returncode == 0, r.stderr
    assert SECRET not in record.read_text()  # the model never saw the file
    check = run_bastion("policy", "check", "Read(./payroll.csv)", "-w", workspace)
    assert check.stdout.startswith("DENY"), check.stdout
    explain = run_bastion("policy", "explain", "-w", workspace)
    assert explain.returncode == 0, explain.stderr
    deny_line = next(line for line in explain.stdout.splitlines() if "payroll" in line
                     and line.strip().startswith("deny"))
    assert "managed settings" in deny_line and str(tmp_path) in deny_line
    assert "managed settings: " in explain.stdout
    assert "securityMode = false (decided by default)" in explain.stdout


def test_project_cannot_enable_telemetry_managed_disables(managed, bastion_home: Path,  # type: ignore[no-untyped-def]
                                                          workspace: Path, tmp_path: Path) -> None:
    managed({"telemetry": {"enabled": False}})
    (workspace / ".bastion").mkdir()
    (workspace / ".bastion" / "settings.json").write_text(
        json.dumps({"telemetry": {"enabled": True}}))
    env = {"BASTION_TELEMETRY_DISABLED": ""}
    assert run_bastion("trust", workspace, env=env).returncode == 0
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "list_dir", "arguments": {}}]}, {"content": "ok"}])
    r = run_bastion("run", "look", "-w", workspace, "--provider", "replay", "--script", script,
                    env=env)
    assert r.returncode == 0, r.stderr
    assert "telemetry.enabled" in r.stderr and "refused" in r.stderr
    assert not any(p.name.startswith("telemetry") for p in bastion_home.iterdir())
    # the user cannot switch it on either, by any command; each attempt is audited
    for cmd in (["config", "set", "telemetry.enabled", "true"], ["telemetry", "enable"]):
        r = run_bastion(*cmd, env=env)
        assert r.returncode == 1, (cmd, r.stdout, r.stderr)
        assert "telemetry.enabled" in r.stderr and "may only be turned off" in r.stderr
    assert json.loads(run_bastion("config", "get", "telemetry.enabled").stdout) is False
    refused = [d for d in audit_records("config") if d["action"] == "refused"]
    layers = {d["payload"]["layer"] for d in refused}
    assert {"project", "user"} <= layers, refused
    assert {d["payload"].get("command") for d in refused} >= {"cli", "telemetry"}


def test_locked_key_cannot_be_changed_by_any_path(managed, bastion_home: Path,  # type: ignore[no-untyped-def]
                                                  workspace: Path, tmp_path: Path) -> None:
    managed({"network": {"allowedDomains": ["docs.corp.example"]},
             "locked": ["network.allowedDomains", "audit.logPath"]})
    # even a stricter value (an empty allowlist) is a change: locked means unchangeable
    user_settings(bastion_home, {"network": {"allowedDomains": []}})
    get = run_bastion("config", "get", "network.allowedDomains")
    assert json.loads(get.stdout) == ["docs.corp.example"], get.stderr
    r = run_bastion("config", "set", "network.allowedDomains", '["evil.example"]')
    assert r.returncode == 1 and "locked" in r.stderr
    r = run_bastion("config", "set", "audit.logPath", str(tmp_path / "elsewhere.jsonl"))
    assert r.returncode == 1 and "locked" in r.stderr
    (workspace / ".bastion").mkdir()
    (workspace / ".bastion" / "settings.json").write_text(
        json.dumps({"network": {"allowedDomains": ["evil.example"]}}))
    shown = run_bastion("config", "show", "--origin", "-w", workspace)
    line = next((x for x in shown.stdout.splitlines() if x.startswith("network.allowedDomains")),
                shown.stderr)
    assert '["docs.corp.example"]' in line and "[managed]" in line
    assert "refused" in shown.stderr and "project" in shown.stderr


def test_locked_key_command_line_and_project_layers(managed, bastion_home: Path,  # type: ignore[no-untyped-def]
                                                    workspace: Path) -> None:
    from bastion.config import (
        ManagedRefusal,
        command_line_settings,
        constrain_project,
        load_settings,
        parse_settings,
    )

    managed({"network": {"allowedDomains": ["docs.corp.example"]},
             "locked": ["network.allowedDomains"]})
    settings = load_settings()
    with pytest.raises(ManagedRefusal, match="locked"):
        command_line_settings(settings, [("network.allowedDomains", ["evil.example"])])
    project = parse_settings({"network": {"allowedDomains": ["evil.example"]}}, "p")
    clamped = constrain_project(settings, project, workspace / ".bastion" / "settings.json")
    assert clamped is not None and clamped.network.allowed_domains == []
    ok = command_line_settings(settings, [("offlineMode", True)])
    assert ok.offline_mode and ok.network.allowed_domains == ["docs.corp.example"]


def test_role_assigned_by_group_narrows_grants(managed, bastion_home: Path,  # type: ignore[no-untyped-def]
                                               workspace: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    group = grp.getgrgid(os.getegid()).gr_name
    roles = {"contractor": {"permissions": {"folders": [{"path": str(shared),
                                                         "access": "read"}]}}}
    user_settings(bastion_home, {"permissions": {"folders": [{"path": str(shared),
                                                              "access": "write"}]}})
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": str(shared / "out.txt"), "content": "x"}}]},
        {"content": "done"}])

    def attempt() -> Path:
        r = run_bastion("run", "write", "-w", workspace, "--provider", "replay",
                        "--script", script, "--approve", "auto")
        assert r.returncode == 0, r.stderr
        return shared / "out.txt"

    # assigned to someone else: the user's own write grant applies
    managed({"roles": roles, "assignments": {"group:no-such-group-xyz": "contractor"}})
    assert attempt().exists()
    (shared / "out.txt").unlink()
    # assigned to a group this process is in: the grant is narrowed to read
    managed({"roles": roles, "assignments": {f"group:{group}": "contractor"}})
    assert not attempt().exists()
    doctor = run_bastion("doctor")
    assert "role: contractor" in doctor.stdout + doctor.stderr
    starts = [d for d in audit_records("session") if d["action"] == "start"]
    assert starts[-1]["payload"]["roles"] == ["contractor"]
    assert starts[0]["payload"]["roles"] == []
    explain = run_bastion("policy", "explain", "-w", workspace)
    grant = next(x for x in explain.stdout.splitlines() if str(shared) in x)
    assert grant.strip().startswith("read") and "role contractor" in grant


def test_approve_auto_refused_and_audited(managed, workspace: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    managed({"permissions": {"allowAutoApprove": False}, "securityMode": True})
    script = write_script(tmp_path / "s.jsonl", [{"content": "ok"}])
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                    "--approve", "auto")
    assert r.returncode == 1 and "--approve auto" in r.stderr, r.stderr
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                    "--mode", "standard")
    assert r.returncode == 1 and "security mode is required" in r.stderr, r.stderr
    explain = run_bastion("policy", "explain", "-w", workspace)
    assert "mode: strict" in explain.stdout
    assert "securityMode = true (decided by managed)" in explain.stdout
    refused = [d["payload"]["source"] for d in audit_records("config")
               if d["action"] == "refused"]
    assert refused == ["--approve auto", "--mode standard"]
    ok = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("spoil", ["chmod-o+w", "chmod-dir-o+w", "chown", "bad-json"])
def test_unsafe_managed_file_refuses_to_start(managed, workspace: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                              spoil: str) -> None:
    path = managed({"offlineMode": True})
    if spoil == "chmod-o+w":
        path.chmod(0o646)
    elif spoil == "chmod-dir-o+w":
        path.parent.chmod(0o777)
    elif spoil == "chown":
        os.chown(path, 65534, 65534)
    else:
        path.write_text("{not json")
    script = write_script(tmp_path / "s.jsonl", [{"content": "ok"}])
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script)
    assert r.returncode == 1, r.stdout
    assert "etc-bastion" in r.stderr and "Traceback" not in r.stderr
    if spoil != "bad-json":
        assert "refusing to start" in r.stderr
    assert r.stdout == ""


def test_managed_file_schema_errors_name_file_and_key(managed) -> None:  # type: ignore[no-untyped-def]
    from bastion.config import SettingsError, load_settings

    for doc, needle in (({"locked": ["network.nope"]}, "locked"),
                        ({"assignments": {"user:alice": "ghost"}}, "ghost"),
                        ({"assignments": {"alice": "x"}, "roles": {"x": {}}}, "user:NAME"),
                        ({"roles": {"x": {"telemetry": {"enabled": "maybe"}}}}, "role x"),
                        ({"offlineMode": "maybe"}, "offlineMode")):
        path = managed(doc)
        with pytest.raises(SettingsError) as err:
            load_settings()
        assert needle in str(err.value) and str(path) in str(err.value), (doc, err.value)
    path = managed({"roles": {"x": {"permissions": {"deny": ["Wirte(./a)"]}}}})
    r = run_bastion("config", "validate", path)  # a role's rules are checked too
    assert r.returncode == 1 and "Wirte" in r.stderr
    path = managed({"locked": ["network"], "roles": {"x": {"offlineMode": True}},
                    "assignments": {"group:dev": "x"}})
    r = run_bastion("config", "validate", path)
    assert r.returncode == 0 and "valid" in r.stderr, r.stderr


def test_test_variable_refused_when_system_file_exists(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from bastion.config import SettingsError, managed

    system = tmp_path / "system.json"
    system.write_text("{}")
    monkeypatch.setitem(managed.SYSTEM_PATHS, "linux", system)
    monkeypatch.setenv("BASTION_MANAGED_SETTINGS", str(tmp_path / "other.json"))
    with pytest.raises(SettingsError, match="tests only"):
        managed.managed_path()
    monkeypatch.delenv("BASTION_MANAGED_SETTINGS")
    assert managed.managed_path() == system


def test_provider_record_unaffected_without_managed_file(workspace: Path, tmp_path: Path) -> None:
    """No managed file: nothing changes (no refusals, no role)."""
    script = write_script(tmp_path / "s.jsonl", [{"content": "ok"}])
    record = tmp_path / "r.jsonl"
    r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                    "--record", record, "--approve", "auto")
    assert r.returncode == 0 and "refused" not in r.stderr
    assert len(read_record(record)) == 1


def test_the_web_ui_cannot_loosen_a_managed_value(managed, bastion_home: Path) -> None:  # type: ignore[no-untyped-def]
    from ui.ui_fixtures import logged_in, origin, running_ui

    managed({"offlineMode": True})
    with running_ui() as server:
        client = logged_in(server)
        r = client.post("/settings", data={"key": "offlineMode", "value": "false"},
                        headers={"origin": origin(server)})
        assert "offlineMode" in r.text and "may only be turned on" in r.text
    assert not (bastion_home / "settings.json").exists() or \
        "offlineMode" not in (bastion_home / "settings.json").read_text()
    refused = [d["payload"] for d in audit_records("config") if d["action"] == "refused"]
    assert [(p["key"], p["command"]) for p in refused] == [("offlineMode", "ui")]


def test_settings_built_by_hand_cannot_loosen(managed) -> None:  # type: ignore[no-untyped-def]
    """However a command builds its settings (e.g. the file plus ``-c KEY=VALUE`` overrides
    applied to a dict), opening the runtime with them checks them against the layers."""
    from bastion.config import ManagedRefusal, dump_settings, load_settings, parse_settings
    from bastion.runtime import Runtime

    managed({"offlineMode": True, "agent": {"maxSteps": 20}})
    data = dump_settings(load_settings())
    data["agent"]["maxSteps"] = 5  # tighter: fine
    with Runtime.open(parse_settings(data, "-c")) as rt:
        assert rt.settings.agent.max_steps == 5 and rt.settings.offline_mode
    data["offlineMode"] = False
    with pytest.raises(ManagedRefusal, match="offlineMode"):
        Runtime.open(parse_settings(data, "-c"))
    refused = [d["payload"] for d in audit_records("config") if d["action"] == "refused"]
    assert [(p["key"], p["layer"]) for p in refused] == [("offlineMode", "command line")]


def test_trusted_project_cannot_widen_past_managed_grants(managed, bastion_home: Path,  # type: ignore[no-untyped-def]
                                                          workspace: Path, tmp_path: Path) -> None:
    """A trusted project may widen the user's grants, never the organisation's."""
    from bastion.config import load_settings
    from bastion.policy import TrustStore, build_policy

    shared = tmp_path / "shared"
    shared.mkdir()
    managed({"permissions": {"folders": [{"path": str(shared), "access": "read"}],
                             "deny": ["Bash(curl:*)"]}})
    (workspace / ".bastion").mkdir()
    (workspace / ".bastion" / "settings.json").write_text(json.dumps({"permissions": {
        "folders": [{"path": str(shared), "access": "write"}, {"path": "/etc", "access": "read"}],
        "allow": ["Bash(curl:*)"]}}))
    TrustStore(bastion_home).trust(workspace)
    settings = load_settings()
    policy = build_policy(settings, workspace, bastion_home=bastion_home, approve="auto",
                          interactive=False)
    assert policy.decide("write_file", shared / "x.txt").verdict == "deny"
    assert policy.decide("read_file", shared / "x.txt").verdict == "allow"
    assert policy.decide("read_file", "/etc/hostname").verdict != "allow"
    assert policy.decide("run_command", "curl https://x.example").verdict == "deny"
    refused = {(r.layer, r.key) for r in settings._layers.refusals}
    assert ("project", "permissions.folders") in refused


def test_command_line_override_cannot_loosen(managed, workspace: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    managed({"offlineMode": True, "network": {"allowedDomains": ["docs.corp.example"]},
             "locked": ["network.allowedDomains"]})
    script = write_script(tmp_path / "s.jsonl", [{"content": "ok"}])
    for override, why in (("offlineMode=false", "may only be turned on"),
                          ('network.allowedDomains=["evil.example"]', "locked")):
        r = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                        "-c", override)
        assert r.returncode == 1 and why in r.stderr and r.stdout == "", r.stderr
    ok = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script,
                     "-c", "agent.maxSteps=3")
    assert ok.returncode == 0, ok.stderr
    refused = [(d["payload"]["key"], d["payload"]["command"]) for d in audit_records("config")
               if d["action"] == "refused"]
    assert refused == [("offlineMode", "-c"), ("network.allowedDomains", "-c")]
