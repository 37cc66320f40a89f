"""Each anomaly detector fires on a replay script built to trigger it, pauses the agent (no
terminal: stops the run), and stays quiet on a normal session."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from bastion import audit
from bastion.agent import AgentSession, RunOptions
from bastion.audit import AnomalyMonitor, AnomalyStop, AnomalyThresholds, entry_payload
from bastion.runtime import Runtime
from bastion.tools import Granted, Tool, ToolArgs, ToolContext, ToolRegistry, ToolResult, read_only_tools
from helpers import write_script

from .conftest import cli, write_settings


# Stand-ins for the mutating tools other packages provide: they report the same facts
# (ToolResult.details, network records) the real ones do, without touching anything.
class PathArgs(ToolArgs):
    path: str


class StubDelete(Tool[PathArgs]):
    name: ClassVar[str] = "delete_file"
    description: ClassVar[str] = "stub"
    Args = PathArgs
    read_only: ClassVar[bool] = False

    def execute(self, args: PathArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        return ToolResult("deleted", details={"path": args.path, "access": "delete",
                                              "sha256": "ab" * 32})


class CommandArgs(ToolArgs):
    command: str


class StubCommand(Tool[CommandArgs]):
    name: ClassVar[str] = "run_command"
    description: ClassVar[str] = "stub"
    Args = CommandArgs
    read_only: ClassVar[bool] = False

    def execute(self, args: CommandArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        touched = 150 if "rm -rf" in args.command else 2
        return ToolResult("done", details={"command": args.command, "exit_code": 0,
                                           "changed_files": touched})


class UrlArgs(ToolArgs):
    url: str


class StubFetch(Tool[UrlArgs]):
    name: ClassVar[str] = "fetch_url"
    description: ClassVar[str] = "stub"
    Args = UrlArgs

    def execute(self, args: UrlArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        audit.record_network({"type": "network", "method": "GET", "host": args.url.split("/")[2],
                              "decision": "allow", "rule": "allowlist"})
        return ToolResult("<html>")


def _calls(name: str, key: str, values: list[str]) -> list[dict[str, Any]]:
    return [{"content": "", "tool_calls": [{"name": name, "arguments": {key: v}}]}
            for v in values]


def _run(workspace: Path, tmp_path: Path, turns: list[dict[str, Any]], *,
         decide: bool | None = None) -> tuple[str, str, list[tuple[str, str, Any]]]:
    """Run a replay script in-process with the stub tools; returns (status, session, records)."""
    script = write_script(tmp_path / "s.jsonl", [*turns, {"content": "finished"}])
    opts = RunOptions(task="t", workspace=workspace, provider="replay", script=script,
                      max_steps=200)
    with Runtime.open() as rt:
        with AgentSession(rt, opts) as session:
            session.agent.tools = ToolRegistry([StubDelete(), StubCommand(), StubFetch(),
                                                *read_only_tools()])
            if decide is not None:
                session.recorder.on_anomaly = lambda anomalies: decide
            try:
                status = session.run("t").status
            except AnomalyStop:
                status = "stopped"
        info = rt.sessions.resolve(session.session_id)
        records = [(e.category, e.action, entry_payload(e)) for e in rt.audit.entries()]
        assert rt.audit.verify().ok
    assert info.status == status
    return status, session.session_id, records


def _anomalies(records: list[tuple[str, str, Any]]) -> list[str]:
    return [a for c, a, _ in records if c == "anomaly"]


SENSITIVE = [".env", "id_rsa", "server.pem", "credentials.json", "db-secrets.yaml", "tls.key"]


@pytest.mark.parametrize(("kind", "turns"), [
    ("denied_attempts", _calls("read_file", "path", ["../x"] * 30)),
    ("sensitive_reads", _calls("read_file", "path", SENSITIVE)),
    ("mass_change", _calls("delete_file", "path", [f"src/f{i}.py" for i in range(30)])),
    ("command_files", _calls("run_command", "command", ["rm -rf build"])),
    ("egress_burst", _calls("fetch_url", "url", [f"https://h{i}.example/x" for i in range(35)])),
])
def test_detector_fires_and_stops_the_run(workspace: Path, tmp_path: Path, kind: str,
                                          turns: list[dict[str, Any]]) -> None:
    for name in SENSITIVE:
        (workspace / name).write_text("x\n")
    after = _calls("list_dir", "path", ["."] * 3)
    status, _, records = _run(workspace, tmp_path, [*turns, *after])
    assert status == "stopped"
    assert _anomalies(records) == [kind]
    assert ("user", "anomaly-stop") in {(c, a) for c, a, _ in records}
    end = [p for c, a, p in records if (c, a) == ("session", "end")]
    assert end[0]["status"] == "stopped"
    # the run stopped at the anomaly: later scripted calls never ran
    calls = [p["name"] for c, a, p in records if (c, a) == ("tool", "call")]
    assert "list_dir" not in calls


def test_user_may_continue(workspace: Path, tmp_path: Path, bastion_home: Path) -> None:
    write_settings(bastion_home, {"anomaly": {"deniedAttempts": 9}})
    status, _, records = _run(workspace, tmp_path, _calls("read_file", "path", ["../x"] * 25),
                              decide=True)
    assert status == "completed"
    assert _anomalies(records) == ["denied_attempts", "denied_attempts"]  # at 10 and 20
    assert [a for c, a, _ in records if c == "user"] == ["anomaly-continue"] * 2


def test_normal_session_with_every_kind_of_tool_is_quiet(workspace: Path, tmp_path: Path) -> None:
    (workspace / ".env").write_text("A=1\n")
    turns = [
        *_calls("read_file", "path", ["README.md", "src/app.py", ".env", "../nope"]),
        *_calls("delete_file", "path", [f"tmp{i}" for i in range(5)]),
        *_calls("run_command", "command", ["make test", "ls"]),
        *_calls("fetch_url", "url", [f"https://docs.example/{i}" for i in range(5)]),
        *_calls("list_dir", "path", ["."]),
    ]
    status, _, records = _run(workspace, tmp_path, turns)
    assert status == "completed"
    assert _anomalies(records) == []
    categories = {c for c, _, _ in records}
    assert {"session", "tool", "file", "network"} <= categories


def test_record_only_mode_never_pauses(workspace: Path, tmp_path: Path,
                                       bastion_home: Path) -> None:
    write_settings(bastion_home, {"anomaly": {"onAnomaly": "record", "deniedAttempts": 3}})
    status, _, records = _run(workspace, tmp_path, _calls("read_file", "path", ["../x"] * 8))
    assert status == "completed"
    assert _anomalies(records) == ["denied_attempts", "denied_attempts"]


def test_cli_run_stops_with_a_clear_message(workspace: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "s.jsonl",
                          [*_calls("read_file", "path", ["../x"] * 30), {"content": "ok"}])
    r = cli("run", "probe", "-w", workspace, "--provider", "replay", "--script", script)
    assert r.returncode == 3
    assert "anomaly detected" in r.stderr and "denied_attempts" in r.stderr
    tail = cli("audit", "tail", "-n", "5")
    assert "anomaly/denied_attempts" in tail.stdout
    sessions = cli("sessions", "list", "--json")
    assert '"stopped"' in sessions.stdout


def test_windows_expire() -> None:
    now = [0.0]
    monitor = AnomalyMonitor(AnomalyThresholds(egress_burst=3, egress_window_s=10),
                             clock=lambda: now[0])
    for _ in range(10):  # one request every 6 s never makes a burst
        assert monitor.observe("network", "allow", {"host": "a"}) == []
        now[0] += 6
    now[0] += 100
    fired = [monitor.observe("network", "allow", {"host": "a"}) for _ in range(4)]
    assert [len(f) for f in fired] == [0, 0, 0, 1]


def test_denied_decisions_from_the_policy_count_once_per_call() -> None:
    monitor = AnomalyMonitor(AnomalyThresholds(denied_attempts=2))
    for i in range(2):  # the tool result and the policy decision describe the same call
        assert monitor.observe("tool", "result", {"id": f"c{i}", "status": "denied"}) == []
        assert monitor.observe("decision", "deny", {"tool_call_id": f"c{i}"}) == []
    assert monitor.observe("decision", "deny", {"tool_call_id": "c9"})[0].kind == \
        "denied_attempts"
