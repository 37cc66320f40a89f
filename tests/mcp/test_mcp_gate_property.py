"""Property: an MCP tool (a real server that reads and writes any path it is given) goes through
the same gate, under each unattended approval mode: no byte outside the grant changes or comes
back, and the gate's verdict equals ``bastion policy check`` for the same call."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.agent.dispatch import dispatch
from bastion.cli.policy_cmd import answer
from bastion.config import McpServerSettings, Settings
from bastion.mcp_client import McpTool, configured_servers, connect_server
from bastion.policy import DecisionRecord, Policy
from bastion.providers import ToolCall
from bastion.sandbox import probe_sandbox
from bastion.tools import ToolContext, ToolRegistry
from helpers import require

ECHO = Path(__file__).parent / "echo_server.py"
CANARY = "MCP-OUTSIDE-CANARY-77b0"
SEGMENTS = ["..", ".", "link-out", "outside", "secret.txt", "ws", "ws-secrets", "new.txt",
            "README.md", "x"]


@pytest.fixture
def echo(workspace: Path, tmp_path: Path, bastion_home: Path) -> Iterator[dict[str, Any]]:
    require(probe_sandbox()[0], "bubblewrap sandbox")
    outside, sibling = tmp_path / "outside", tmp_path / "ws-secrets"
    for d in (outside, sibling):
        d.mkdir()
        (d / "secret.txt").write_text(CANARY)
    os.symlink(outside, workspace / "link-out")
    server = McpServerSettings(command=sys.executable, args=[str(ECHO)],
                               env={"MARKER_FILE": str(tmp_path / "m")})
    cfg = Settings(mcp_servers={"echo": server})
    entry = configured_servers(cfg, workspace, bastion_home)[0]
    with connect_server(entry, cfg, Policy(workspace)) as conn:
        tools = [McpTool(conn, t) for t in conn.tools if t.name in ("read_path", "write_path")]
        yield {"ws": workspace, "root": tmp_path, "registry": ToolRegistry(tools)}


def _outside(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for d in ("outside", "ws-secrets")
            for p in sorted((root / d).rglob("*")) if p.is_file()}


def _state(path: Path) -> bytes | bool:
    try:
        return path.read_bytes() if path.is_file() else os.path.lexists(path)
    except OSError:
        return os.path.lexists(path)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(["read_path", "write_path"]),
       prefix=st.sampled_from(["", "{root}", "{root}/ws", "/proc/self/root{root}", "/tmp"]),
       parts=st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4),
       approve=st.sampled_from(["ask", "auto", "never"]))
def test_mcp_tool_cannot_reach_outside_the_grant(echo: dict[str, Any], name: str, prefix: str,
                                                 parts: list[str], approve: str) -> None:
    root, ws = echo["root"], echo["ws"]
    path = os.path.join(prefix.format(root=root), *parts)
    records: list[DecisionRecord] = []
    policy = Policy(ws, approve=approve, interactive=False,  # type: ignore[arg-type]
                    on_decision=records.append)
    args = {"path": path} if name == "read_path" else {"path": path, "content": "PWNED"}
    before = _outside(root)
    real = Path(os.path.realpath(path))
    inside = real == ws or ws in real.parents
    target_before = _state(real)
    result = dispatch(echo["registry"], ToolContext(ws, policy),
                      ToolCall("c", f"mcp__echo__{name}", args))
    assert _outside(root) == before, (name, path, result.content)
    assert not list((root / "outside").glob("*new*")), path
    if not inside:  # e.g. /tmp/new.txt on the host
        assert _state(real) == target_before, path
    assert CANARY not in result.content, (name, path)
    target = json.dumps(args, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    _, _, decision, outcome = answer(policy, Settings(), f"mcp__echo__{name}({target})",
                                     approve=approve)
    assert len(records) == 1
    assert (records[0].verdict, records[0].outcome) == (decision.verdict, outcome)
