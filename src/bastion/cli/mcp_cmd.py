"""``bastion mcp list|test|approve|add|remove`` — MCP servers from user and project settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.fsutil import remove_tree, walk
from bastion.home import bastion_home
from bastion.mcp_client import (
    ApprovalStore,
    ServerEntry,
    ToolListCache,
    configured_servers,
    connect_server,
    server_name_problem,
    tool_list_hash,
)
from bastion.policy import build_policy

from .output import confirm, out, print_json

app = typer.Typer(help="MCP servers (tools appear as mcp__<server>__<tool>).", no_args_is_help=True)
WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Project folder (default: cwd).")


def _entries(workspace: Path) -> tuple[list[ServerEntry], Any, Path, Path]:
    ws = workspace.expanduser().resolve()
    home = bastion_home()
    settings = load_settings()
    return configured_servers(settings, ws, home), settings, ws, home


def _find(entries: list[ServerEntry], name: str) -> ServerEntry:
    for e in entries:
        if e.name == name and e.status != "shadowed":
            return e
    known = ", ".join(sorted({e.name for e in entries})) or "(none configured)"
    raise BastionError(f"no MCP server named {name!r}; configured: {known}",
                       hint="add it under mcpServers in settings.json")


def _approval(entry: ServerEntry, home: Path) -> str:
    return "approved" if ApprovalStore(home).approved_hash(entry.key) else "not approved"


@app.command("list")
def list_servers(workspace: Path = WorkspaceOpt,
                 json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Configured servers, whether each may start, and whether its tool list is approved.

    Example: bastion mcp list --json
    """
    entries, _, _, home = _entries(workspace)
    rows: list[dict[str, Any]] = [{"id": e.name, "name": e.name, "origin": e.origin, "kind": e.kind,
             "status": e.status, "reason": e.reason, "pin": e.pin, "source": e.source,
             "toolList": _approval(e, home),
             # a cached list: the server starts at the first call of one of its tools
             "toolListCached": ToolListCache(home).get(e.key) is not None} for e in entries]
    if json_output:
        print_json(rows)
        return
    if not rows:
        out.print("no MCP servers configured (mcpServers in settings.json)", markup=False)
    for r in rows:
        why = f" ({r['reason']})" if r["reason"] else ""
        out.print(f"{r['name']:16} {r['origin']:8} {r['kind']:6} {r['status']}{why}; "
                  f"tool list {r['toolList']}"
                  f"{' (starts at first call)' if r['toolListCached'] else ''}; "
                  f"pin {r['pin'][:12]}", markup=False)


def _connect(name: str, workspace: Path) -> tuple[Any, ServerEntry, Path, list[dict[str, Any]]]:
    entries, settings, ws, home = _entries(workspace)
    entry = _find(entries, name)
    if entry.status != "ready":
        raise BastionError(f"MCP server {name!r} not started: {entry.reason}")
    policy = build_policy(settings, ws, bastion_home=home)
    conn = connect_server(entry, settings, policy)
    ToolListCache(home).put(entry.key, conn.tools)  # sessions offer it without starting it
    return conn, entry, home, [t.as_dict() for t in conn.tools]


