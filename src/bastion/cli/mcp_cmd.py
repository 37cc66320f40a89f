"""``bastion mcp list|test NAME|approve NAME`` — MCP servers from user and project settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.home import bastion_home
from bastion.mcp_client import (
    ApprovalStore,
    ServerEntry,
    configured_servers,
    connect_server,
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
    """Configured servers, whether each may start, and whether its tool list is approved."""
    entries, _, _, home = _entries(workspace)
    rows = [{"id": e.name, "name": e.name, "origin": e.origin, "kind": e.kind,
             "status": e.status, "reason": e.reason, "pin": e.pin, "source": e.source,
             "toolList": _approval(e, home)} for e in entries]
    if json_output:
        print_json(rows)
        return
    if not rows:
        out.print("no MCP servers configured (mcpServers in settings.json)", markup=False)
    for r in rows:
        why = f" ({r['reason']})" if r["reason"] else ""
        out.print(f"{r['name']:16} {r['origin']:8} {r['kind']:6} {r['status']}{why}; "
                  f"tool list {r['toolList']}; pin {r['pin'][:12]}", markup=False)


def _connect(name: str, workspace: Path) -> tuple[Any, ServerEntry, Path, list[dict[str, Any]]]:
    entries, settings, ws, home = _entries(workspace)
    entry = _find(entries, name)
    if entry.status != "ready":
        raise BastionError(f"MCP server {name!r} not started: {entry.reason}")
    policy = build_policy(settings, ws, bastion_home=home)
    conn = connect_server(entry, settings, policy)
    return conn, entry, home, [t.as_dict() for t in conn.tools]


@app.command("test")
def test(name: str, workspace: Path = WorkspaceOpt,
         json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Start the server (sandboxed, with this workspace's grants), list its tools, stop it."""
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
    """Approve the server's current tool list (names, descriptions, schemas)."""
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
