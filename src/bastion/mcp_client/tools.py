"""MCP tools in a session: ``mcp__<server>__<tool>``, each call under the session's policy.

A call is declared to the gate like every other tool's (no matching rule → "ask"), its
arguments go to the server exactly as the model wrote them (placeholders for secrets are
never restored for MCP), and its result passes the privacy filter before anyone sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bastion.config import Settings
from bastion.policy import Authorization, Request, fallback_for
from bastion.providers import ToolSpec
from bastion.tools import Granted, Tool, ToolContext, ToolRegistry, ToolResult

from .approvals import ApprovalStore, tool_list_hash
from .client import McpConnection, McpError, RemoteTool
from .config import ServerEntry, configured_servers
from .deferred import DeferredConnection, ToolListCache
from .state import state_dir

PREFIX = "mcp"
#: what providers accept as a function name
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def tool_name(server: str, tool: str) -> str:
    return f"{PREFIX}__{server}__{tool}"


class McpTool(Tool[Any]):
    """One remote tool. Not read-only: Bastion cannot know what a server's tool changes."""

    name: ClassVar[str] = "mcp"
    description: ClassVar[str] = "MCP tool"
    read_only: ClassVar[bool] = False

    def __init__(self, connection: McpConnection | DeferredConnection, remote: RemoteTool) -> None:
        self.connection = connection
        self.remote = remote
        # instance attributes shadow the ClassVars: every MCP tool has its own name
        self.name = tool_name(connection.name, remote.name)  # type: ignore[misc]
        self.description = remote.description  # type: ignore[misc]

    def spec(self) -> ToolSpec:
        schema = dict(self.remote.input_schema) or {"type": "object", "properties": {}}
        schema.setdefault("type", "object")
        text = f"(MCP server {self.connection.name}) {self.remote.description}".strip()
        return ToolSpec(self.name, text, schema)

    def parse(self, arguments: dict[str, Any]) -> Any:
        return dict(arguments)  # the server validates against its own schema

    def requests(self, args: Any, ctx: ToolContext) -> list[Request]:
        target = json.dumps(args, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return [Request(target, None, name="call", fallback=fallback_for(self.name))]

    def denied(self, auth: Authorization) -> ToolResult:
        record = auth.record
        why = record.why_not_approved() if record.verdict == "ask" else record.reason
        return ToolResult(f"{self.name} denied: {why} (rule: {record.rule}); allow it with a "
                          f"rule such as {self.name} in permissions.allow", is_error=True,
                          details={"denied": True, "rule": record.rule})

    def execute(self, args: Any, ctx: ToolContext, granted: Granted) -> ToolResult:
        granted.target("call")  # authorised by the gate, exactly these arguments
        try:
            result = self.connection.call(self.remote.name, args)
        except McpError as exc:
            return ToolResult(str(exc), is_error=True, details={"server": self.connection.name})
        text = result.text
        pf = ctx.extras.get("privacy_filter")
        if pf is not None:
            text = pf.redact(text)
        return ToolResult(text, is_error=result.is_error,
                          details={"server": self.connection.name, "tool": self.remote.name})


@dataclass
class Attached:
    entry: ServerEntry
    connection: McpConnection | DeferredConnection | None
    tools: list[str] = field(default_factory=list)
    note: str = ""


def connect_server(entry: ServerEntry, settings: Settings, policy: Any) -> McpConnection:
    """Start/contact ``entry`` (must be ``ready``) and complete the MCP handshake."""
    if entry.status != "ready":
        raise McpError(f"MCP server {entry.name!r} not started: {entry.reason}")
    if entry.settings.url:
        from .http import http_transport

        url = entry.settings.url
        # MCP over HTTP is a fetch: WebFetch rules, modes and approvals apply before connecting
        record = policy.check("fetch_url", url, fallback="allow",
                              preview=f"connect to MCP server {entry.name} at {url}")
        if record.outcome != "allow":
            why = record.why_not_approved() if record.verdict == "ask" else record.reason
            raise McpError(f"MCP server {entry.name!r} not contacted: {url} is denied by the "
                           f"policy: {why} (rule: {record.rule})")
        return McpConnection(entry.name, lambda: http_transport(url, settings)).connect()
    from .transport import process_streams, start_server

    home = getattr(policy, "bastion_home", None)
    state = (state_dir(Path(home), entry.name, entry.workspace if entry.origin == "project"
                       else None) if home is not None else None)

    def transport() -> Any:
        process = start_server(entry.settings, settings, policy, state)
        return process_streams(process)

    return McpConnection(entry.name, transport).connect()


Notify = Callable[[str, dict[str, Any]], None]


def approve_tool_list(entry: ServerEntry, conn: McpConnection | DeferredConnection, home: Path,
                      policy: Any
                      ) -> tuple[bool, str]:
    """Whether this exact tool list may be offered; asks (via the policy) when it is new."""
    store = ApprovalStore(home)
    tools = [t.as_dict() for t in conn.tools]
    digest = tool_list_hash(tools)
    approved = store.approved_hash(entry.key)
    if approved == digest:
        return True, "approved tool list"
    what = "changed since you approved it" if approved else "not approved yet"
    preview = "\n".join(f"- {t['name']}: {t['description'][:200]}" for t in tools)
    record = policy.check(f"{PREFIX}__{entry.name}", f"tool-list:{digest}", fallback="ask",
                          preview=f"MCP server {entry.name} offers (tool list {what}):\n{preview}")
    if record.outcome != "allow":
        return False, (f"tool list {what} (sha256 {digest[:12]}); not offered — review it with "
                       f"`bastion mcp test {entry.name}` and run `bastion mcp approve {entry.name}`")
    if record.settled_by in ("user:session", "user:always"):  # "once"/auto: this run only
        store.approve(entry.key, digest, [t["name"] for t in tools])
    return True, f"tool list {what}; approved ({record.settled_by})"


def attach_servers(registry: ToolRegistry, settings: Settings, workspace: Path, home: Path,
                   policy: Any, notify: Notify | None = None) -> list[Attached]:
    """Connect every ready server and register its (approved) tools in ``registry``.

    A server that fails to start, or whose tool list is not approved, contributes nothing
    and is reported through ``notify(kind, data)``; the session goes on without it.
    """
    out: list[Attached] = []
    for entry in configured_servers(settings, workspace, home):
        if entry.status != "ready":
            out.append(Attached(entry, None, note=f"not started: {entry.reason}"))
            continue
        conn = _deferred_or_live(entry, settings, home, policy)
        if isinstance(conn, str):  # a broken server must not stop the session
            out.append(Attached(entry, None, note=conn))
            continue
        ok, note = approve_tool_list(entry, conn, home, policy)
        if not ok:
            conn.close()
            out.append(Attached(entry, None, note=note))
            continue
        names = []
        for remote in conn.tools:
            tool = McpTool(conn, remote)
            if not _NAME.match(tool.name) or registry.get(tool.name) is not None:
                continue
            registry.register(tool)
            names.append(tool.name)
        out.append(Attached(entry, conn, names, note))
    if notify is not None:
        for a in out:
            notify("mcp_server", {"server": a.entry.name, "origin": a.entry.origin,
                                  "status": _status(a),
                                  "tools": a.tools, "note": a.note})
    return out


def _deferred_or_live(entry: ServerEntry, settings: Settings, home: Path, policy: Any
                      ) -> McpConnection | DeferredConnection | str:
    """The server's cached tool list (it starts on first call), else a live connection."""
    cache = ToolListCache(home)
    cached = cache.get(entry.key)
    if cached is not None:
        return DeferredConnection(entry.name, lambda: connect_server(entry, settings, policy),
                                  cached, on_changed=lambda: cache.drop(entry.key))
    try:
        conn = connect_server(entry, settings, policy)
    except Exception as exc:
        return f"failed to start: {exc}"
    cache.put(entry.key, conn.tools)
    return conn


def _status(a: Attached) -> str:
    if a.connection is None:
        return a.entry.status
    return "deferred" if isinstance(a.connection, DeferredConnection) else "connected"


class McpSetup:
    """What a session attached; ``close`` stops every server."""

    def __init__(self, attached: list[Attached]) -> None:
        self.attached = attached

    def close(self) -> None:
        for a in self.attached:
            if a.connection is not None:
                a.connection.close()


def attach_to_session(session: Any, rt: Any) -> McpSetup:
    """Runner hook: attach MCP servers to an :class:`AgentSession`'s agent."""
    agent = session.agent
    if agent.ctx.policy.mode == "restricted" or (not rt.settings.mcp_servers and not _has_project(
            agent.ctx.workspace)):
        return McpSetup([])

    def notify(kind: str, data: dict[str, Any]) -> None:
        rt.sessions.add_event(session.session_id, kind, data)
        try:
            from bastion import audit

            audit.record("tool", "mcp_server", data, session_id=session.session_id)
        except ImportError:  # pragma: no cover
            pass
        if data["status"] not in ("connected", "deferred") or data["note"] != "approved tool list":
            import sys

            sys.stderr.write(f"bastion: MCP server {data['server']}: "
                             f"{data['note'] or data['status']}\n")

    return McpSetup(attach_servers(agent.tools, rt.settings, agent.ctx.workspace, rt.home,
                                   agent.ctx.policy, notify))


def _has_project(workspace: Path) -> bool:
    return (workspace / ".bastion" / "settings.json").is_file()
