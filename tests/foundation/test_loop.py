"""The loop's bookkeeping: interrupts leave a consistent session, output is capped."""

from pathlib import Path

import pytest

from bastion.agent import Agent
from bastion.policy import Policy
from bastion.providers import ModelReply, ModelRequest, Provider, ToolCall
from bastion.runtime import Runtime
from bastion.tools import ToolContext, ToolRegistry, read_only_tools


class Scripted(Provider):
    name = "scripted"

    def __init__(self, replies: list[ModelReply | BaseException]) -> None:
        self.replies = replies
        self.seen: list[ModelRequest] = []

    def complete(self, request: ModelRequest, on_text=None) -> ModelReply:  # type: ignore[no-untyped-def]
        self.seen.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply


def _agent(rt: Runtime, ws: Path, provider: Provider, **kw: object) -> Agent:
    sid = rt.sessions.create(title="t", workspace=str(ws), agent="general", provider="x", model="y")
    return Agent(provider=provider, tools=ToolRegistry(read_only_tools()),
                 ctx=ToolContext(workspace=ws, policy=Policy(ws)), store=rt.sessions,
                 session_id=sid, system_prompt="sys", **kw)  # type: ignore[arg-type]


def test_ctrl_c_leaves_consistent_session(workspace: Path) -> None:
    provider = Scripted([ModelReply("", [ToolCall("c1", "list_dir", {})]), KeyboardInterrupt()])
    with Runtime.open() as rt:
        agent = _agent(rt, workspace, provider)
        with pytest.raises(KeyboardInterrupt):
            agent.run("task")
        sid = agent.session_id
    with Runtime.open() as rt:
        info = rt.sessions.resolve(sid)
        assert info.status == "interrupted"
        roles = [m["role"] for m in rt.sessions.messages(sid)]
        assert roles == ["system", "user", "assistant", "tool"]
        assert [c["status"] for c in rt.sessions.tool_calls(sid)] == ["ok"]


def test_tool_output_is_capped(workspace: Path) -> None:
    (workspace / "big.txt").write_text("y" * 50_000)
    provider = Scripted([ModelReply("", [ToolCall("c1", "read_file", {"path": "big.txt"})]),
                         ModelReply("done")])
    with Runtime.open() as rt:
        result = _agent(rt, workspace, provider, tool_output_limit=2_000).run("read it")
    assert result.answer == "done"
    tool_msg = provider.seen[1].messages[-1]
    assert tool_msg["role"] == "tool" and len(tool_msg["content"]) < 2_100
    assert "output truncated" in tool_msg["content"]


def test_outbound_filter_sees_every_request(workspace: Path) -> None:
    provider = Scripted([ModelReply("", [ToolCall("c1", "list_dir", {})]), ModelReply("ok")])
    seen: list[int] = []

    def redact(messages: list[dict]) -> list[dict]:  # type: ignore[type-arg]
        seen.append(len(messages))
        return [{**m, "content": (m.get("content") or "").replace("README", "[R]")}
                for m in messages]

    with Runtime.open() as rt:
        _agent(rt, workspace, provider, outbound_filter=redact).run("list")
    assert seen == [2, 4]
    assert "README" not in provider.seen[1].messages[-1]["content"]
