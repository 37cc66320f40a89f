"""``bastion export``: everything Bastion holds about you, in open formats, in one zip.

Layout of the archive (documented for users in docs/privacy.md)::

    README.txt                  what each file is
    manifest.json               format version, counts, SHA-256 and size of every other file
    data/sessions.jsonl         one JSON object per row of each conversation table
    data/messages.jsonl
    data/tool_calls.jsonl
    data/events.jsonl
    data/conversations.sqlite   the same tables as a plaintext SQLite database
    settings.json               effective settings, every secret removed
    audit/log.jsonl             the audit records (chain fields included) …
    audit/verification.json     … and the result of verifying the chain at export time
    journal/operations.jsonl    the change journal's index (which files changed, hashes)
    journal/changes.jsonl
    journal/blobs/<sha256>      pre-image contents, only with --include-backups

Nothing is staged on disk in plaintext: the archive is written straight to its final
directory under a temporary name (or, with ``--encrypt``, built in memory and written only
as age ciphertext), and the SQLite copy is built in an in-memory database. API keys are
never exported: the ``api_keys`` table is not copied, and every known secret value is
replaced wherever it appears.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import io
import json
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion import __version__
from bastion.config import dump_settings
from bastion.errors import BastionError

from .secrets import SecretScrubber, known_secret_values, scrub_settings

if TYPE_CHECKING:
    from .opened import Opened as Runtime

FORMAT = "bastion-export"
FORMAT_VERSION = 1
CONVERSATION_TABLES = ("sessions", "messages", "tool_calls", "events")
#: columns holding JSON text, decoded in the JSONL files so they read naturally
_JSON_COLUMNS = {"messages": ("tool_calls",), "tool_calls": ("arguments",), "events": ("data",)}

Progress = Callable[[int, int], None]  # (done, total)


class ExportError(BastionError):
    """The export cannot be written."""


@dataclass
class ExportOptions:
    out: Path
    session: str | None = None
    include_backups: bool = False
    #: encrypt the archive (age, scrypt passphrase recipient) with this passphrase
    passphrase: str | None = None
    #: replace an existing file at ``out`` (refused otherwise)
    force: bool = False


def check_target(opts: ExportOptions) -> Path:
    """Where the archive goes; refuses a folder, and an existing file unless ``force``."""
    out = opts.out.expanduser()
    if str(opts.out).endswith(os.sep) or out.is_dir():
        raise ExportError(f"{opts.out} is a folder; give a file name for the archive",
                          hint="e.g. --out bastion-export.zip")
    if out.is_symlink() or (out.exists() and not opts.force):
        raise ExportError(f"{out} already exists; nothing was exported",
                          hint="choose another name, or add --force to replace it")
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent} is not an existing folder; nothing was exported")
    return out


def sweep_partials(folder: Path, name: str) -> None:
    """Remove what a killed export of ``name`` left in ``folder`` (``.NAME.*.partial``)."""
    with contextlib.suppress(OSError):
        for leftover in folder.glob(f".{glob.escape(name)}.*.partial"):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink(missing_ok=True)


@dataclass
class ExportResult:
    path: Path
    encrypted: bool
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def _has_table(rt: Runtime, name: str) -> bool:
    return bool(rt.db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (name,)))


def _where(table: str, session: str | None) -> tuple[str, tuple[Any, ...]]:
    if session is None:
        return "", ()
    return (" WHERE id = ?" if table == "sessions" else " WHERE session_id = ?"), (session,)


def _rows(rt: Runtime, table: str, session: str | None) -> list[dict[str, Any]]:
    where, params = _where(table, session)
    order = "rowid"
    return [dict(r) for r in rt.db.query(f"SELECT * FROM {table}{where} ORDER BY {order}",
                                         params)]


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, default=_json_default).encode() + b"\n"
                    for r in rows)


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def _decode_json_columns(table: str, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in _JSON_COLUMNS.get(table, ()):
        if isinstance(out.get(col), str):
            with contextlib.suppress(json.JSONDecodeError):
                out[col] = json.loads(out[col])
    return out


def _sqlite_copy(rt: Runtime, rows: dict[str, list[dict[str, Any]]]) -> bytes:
    """The conversation tables as a plaintext SQLite file, built entirely in memory.

    Like ``sqlcipher_export`` (same CREATE statements, same rows) but restricted to an
    allowlist of tables, so ``api_keys`` and other components' tables never enter it — not
    even transiently — and built in memory because an attached plaintext file would be a
    plaintext copy on disk.
    """
    mem = sqlite3.connect(":memory:")
    try:
        for table in CONVERSATION_TABLES:
            for (sql,) in rt.db.query("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND "
                                      "sql IS NOT NULL ORDER BY type DESC", (table,)):
                mem.execute(sql)  # "table" sorts after "index": tables first
            data = rows[table]
            if data:
                cols = list(data[0])
                mem.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                    f"({', '.join('?' for _ in cols)})",
                    [tuple(r[c] for c in cols) for r in data])
        mem.commit()
        return mem.serialize()
    finally:
        mem.close()


def _audit_files(rt: Runtime, session: str | None,
                 scrub: SecretScrubber) -> dict[str, bytes]:
    try:
        log = rt.audit
    except Exception as exc:  # the audit log is optional for an export; say why it is absent
        return {"audit/unavailable.txt": f"audit log unavailable: {exc}\n".encode()}
    buf = io.StringIO()
    count = log.export(buf, "jsonl", session_id=session)
    report = log.verify().to_json()
    report["exported_records"] = count
    report["scope"] = "session " + session if session else "all"
    lines = [json.dumps(scrub.deep(json.loads(line)), ensure_ascii=False)
             for line in buf.getvalue().splitlines() if line.strip()]
    return {"audit/log.jsonl": "".join(line + "\n" for line in lines).encode(),
            "audit/verification.json": json.dumps(report, indent=2, default=str).encode()}


def _journal_rows(rt: Runtime, session: str | None) -> tuple[list[dict[str, Any]],
                                                              list[dict[str, Any]]]:
    if not _has_table(rt, "journal_ops"):
        return [], []
    where, params = _where("journal_ops", session)
    ops = [dict(r) for r in rt.db.query(f"SELECT * FROM journal_ops{where} ORDER BY seq",
                                        params)]
    if session is None:
        changes = rt.db.query("SELECT * FROM journal_changes ORDER BY op_id, idx")
    else:
        changes = rt.db.query("SELECT c.* FROM journal_changes c JOIN journal_ops o "
                              "ON o.id = c.op_id WHERE o.session_id = ? ORDER BY c.op_id, c.idx",
                              (session,))
    return ops, [dict(r) for r in changes]


_README = """Bastion data export
===================