@app.command("test")
def test(name: str, workspace: Path = WorkspaceOpt,
         json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Start the server (sandboxed, with this workspace's grants), list its tools, stop it.

    Example: bastion mcp test memory
    """
    conn, entry, home, tools = _connect(name, workspace)
    try:
        digest = tool_list_hash(tools)
        approved = ApprovalStore(home).approved_hash(entry.key)
        state = ("approved" if approved == digest else
                 "CHANGED since approval" if approved else "not approved")
        if json_output:
            print_json({"name": name, "server": conn.server_info, "tools": tools,
                        "toolListHash": digest, "toolList": state})
            return
        out.print(f"{name}: connected to {conn.server_info}; {len(tools)} tool(s); "
                  f"tool list {state} (sha256 {digest[:12]})", markup=False)
        for t in tools:
            out.print(f"  mcp__{name}__{t['name']}: {t['description']}", markup=False)
    finally:
        conn.close()


@app.command("approve")
def approve(name: str, workspace: Path = WorkspaceOpt,
            yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
            ) -> None:
    """Approve the server's current tool list (names, descriptions, schemas).

    Example: bastion mcp approve memory --yes
    """
    conn, entry, home, tools = _connect(name, workspace)
    try:
        for t in tools:
            out.print(f"  {t['name']}: {t['description']}", markup=False)
        confirm(yes, f"Offer these {len(tools)} tool(s) of {name!r} to agents?",
                nothing="nothing was approved")
        digest = tool_list_hash(tools)
        ApprovalStore(home).approve(entry.key, digest, [t["name"] for t in tools])
        out.print(f"approved the tool list of {name} (sha256 {digest[:12]})", markup=False)
    finally:
        conn.close()


def _edit_user_servers(change: Any, action: str, details: dict[str, Any]) -> None:
    """Apply ``change(servers)`` to the user's settings.json, validated and audited."""
    from bastion.audit import mask_setting
    from bastion.config import parse_settings, read_settings_json, settings_path, write_settings_json
    from bastion.runtime import Runtime

    path = settings_path()
    data = read_settings_json(path)
    parse_settings(data, path)  # refuse to edit a file that is already invalid
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise BastionError(f"{path}: mcpServers is not an object")
    change(servers)
    parse_settings(data, path)
    with Runtime.open() as rt:  # a change that cannot be audited is not made
        write_settings_json(path, data)
        rt.audit.record("config", action, {k: mask_setting(f"mcpServers.{k}", v)
                                           for k, v in details.items()})


@app.command("add", context_settings={"ignore_unknown_options": True})
def add(name: str = typer.Argument(..., help="Server name (letters, digits, '-')."),
        command: list[str] | None = typer.Argument(
            None, help="The command that starts a stdio server, and its arguments."),
        url: str | None = typer.Option(None, "--url", help="An HTTP server's URL instead."),
        env: list[str] | None = typer.Option(None, "--env", "-e", metavar="KEY=VALUE",
                                             help="Environment variable for the server."),
        force: bool = typer.Option(False, "--force", help="Replace a server of that name.")
        ) -> None:
    """Add an MCP server to your user settings; it starts on its first tool call.

    Example: bastion mcp add memory -- npx -y @modelcontextprotocol/server-memory
    """
    if bool(command) == bool(url):
        raise typer.BadParameter("give either a COMMAND or --url", param_hint="COMMAND")
    variables: dict[str, str] = {}
    for pair in env or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        variables[key] = value
    server: dict[str, Any] = {"url": url} if url else {"command": command[0] if command else "",
                                                      "args": list(command or [])[1:]}
    if variables:
        server["env"] = variables
    problem = server_name_problem(name)
    if problem:
        raise typer.BadParameter(problem, param_hint="NAME")

    def change(servers: dict[str, Any]) -> None:
        if name in servers and not force:
            raise BastionError(f"an MCP server named {name!r} exists already",
                               hint="use --force to replace it, or `bastion mcp remove` it")
        servers[name] = server

    _edit_user_servers(change, "mcp-add", {name: server})
    out.print(f"added MCP server {name}; review and approve its tools with "
              f"`bastion mcp approve {name}`", markup=False)




@app.command("remove")
def remove(name: str = typer.Argument(..., help="A server in your user settings."),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
           ) -> None:
    """Remove a user MCP server, its approvals, cached tool list and saved state.

    Example: bastion mcp remove memory --yes
    """

    from bastion.mcp_client import ToolListCache, state_dir

    home = bastion_home()
    settings = load_settings()
    if name not in settings.mcp_servers:
        known = ", ".join(sorted(settings.mcp_servers)) or "(none)"
        raise BastionError(f"no MCP server named {name!r} in your user settings; "
                           f"configured: {known}")
    state = state_dir(home, name)
    files = sum(len(names) for _d, _s, names in walk(state)) if state.is_dir() else 0
    confirm(yes, f"Remove MCP server {name!r} and its saved state ({files} file(s))?",
            nothing="nothing was removed")
    _edit_user_servers(lambda servers: servers.pop(name, None), "mcp-remove",
                       {name: {"stateFiles": files}})
    prefix = f"user:user:{name}:"
    ApprovalStore(home).revoke_prefix(prefix)
    ToolListCache(home).drop_prefix(prefix)
    if state.is_dir():
        remove_tree(state)  # the server's own tree: any depth
    out.print(f"removed MCP server {name} ({files} state file(s) deleted)", markup=False)
