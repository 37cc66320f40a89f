"""MCP servers as tools (official ``mcp`` SDK), under the same policy as every other tool.

Named ``mcp_client`` rather than ``mcp``: absolute imports would still find the SDK, but a
``bastion.mcp`` next to ``mcp`` is shadowed the moment a module of the package is run as a
script or a tool puts the package folder on ``sys.path``, and ``from mcp import ...`` lines
inside it would read as self-imports. A distinct name removes the ambiguity for people and
tools alike.

Public API::

    configured_servers(settings, workspace, bastion_home) -> list[ServerEntry]
        # .name .origin ("user"|"project") .status ("ready"|"disabled"|"untrusted"|...) .reason
    server_pin(McpServerSettings) -> str          # sha256 of command, args, env, url
    connect_server(entry, settings, policy) -> McpConnection   # .tools, .call(), .close()
    approve_tool_list(entry, conn, home, policy) -> (ok, note)
    tool_list_hash(tools) -> str; ApprovalStore(home).approve(key, digest, names)
    attach_servers(registry, settings, workspace, home, policy, notify=None) -> list[Attached]
    attach_to_session(agent_session, runtime) -> McpSetup      # the runner's hook; .close()
    ToolListCache(home)        # cached tool lists: servers start on the first call (deferred.py)
    state_dir(home, name, workspace=None) -> Path; state_files(home)   # per-server state (state.py)
    McpTool                                      # mcp__<server>__<tool>
"""

from .approvals import ApprovalStore, tool_list_hash
from .client import CallResult, McpConnection, McpError, RemoteTool
from .config import ServerEntry, configured_servers, server_name_problem, server_pin
from .deferred import DeferredConnection, ToolListCache
from .state import state_dir, state_files
from .tools import (
    Attached,
    McpSetup,
    McpTool,
    approve_tool_list,
    attach_servers,
    attach_to_session,
    connect_server,
    tool_name,
)

__all__ = [
    "ApprovalStore",
    "Attached",
    "CallResult",
    "DeferredConnection",
    "McpConnection",
    "McpError",
    "McpSetup",
    "McpTool",
    "RemoteTool",
    "ServerEntry",
    "ToolListCache",
    "approve_tool_list",
    "attach_servers",
    "attach_to_session",
    "configured_servers",
    "connect_server",
    "server_name_problem",
    "server_pin",
    "state_dir",
    "state_files",
    "tool_list_hash",
    "tool_name",
]