Created {created} by Bastion {version}. Scope: {scope}.

data/*.jsonl               one JSON object per line for each conversation table
data/conversations.sqlite  the same tables as a plain SQLite 3 database (open with sqlite3)
settings.json              your settings, with every secret removed
audit/log.jsonl            the tamper-evident audit log (verify: bastion audit verify --file)
audit/verification.json    the chain verification result at export time
journal/*.jsonl            the change journal index (file paths and content hashes)
journal/blobs/<sha256>     saved file versions (only when exported with --include-backups)
manifest.json              SHA-256 of every file above (check: sha256sum)

API keys are never exported. Known secret values are replaced by "[removed]".
"""


def export_data(rt: Runtime, opts: ExportOptions, progress: Progress | None = None
                ) -> ExportResult:
    """Write the export archive to ``opts.out`` (atomically) and return what it holds."""
    check_target(opts)
    session = rt.sessions.resolve(opts.session).id if opts.session else None
    settings_doc = dump_settings(rt.settings)
    scrub = SecretScrubber(known_secret_values(settings_doc, rt.api_keys.all_values()))

    rows = {t: [scrub.deep(r) for r in _rows(rt, t, session)] for t in CONVERSATION_TABLES}
    ops, changes = _journal_rows(rt, session)
    digests = sorted({d for c in changes for d in (c.get("before_hash"), c.get("after_hash"))
                      if d}) if opts.include_backups else []
    total = sum(len(r) for r in rows.values()) + len(digests) + 6
    done = 0

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    files: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for table in CONVERSATION_TABLES:
        files[f"data/{table}.jsonl"] = _jsonl(_decode_json_columns(table, r) for r in rows[table])
        counts[table] = len(rows[table])
        tick(len(rows[table]))
    files["data/conversations.sqlite"] = _sqlite_copy(rt, rows)
    tick()
    files["settings.json"] = json.dumps(scrub.deep(scrub_settings(settings_doc)),
                                        indent=2).encode()
    tick()
    files.update(_audit_files(rt, session, scrub))
    tick()
    files["journal/operations.jsonl"] = _jsonl(scrub.deep(o) for o in ops)
    files["journal/changes.jsonl"] = _jsonl(scrub.deep(c) for c in changes)
    counts["journal_operations"] = len(ops)
    counts["journal_changes"] = len(changes)
    tick()
    if digests:
        from bastion.journal import CorruptBlobError, open_journal

        journal = open_journal(rt)
        for digest in digests:
            # listed in the index; a missing pre-image cannot be exported
            with contextlib.suppress(CorruptBlobError):
                files[f"journal/blobs/{digest}"] = journal.load_blob(digest)
            tick()
        counts["journal_blobs"] = sum(1 for n in files if n.startswith("journal/blobs/"))

    if session is None:  # MCP servers' saved state (mcp_client/state.py) is no session's
        from bastion.mcp_client import state_files

        state = state_files(rt.home)
        files.update(state)
        counts["mcp_state_files"] = len(state)

    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    files["README.txt"] = _README.format(created=created, version=__version__,
                                         scope=f"session {session}" if session else "everything"
                                         ).encode()
    listing = {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
               for name, data in sorted(files.items())}
    manifest: dict[str, Any] = {
        "format": FORMAT, "version": FORMAT_VERSION, "createdAt": created,
        "bastionVersion": __version__, "session": session,
        "includesBackups": opts.include_backups, "counts": counts,
        "files": listing,
    }
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    _write_archive(opts, files)
    tick()
    return ExportResult(opts.out, opts.passphrase is not None, counts, listing)


def _publish(tmp: str, out: Path, force: bool) -> None:
    if not force:
        try:
            os.link(tmp, out)  # atomic, and never replaces a file created meanwhile
        except FileExistsError:
            raise ExportError(f"{out} appeared while exporting; nothing was replaced") from None
        except OSError:  # no hard links on this file system
            if out.exists():
                raise ExportError(f"{out} already exists; nothing was exported") from None
            os.replace(tmp, out)
            return
        os.unlink(tmp)
        return
    os.replace(tmp, out)


def _zip(files: dict[str, bytes], target: Any) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in ["manifest.json", "README.txt", *sorted(files)]:
            if name in files:
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                zf.writestr(info, files.pop(name))


def _write_archive(opts: ExportOptions, files: dict[str, bytes]) -> None:
    out = check_target(opts)
    sweep_partials(out.parent, out.name)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            if opts.passphrase is None:
                _zip(files, fh)
            else:
                from pyrage import passphrase as age_passphrase

                buf = io.BytesIO()
                _zip(files, buf)
                fh.write(age_passphrase.encrypt(buf.getvalue(), opts.passphrase))
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, out, opts.force)  # a half-written export never has the final name
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
