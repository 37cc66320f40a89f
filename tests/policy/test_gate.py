"""The one gate: tools declare what they need, the policy authorises once, tools get only that."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bastion.agent.dispatch import dispatch
from bastion.journal import Journal
from bastion.policy import DecisionRecord, Grant, Policy, Request
from bastion.providers.base import ToolCall
from bastion.tools import Granted, Tool, ToolArgs, ToolContext, ToolRegistry, ToolResult
from bastion.tools.edit import mutating_tools
from bastion.tools.fetch import FetchUrl
from bastion.tools.files import read_only_tools
from bastion.tools.run_command import RunCommand

SRC = Path(__file__).resolve().parents[2] / "src" / "bastion"


class PathArgs(ToolArgs):
    path: str


class Sneaky(Tool[PathArgs]):
    """Declares nothing, then tries to use a path anyway."""

    name: ClassVar[str] = "sneaky"
    description: ClassVar[str] = "test"
    Args = PathArgs

    def execute(self, args: PathArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        seen = [granted.readable(Path(args.path)), dict(granted.targets)]
        path = granted.path()  # refused: nothing was requested, nothing was handed over
        return ToolResult(f"read {path.read_text()} {seen}")


class Counting(Tool[PathArgs]):
    """Declares a write; counts how often it is let through."""

    name: ClassVar[str] = "counting"
    description: ClassVar[str] = "test"
    Args = PathArgs
    ran = 0

    def requests(self, args: PathArgs, ctx: ToolContext) -> list[Request]:
        return [Request(args.path, "write")]

    def execute(self, args: PathArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        Counting.ran += 1
        return ToolResult(f"ok {granted.path()}")


def _call(registry: ToolRegistry, ctx: ToolContext, name: str, **args: Any) -> ToolResult:
    return dispatch(registry, ctx, ToolCall(id=f"c-{name}", name=name, arguments=args))


def test_a_tool_that_declares_nothing_gets_nothing(workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("OUTSIDE")
    records: list[DecisionRecord] = []
    ctx = ToolContext(workspace, Policy(workspace, approve="auto", on_decision=records.append))
    result = _call(ToolRegistry([Sneaky()]), ctx, "sneaky", path=str(secret))
    assert result.is_error and "no authorised path" in result.content
    assert "OUTSIDE" not in result.content
    assert records == []  # nothing requested: nothing decided, nothing recorded


def test_a_denied_declaration_never_runs_the_tool(workspace: Path, tmp_path: Path) -> None:
    records: list[DecisionRecord] = []
    ctx = ToolContext(workspace, Policy(workspace, approve="auto", on_decision=records.append))
    registry = ToolRegistry([Counting()])
    Counting.ran = 0
    denied = _call(registry, ctx, "counting", path=str(tmp_path / "x"))
    assert denied.is_error and denied.details["denied"] and Counting.ran == 0
    assert [(r.verdict, r.outcome, r.settled_by) for r in records] == [
        ("ask", "deny", "approve:auto-outside")]
    ok = _call(registry, ctx, "counting", path="a.txt")
    assert not ok.is_error and Counting.ran == 1 and str(workspace / "a.txt") in ok.content


def test_one_call_one_decision(workspace: Path, journal: Journal) -> None:
    (workspace / "a.txt").write_text("A")
    records: list[DecisionRecord] = []
    ctx = ToolContext(workspace, Policy(workspace, on_decision=records.append),
                      session_id="s", extras={"journal": journal})
    registry = ToolRegistry(mutating_tools())
    moved = _call(registry, ctx, "move_file", source="a.txt", destination="b/a.txt")
    assert not moved.is_error, moved.content
    assert len(records) == 1 and records[0].target == "a.txt → b/a.txt"
    # either side outside the grants denies the whole call, once
    records.clear()
    out = _call(registry, ctx, "move_file", source="b/a.txt", destination="/tmp/stolen-x")
    assert out.is_error and len(records) == 1 and records[0].outcome == "deny"
    assert (workspace / "b" / "a.txt").read_text() == "A"


def test_outside_approval_covers_the_walk_below_that_folder_only(workspace: Path,
                                                                 tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "sub" / "f.txt").write_text("needle here")
    (other / ".env").write_text("needle SECRET")
    asked: list[str] = []

    def approver(req: Any) -> str:
        asked.append(req.target)
        return "once"

    policy = Policy(workspace, interactive=True, approver=approver)
    ctx = ToolContext(workspace, policy)
    grep = {t.name: t for t in read_only_tools()}["grep"]
    result = grep.run(grep.parse({"pattern": "needle", "path": str(other)}), ctx)
    assert "needle here" in result.content and "SECRET" not in result.content
    assert asked == [str(other)]


@pytest.mark.parametrize("tool", [*read_only_tools(), *mutating_tools(), RunCommand(),
                                  FetchUrl()], ids=lambda t: t.name)
def test_builtin_tools_declare_and_never_override_the_gate(tool: Tool[Any]) -> None:
    assert type(tool).run is Tool.run, f"{tool.name} overrides the gate"
    assert type(tool).requests is not Tool.requests, f"{tool.name} declares nothing"


def test_no_tool_calls_the_policy_itself() -> None:
    """Only the gate (tools/base.py) and the shared command runner ask the policy."""
    asking = re.compile(r"\.(resolve_read|resolve_write|check|authorize|decide)\(")
    files = [*sorted((SRC / "tools").glob("*.py")), SRC / "mcp_client" / "tools.py",
             SRC / "agent" / "taskforce.py"]
    offenders = []
    for path in files:
        if path.name == "base.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if asking.search(line) and "policy" in line:
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    allowed = {"tools/run_command.py", "mcp_client/tools.py"}  # runner for exec; MCP set-up
    assert [o for o in offenders if o.split(":")[0] not in allowed] == []


def test_webfetch_rule_is_decided_at_the_gate(workspace: Path) -> None:
    from bastion.policy import Rule

    deny = Rule.parse("WebFetch(domain:127.0.0.1)", "deny", "test", workspace)
    policy = Policy(workspace, rules=[deny])
    ctx = ToolContext(workspace, policy, extras={"http_client": object()})
    result = FetchUrl().run(FetchUrl().parse({"url": "http://127.0.0.1:9/x"}), ctx)
    assert result.is_error and result.details["denied"] and "WebFetch" in result.content
    assert Policy(workspace, grants=[Grant(workspace, "write", "t")]).decide(
        "fetch_url", "http://127.0.0.1:9/x").verdict == "allow"


def test_delegation_is_decided_at_the_gate(workspace: Path) -> None:
    from types import SimpleNamespace

    from bastion.agent.taskforce import DelegateTool
    from bastion.policy import Rule

    handed: list[str] = []
    run = SimpleNamespace(members=["coder", "reviewer"],
                          delegate=lambda agent, task: handed.append(agent) or ToolResult("ok"))
    tool = DelegateTool(run)  # type: ignore[arg-type]
    deny = Rule.parse("delegate(coder)", "deny", "test", workspace)
    ctx = ToolContext(workspace, Policy(workspace, rules=[deny]))
    refused = tool.run(tool.parse({"agent": "coder", "task": "x"}), ctx)
    assert refused.is_error and refused.details["denied"] and handed == []
    assert not tool.run(tool.parse({"agent": "reviewer", "task": "x"}), ctx).is_error
    assert handed == ["reviewer"]


def test_webfetch_deny_rule_stops_an_mcp_server_over_http(workspace: Path,
                                                          bastion_home: Path) -> None:
    import socket

    from bastion.config import McpServerSettings, Settings
    from bastion.mcp_client import McpError, configured_servers, connect_server
    from bastion.policy import Rule

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    cfg = Settings.model_validate({"mcpServers": {"web": {"url": url}},
                                   "network": {"allowedDomains": ["127.0.0.1"]}})
    assert isinstance(cfg.mcp_servers["web"], McpServerSettings)
    entry = configured_servers(cfg, workspace, bastion_home)[0]
    deny = Rule.parse("WebFetch(domain:127.0.0.1)", "deny", "test", workspace)
    with pytest.raises(McpError, match="denied by the policy"):
        connect_server(entry, cfg, Policy(workspace, rules=[deny]))
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing ever connected
    listener.close()
