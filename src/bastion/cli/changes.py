"""``bastion changes``, ``bastion undo`` and ``bastion redo`` (the change journal)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer
from rich.table import Table

from bastion import audit
from bastion.errors import BastionError
from bastion.journal import Journal, Operation, UndoResult, open_journal
from bastion.runtime import Runtime
from bastion.store import SessionNotFound

from .output import err, out, print_json


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _session(rt: Runtime, session: str | None) -> str | None:
    if session is None:
        return None
    try:
        return rt.sessions.resolve(session).id
    except SessionNotFound:
        return session  # the journal outlives deleted sessions; match the id as given


def changes(
    session: str | None = typer.Option(None, "--session", help="Only this session."),
    limit: int = typer.Option(100, "--limit", help="At most this many operations."),
    json_output: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List journaled operations, newest first.

    Example: bastion changes --session 3f2a
    """
    with Runtime.open() as rt:
        ops = open_journal(rt).operations(_session(rt, session), limit)
    if json_output:
        print_json([op.to_json() for op in ops])
        return
    if not ops:
        err.print("no changes recorded", markup=False)
        return
    table = Table("id", "when", "session", "status", "change")
    for op in ops:
        status = op.status if op.kind == "change" else f"{op.kind} ({op.status})"
        table.add_row(op.id, _when(op.created_at), op.session_id or "", status, op.summary)
    out.print(table)


def _report(result: UndoResult, verb: str, json_output: bool) -> None:
    if json_output:
        print_json({"operation": result.op.id, verb: result.reverted, "kept": result.kept,
                    "forced": result.forced, "paths": [str(c.path) for c in result.op.changes],
                    "skipped": result.skipped, "failed": result.failed})
        return
    again = "`bastion redo` re-applies it" if verb == "undone" else "`bastion undo` reverts it"
    err.print(f"{verb} {len(result.reverted)} operation(s): {', '.join(result.reverted)} "
              f"(recorded as {result.op.id}; {again})", markup=False)
    for path in result.kept:
        err.print(f"  kept folder {path}: it holds files the operation did not create",
                  markup=False)
    for path in result.forced:
        err.print(f"  overwrote changed {path} (--force; its state was saved)", markup=False)
    for op_id, why in result.skipped.items():
        err.print(f"  [yellow]skipped[/yellow] {op_id}: {why}", markup=True, highlight=False)
    for path, why in result.failed.items():
        err.print(f"  [red]not restored[/red] {path}: {why}", markup=True, highlight=False)


def _preview(targets: list[Operation]) -> None:
    """What an undo will touch, before it touches anything (stderr)."""
    for op in targets:
        err.print(f"{op.id} {_when(op.created_at)} {op.summary}", markup=False)
        for ch in op.changes[:20]:
            err.print(f"    {_what(ch.before.kind, ch.after.kind):9} {ch.path}", markup=False)
        if len(op.changes) > 20:
            err.print(f"    … and {len(op.changes) - 20} more path(s)", markup=False)


def _what(before: str, after: str) -> str:
    """The change as undo will reverse it: 'restore', 'remove' or 'recreate'."""
    if before == "missing":
        return "remove"
    if after == "missing":
        return "recreate"
    return "restore"


def _in_workspace(op: Operation, workspace: Path) -> bool:
    return any(c.path == workspace or c.path.is_relative_to(workspace) for c in op.changes)


def _targets(journal: Journal, op: str | None, last: int | None,
             session: str | None, workspace: Path | None = None) -> list[Operation]:
    if op is not None:
        if last is not None or session is not None:
            raise BastionError("give an operation id, or --last/--session, not both")
        return [journal.get(op)]
    if session is not None:
        ops = journal.last_applied(last or 1_000_000, session)
        if not ops:
            raise BastionError(f"session {session} has no changes left to undo")
        return ops
    ops = journal.last_applied(last or 1)
    if workspace is not None:  # only what was done in this folder, never elsewhere
        ops = [o for o in journal.last_applied(1_000_000) if _in_workspace(o, workspace)]
        ops = ops[:last or 1]
    if not ops:
        where = f" in {workspace}" if workspace is not None else ""
        raise BastionError(f"nothing to undo{where}",
                           hint="`bastion changes` lists the journal; give an operation id "
                                "or -w DIR")
    return ops


def undo(
    op: str | None = typer.Argument(None, help="Operation id (or prefix) to undo."),
    last: int | None = typer.Option(None, "--last", min=1, help="Undo the last N operations."),
    session: str | None = typer.Option(None, "--session", help="Undo a whole session."),
    force: bool = typer.Option(False, "--force", help="Overwrite files changed since."),
    json_output: bool = typer.Option(False, "--json", help="Print a JSON object."),
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", help="Only changes made in this folder. Plain `bastion undo` "
        "(no id, --last or --session) undoes the newest change in the current folder."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Restore files to their state before the operation(s); undoable with `bastion redo`.

    Example: bastion undo --last 2
    """
    with Runtime.open() as rt:
        journal = open_journal(rt)
        scoped = None
        if op is None and session is None and (workspace is not None or last is None):
            scoped = (workspace or Path.cwd()).expanduser().resolve()
        targets = _targets(journal, op, last, _session(rt, session), scoped)
        if not json_output and (scoped is not None or sys.stdin.isatty()):
            _preview(targets)  # plain `undo` picks for you: show what it picked
        if not yes and not json_output and sys.stdin.isatty() and not typer.confirm("Undo?"):
            raise typer.Abort()
        # the audit record of a restore comes before the restore
        audit.record("user", "undo-start", {"operations": [o.id for o in targets],
                                            "force": force})
        result = journal.undo(targets, force=force)
        audit.record("user", "undo", {"operations": result.reverted, "recorded_as": result.op.id,
                                      "forced": [str(p) for p in result.forced],
                                      "skipped": result.skipped, "failed": result.failed})
    _report(result, "undone", json_output)
    if result.skipped or result.failed:
        raise typer.Exit(1)


def redo(
    force: bool = typer.Option(False, "--force", help="Overwrite files changed since."),
    json_output: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Re-apply what the most recent undo reverted.

    Example: bastion redo
    """
    with Runtime.open() as rt:
        result = open_journal(rt).redo(force=force)
        audit.record("user", "redo", {"operations": result.reverted, "recorded_as": result.op.id,
                                      "forced": [str(p) for p in result.forced]})
    _report(result, "redone", json_output)
