"""``bastion sessions list|show|delete|search``."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.table import Table

from bastion.rights import delete_session
from bastion.runtime import Runtime

from .output import confirm, err, out, print_json

app = typer.Typer(help="Conversation history (stored encrypted).", no_args_is_help=True)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


@app.command("list")
def list_(json_output: bool = typer.Option(False, "--json"),
          limit: int = typer.Option(50, "--limit")) -> None:
    """List sessions, newest first.

    Example: bastion sessions list --limit 10
    """
    with Runtime.open() as rt:
        sessions = rt.sessions.list(limit)
    if json_output:
        print_json([s.to_json() for s in sessions])
        return
    table = Table("id", "created", "status", "provider", "title")
    for s in sessions:
        table.add_row(s.id, _when(s.created_at), s.status, s.provider or "", s.title)
    out.print(table)


@app.command("show")
def show(session_id: str = typer.Argument(..., help="Session id or unique prefix."),
         json_output: bool = typer.Option(False, "--json")) -> None:
    """Show a session's messages, tool calls and events.

    Example: bastion sessions show 3f2a --json
    """
    with Runtime.open() as rt:
        info = rt.sessions.resolve(session_id)
        messages = rt.sessions.messages(info.id)
        calls = rt.sessions.tool_calls(info.id)
        events = rt.sessions.events(info.id)
    if json_output:
        print_json({**info.to_json(), "messages": messages, "tool_calls": calls, "events": events})
        return
    out.print(f"[bold]{info.title}[/bold]  ({info.id}, {info.status}, {info.provider}/{info.model})")
    out.print(f"workspace: {info.workspace}", markup=False)
    results = {c["id"]: c for c in calls}
    for m in messages:
        if m["role"] == "system":
            continue
        if m["role"] == "tool":
            call = results.get(m["tool_call_id"] or "")
            status = call["status"] if call else "?"
            out.print(f"  [dim]← {status}:[/dim] " + _first_line(m["content"]), highlight=False)
            continue
        if m["content"]:
            out.print(f"[bold]{m['role']}:[/bold] ", end="")
            out.print(m["content"], markup=False)
        for c in m["tool_calls"]:
            fn = c["function"]
            out.print(f"  [cyan]→ {fn['name']}[/cyan] ", end="")
            out.print(fn["arguments"], markup=False)
    for e in events:
        out.print(f"[dim]event {e['kind']}: {json.dumps(e['data'])}[/dim]", highlight=False)


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line[:160].replace("[", "\\[")


@app.command("delete")
def delete(session_id: str = typer.Argument(...),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete a session and everything recorded in it.

    Example: bastion sessions delete 3f2a --yes
    """
    with Runtime.open() as rt:
        info = rt.sessions.resolve(session_id)
        confirm(yes, f"Delete session {info.id} ({info.title})?", nothing="nothing was deleted")
        # the same deletion as `bastion delete --session`: rows, its journal blobs, audit payloads
        delete_session(rt, info.id)
    err.print(f"deleted session {info.id}", markup=False)


@app.command("search")
def search(query: str = typer.Argument(...), json_output: bool = typer.Option(False, "--json")) -> None:
    """Find sessions whose title or messages contain QUERY.

    Example: bastion sessions search "migration"
    """
    with Runtime.open() as rt:
        hits = rt.sessions.search(query)
    if json_output:
        print_json([{**s.to_json(), "snippet": snip} for s, snip in hits])
        return
    for s, snip in hits:
        out.print(f"{s.id}  {_when(s.created_at)}  {s.title}", markup=False)
        out.print(f"    …{snip}…", markup=False, style="dim")
