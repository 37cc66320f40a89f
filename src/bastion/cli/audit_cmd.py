"""``bastion audit verify [--file F] | export [--format jsonl|csv] | tail [-n N] [-f]``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from bastion.audit import AuditError, Entry, entry_payload, parse_since
from bastion.runtime import Runtime
from bastion.store import SessionNotFound

from .output import err, out, print_json

app = typer.Typer(help="The tamper-evident audit log: verify, export, tail.",
                  no_args_is_help=True)


class AuditVerifyFailed(AuditError):
    """Verification found a record that is not what was written."""

    exit_code = 2


@app.command("verify")
def verify(
    file: Path | None = typer.Option(None, "--file", help="Check an export or audit.logPath file "
                                     "instead of the database."),
    partial: bool = typer.Option(False, "--partial", help="For filtered exports (--session): "
                                 "check each record and their order, not completeness."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the HMAC chain and the signed checkpoint; name the first bad record.

    Example: bastion audit verify --file audit.jsonl
    """
    with Runtime.open() as rt:
        report = rt.audit.verify_file(file, partial=partial) if file else rt.audit.verify()
    if json_output:
        print_json(report.to_json())
    else:
        for note in report.notes:
            err.print(f"note: {note}", markup=False, style="dim")
    if not report.ok:
        raise AuditVerifyFailed(f"audit verification {report.summary()}",
                                hint="the log was changed outside Bastion; keep a copy of it "
                                     "and of audit-checkpoint.json for investigation")
    if not json_output:
        out.print(report.summary(), markup=False)


@app.command("accept-restore")
def accept_restore(yes: bool = typer.Option(False, "--yes", help="Do not ask (no terminal).")
                   ) -> None:
    """Accept that this data directory was restored from a backup on purpose: the audit
    checkpoint and its copies outside the data directory start again from here (audited).

    Example: bastion audit accept-restore --yes
    """
    with Runtime.open() as rt:
        problems = rt.audit.rollback_problems()
        report = rt.audit.verify()
        if not problems and report.ok:
            err.print("nothing to accept: the data directory matches its audit anchors",
                      markup=False)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise AuditError("accept-restore changes the audit anchors; confirm with --yes")
            if not typer.confirm("Accept the restored data directory as the new baseline?"):
                raise typer.Exit(1)
        result = rt.audit.accept_restore()
    for problem in result["problems"] or [report.summary()]:
        err.print(f"accepted: {problem}", markup=False)
    for moved in result["moved"]:
        err.print(f"the previous audit log file was kept as {moved}", markup=False)
    out.print(f"audit anchors now start at record {result['checkpoint']}", markup=False)


@app.command("export")
def export(
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    since: str | None = typer.Option(None, "--since", help="ISO date/time or age (30m, 2h, 7d)."),
    session: str | None = typer.Option(None, "--session", help="Only this session's records."),
    out_file: Path | None = typer.Option(None, "--out", help="Write here (default: stdout)."),
) -> None:
    """Export records with their chain fields (``audit verify --file`` can check them).

    Example: bastion audit export --format csv > audit.csv
    """
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter(f"{fmt!r} is not one of jsonl, csv", param_hint="--format")
    since_ts = parse_since(since) if since else None
    with Runtime.open() as rt:
        session_id = _resolve_session(rt, session)
        if out_file is None:
            count = rt.audit.export(sys.stdout, fmt, since=since_ts, session_id=session_id)
            sys.stdout.flush()
        else:
            fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                count = rt.audit.export(fh, fmt, since=since_ts, session_id=session_id)
        rt.audit.record("user", "export", {"what": "audit", "format": fmt, "since": since_ts,
                                           "session_id": session_id, "records": count,
                                           "out": str(out_file) if out_file else "stdout"})
    err.print(f"exported {count} record(s)" + (f" to {out_file}" if out_file else ""),
              markup=False, style="dim")


def _resolve_session(rt: Runtime, session: str | None) -> str | None:
    if session is None:
        return None
    try:
        return rt.sessions.resolve(session).id
    except SessionNotFound:
        return session  # a deleted session still has (blanked) audit records


def _line(entry: Entry) -> tuple[str, str | None]:
    payload = entry_payload(entry)
    if payload is None:
        summary = "(payload deleted)"
    elif entry.category == "anomaly":
        summary = str(payload.get("message", ""))
    else:
        summary = _summarize(payload)
    sid = entry.session_id or "-"
    text = f"{entry.seq:>7} {entry.time[:19]}Z {sid:<12} {entry.category}/{entry.action} {summary}"
    style = "bold red" if entry.category == "anomaly" else (
        "yellow" if payload and payload.get("status") in ("denied", "error") else None)
    return text, style


def _summarize(payload: dict[str, Any]) -> str:
    parts = []
    for key in ("name", "arguments", "status", "path", "decision", "rule", "command", "host",
                "key", "error"):
        value = payload.get(key)
        if value not in (None, "", {}):
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            parts.append(f"{key}={shown}")
    if not parts:
        parts.append(json.dumps(payload, ensure_ascii=False, sort_keys=True))
    text = " ".join(str(p) for p in parts)
    return text if len(text) <= 160 else text[:157] + "..."


@app.command("tail")
def tail(
    n: int = typer.Option(20, "-n", "--lines", help="How many recent records."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new records."),
    json_output: bool = typer.Option(False, "--json", help="One JSON record per line."),
) -> None:
    """Show the latest records (anomalies highlighted); -f follows new ones.

    Example: bastion audit tail
    """
    with Runtime.open() as rt:
        last = 0
        for entry in rt.audit.tail(n):
            _show(entry, json_output)
            last = entry.seq
        while follow:
            time.sleep(0.5)
            for entry in rt.audit.entries(after_seq=last):
                _show(entry, json_output)
                last = entry.seq


def _show(entry: Entry, json_output: bool) -> None:
    if json_output:
        print_json(entry.to_json())
        return
    text, style = _line(entry)
    out.print(text, markup=False, style=style)
