"""A whole ``bastion run`` is audited; the CLI verifies, exports and tails; config and keys."""

from __future__ import annotations

import json
from pathlib import Path

from bastion.audit import entry_payload
from bastion.runtime import Runtime
from helpers import run_bastion, write_script

from .conftest import cli, write_settings

NORMAL = [
    {"content": "Looking.", "tool_calls": [{"name": "list_dir", "arguments": {}}]},
    {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}},
                                   {"name": "read_file", "arguments": {"path": "README.md"}}]},
    {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "../outside"}},
                                   {"name": "glob", "arguments": {"pattern": "**/*.py"}},
                                   {"name": "grep", "arguments": {"pattern": "hello"}}]},
    {"content": "The app prints hello."},
]


def _records() -> list[tuple[str, str, str | None, dict | None]]:
    with Runtime.open() as rt:
        return [(e.category, e.action, e.session_id, entry_payload(e))
                for e in rt.audit.entries()]


def test_replay_session_is_recorded_and_verifies(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", NORMAL)
    r = run_bastion("run", "What does the app print?", "-w", workspace, "--provider", "replay",
                    "--script", script, "--json")
    assert r.returncode == 0, r.stderr
    session_id = json.loads(r.stdout.splitlines()[-1])["session_id"]
    records = _records()
    kinds = {(c, a) for c, a, _, _ in records}
    assert {("session", "start"), ("session", "end"), ("tool", "call"), ("tool", "result"),
            ("file", "read")} <= kinds
    assert all(sid == session_id for _, _, sid, _ in records)
    assert ("anomaly" not in {c for c, _, _, _ in records})  # a normal session stays quiet
    results = [p for c, a, _, p in records if (c, a) == ("tool", "result")]
    assert [p["status"] for p in results] == ["ok", "ok", "ok", "denied", "ok", "ok"]
    assert all("content" not in p for p in results)  # outputs are not audit material
    reads = [p["path"] for c, a, _, p in records if (c, a) == ("file", "read")]
    assert reads == ["src/app.py", "README.md"]
    end = next(p for c, a, _, p in records if (c, a) == ("session", "end"))
    assert end["status"] == "completed"

    v = cli("audit", "verify")
    assert v.returncode == 0, v.stderr
    assert f"{len(records)} record(s) verified" in v.stdout
    tail = cli("audit", "tail", "-n", "5")
    assert tail.returncode == 0 and "session/end" in tail.stdout
    export = cli("audit", "export", "--format", "csv", "--session", session_id[:6])
    assert export.returncode == 0
    assert len(export.stdout.splitlines()) == len(records) + 1
    out = tmp_path / "export.jsonl"
    assert cli("audit", "export", "--out", out).returncode == 0
    assert cli("audit", "verify", "--file", out).returncode == 0
    # exporting is itself a user action in the log
    assert ("user", "export") in {(c, a) for c, a, _, _ in _records()}


def test_cli_verify_names_the_bad_record(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", NORMAL)
    assert cli("run", "t", "-w", workspace, "--provider", "replay",
                       "--script", script).returncode == 0
    with Runtime.open() as rt:
        rt.db.execute("DELETE FROM audit_log WHERE seq = 4")
    v = cli("audit", "verify")
    assert v.returncode == 2
    assert "record 4" in v.stderr and "deleted" in v.stderr
    j = cli("audit", "verify", "--json")
    assert j.returncode == 2 and json.loads(j.stdout)["first_bad_seq"] == 4


def test_log_path_file_via_cli(workspace: Path, tmp_path: Path, bastion_home: Path) -> None:
    log_file = tmp_path / "collect" / "bastion-audit.jsonl"
    write_settings(bastion_home, {"audit": {"logPath": str(log_file)}})
    script = write_script(tmp_path / "s.jsonl", NORMAL)
    assert cli("run", "t", "-w", workspace, "--provider", "replay",
                       "--script", script).returncode == 0
    assert cli("audit", "verify", "--file", log_file).returncode == 0
    lines = log_file.read_text().splitlines()
    log_file.write_text("\n".join(lines[:-3]) + "\n")
    v = cli("audit", "verify", "--file", log_file)
    assert v.returncode == 2 and f"record {len(lines) - 2}" in v.stderr
    assert "truncated" in v.stderr


def test_config_changes_are_recorded_with_secrets_masked(bastion_home: Path) -> None:
    assert cli("config", "set", "offlineMode", "true").returncode == 0
    assert cli("config", "set", "mcpServers",
                       '{"gh": {"command": "gh-mcp", "env": {"GH_TOKEN": "ghp_secret123"}}}'
                       ).returncode == 0
    assert cli("config", "set", "network.proxyUrl",
                       '"http://me:pw123@proxy.local:3128"').returncode == 0
    config = [p for c, a, _, p in _records() if (c, a) == ("config", "set")]
    assert config[0]["key"] == "offlineMode"
    assert (config[0]["old"], config[0]["new"]) == (None, True)
    text = json.dumps(config)
    assert "ghp_secret123" not in text and "pw123" not in text
    assert config[1]["new"]["gh"]["command"] == "gh-mcp"
    assert cli("audit", "verify").returncode == 0


def test_key_changes_are_recorded_without_the_key() -> None:
    assert cli("keys", "set", "openai", "--stdin", input="sk-test-abcdef123456\n"
                       ).returncode == 0
    assert cli("keys", "delete", "openai").returncode == 0
    records = _records()
    users = [(a, p) for c, a, _, p in records if c == "user"]
    assert [a for a, _ in users] == ["key-set", "key-delete"]
    assert users[0][1] == {"provider": "openai", "key_id": "default"}
    assert "sk-test" not in json.dumps(records)


def test_disabled_audit_records_nothing(workspace: Path, tmp_path: Path,
                                        bastion_home: Path) -> None:
    write_settings(bastion_home, {"audit": {"enabled": False}})
    script = write_script(tmp_path / "s.jsonl", NORMAL)
    assert cli("run", "t", "-w", workspace, "--provider", "replay",
                       "--script", script).returncode == 0
    assert _records() == []
    v = cli("audit", "verify")
    assert v.returncode == 0 and "audit.enabled is false" in v.stderr


def test_include_flags(workspace: Path, tmp_path: Path, bastion_home: Path) -> None:
    write_settings(bastion_home, {"audit": {"includeToolCalls": False,
                                            "includeFileAccess": False}})
    script = write_script(tmp_path / "s.jsonl", NORMAL)
    assert cli("run", "t", "-w", workspace, "--provider", "replay",
                       "--script", script).returncode == 0
    records = _records()
    # denials are always on the record; allowed calls and file access follow the flags
    assert {c for c, _, _, _ in records} == {"session", "decision"}
    decisions = [data for c, _, _, data in records if c == "decision"]
    assert decisions and all(d is not None and d["decision"] == "deny" for d in decisions)
