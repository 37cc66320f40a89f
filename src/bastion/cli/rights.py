"""``bastion export`` and ``bastion delete`` — the rights to access, portability and deletion."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bastion.config import load_settings
from bastion.errors import BastionError
from bastion.home import bastion_home
from bastion.rights import (
    ExportOptions,
    check_target,
    delete_all,
    delete_project,
    delete_session,
    deletion_plan,
    export_data,
)
from bastion.runtime import Runtime

from .output import confirm, err, new_passphrase, warn

EXPORT_PASSPHRASE_ENV = "BASTION_EXPORT_PASSPHRASE"


def export(
    out: Path = typer.Option(..., "--out", "-o", help="Archive to write (a .zip; with "
                             "--encrypt an age-encrypted zip, e.g. export.zip.age)."),
    encrypt: bool = typer.Option(False, "--encrypt", help="Protect the archive with a "
                                 "passphrase (age format: decrypt with `age -d`)."),
    session: str | None = typer.Option(None, "--session", help="Export only this session."),
    include_backups: bool = typer.Option(False, "--include-backups",
                                         help="Include the journal's saved file versions."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file at --out."),
) -> None:
    """Export your data: conversations (JSONL + SQLite), settings without secrets, audit log.

    Example: bastion export --out bastion-data.zip --encrypt
    """
    opts = ExportOptions(out=out, session=session, include_backups=include_backups,
                         force=force)
    check_target(opts)  # before asking for a passphrase or unlocking anything
    opts.passphrase = new_passphrase(EXPORT_PASSPHRASE_ENV, "--encrypt", prompt="Export passphrase: ",
                                     nothing="nothing was exported") if encrypt else None
    with Runtime.open() as rt, Progress(
            TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=err,
            transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("export", total=None)
        result = export_data(rt, opts, lambda done, total: bar.update(task, completed=done,
                                                                       total=total))
    counts = ", ".join(f"{n} {table}" for table, n in result.counts.items())
    how = "encrypted (age; decrypt with `age -d`)" if result.encrypted else "not encrypted"
    err.print(f"exported to {result.path} — {how}: {counts}", markup=False)


def delete(
    all_: bool = typer.Option(False, "--all", help="Everything: data directory, keychain "
                              "entry, master key."),
    session: str | None = typer.Option(None, "--session", help="One session."),
    project: Path | None = typer.Option(None, "--project", help="A project's .bastion/ folder."),
    remote: bool = typer.Option(False, "--remote", help="Data in the sync store."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete data. Each choice asks for confirmation unless --yes.

    Example: bastion delete --session 3f2a --yes
    """
    chosen = [all_, session is not None, project is not None, remote]
    if sum(chosen) != 1:
        raise BastionError("choose exactly one of --all, --session ID, --project DIR, --remote")
    if remote:
        from .sync_cmd import delete_remote

        delete_remote(yes)
        return
    if session is not None:
        with Runtime.open() as rt:
            info = rt.sessions.resolve(session)
            _confirm(yes, f"Delete session {info.id} ({info.title}) and its saved file "
                          "versions?")
            result = delete_session(rt, info.id)
        err.print(f"deleted session {result.session_id} ({result.blobs_deleted} saved file "
                  f"version(s), {result.audit_blanked} audit payload(s) blanked)", markup=False)
        return
    if project is not None:
        _confirm(yes, f"Delete {project / '.bastion'} (agents, settings) and its trust record?")
        with Runtime.open() as rt:
            deleted = delete_project(rt.home, project)
        what = "removed" if deleted.removed else "had no .bastion folder"
        trust = "; trust record removed" if deleted.untrusted else ""
        err.print(f"{deleted.project}: {what}{trust}", markup=False)
        return
    home = bastion_home()
    remove, leave = deletion_plan(home)
    for entry in remove:
        err.print(f"  will delete {entry}", markup=False)
    for entry in leave:
        err.print(f"  will keep   {entry} (not created by Bastion)", markup=False)
    _confirm(yes, f"Delete EVERYTHING Bastion stored ({home}), including the master key? "
                  "This cannot be undone")
    try:
        settings = load_settings()
    except BastionError:
        settings = None  # an invalid settings file must not block deletion
    gone = delete_all(home, settings)
    extra = f" and {', '.join(gone.extra_paths)}" if gone.extra_paths else ""
    err.print(f"deleted all Bastion data: {gone.files_removed} file(s) under {home}{extra}, "
              f"{gone.keychain_entries_removed} keychain entr(y/ies); the master key is "
              "destroyed. Nothing of Bastion remains on this machine except the program itself "
              "and any project .bastion/ folders (bastion delete --project DIR).", markup=False)
    if gone.left:
        warn(f"left {len(gone.left)} item(s) in {home} that Bastion did not create: "
             + ", ".join(gone.left[:5]) + (" …" if len(gone.left) > 5 else ""))


def _confirm(yes: bool, question: str) -> None:
    confirm(yes, question, nothing="nothing was deleted")
