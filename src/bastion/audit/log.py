"""The audit log: append, checkpoint, verify, export, tail, blank a session's payloads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO

from bastion.errors import BastionError

from .anchor import advance_anchors, anchors_for, rollback_problems
from .anomaly import Anomaly, AnomalyMonitor, AnomalyThresholds
from .canonical import canonical, to_jsonable, utc_now
from .chain import CATEGORIES, GENESIS, ChainKeys, Entry
from .checkpoint import FILENAME as CHECKPOINT_FILENAME
from .checkpoint import Checkpoint, CheckpointInvalid, CheckpointSigner
from .files import (
    MalformedRecord,
    append_lines,
    jsonl_line,
    last_seq,
    read_records,
    rewrite_blanked,
    rotate,
    rotated_segments,
    write_csv,
    write_jsonl,
)
from .redact import Redactor, default_redactor, scrub
from .schema import MIGRATIONS
from .verify import CheckpointContext, VerifyReport, verify_entries

#: a checkpoint is signed at least this often (plus at session end and on close)
CHECKPOINT_EVERY = 100
#: longer strings in a payload are cut (a write_file's content is not audit material)
MAX_STRING = 2_000
#: in audit mode (``audit.level`` "full") tool arguments and results are kept up to this
MAX_STRING_FULL = 1_000_000
_COLUMNS = "seq, time, category, action, session_id, payload_hash, prev_mac, mac, payload"


class AuditError(BastionError):
    """The audit log cannot be written or read, or a request about it is invalid."""


class _Vault(Protocol):
    def subkey(self, purpose: str) -> bytes: ...

    @property
    def keyslot_path(self) -> Path: ...


class _Db(Protocol):
    conn: Any

    def ensure_schema(self, component: str, migrations: list[str]) -> None: ...

    def transaction(self) -> Any: ...


def _clip(value: Any, limit: int = MAX_STRING) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"…[{len(value) - limit} more characters]"
    if isinstance(value, dict):
        return {k: _clip(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_clip(v, limit) for v in value]
    return value


def _row_entry(row: Any) -> Entry:
    payload = row[8]
    return Entry(seq=row[0], time=row[1], category=row[2], action=row[3], session_id=row[4],
                 payload_hash=row[5], prev_mac=row[6], mac=row[7],
                 payload=None if payload is None else payload.encode("utf-8"))


def parse_since(text: str) -> str:
    """``--since``: an ISO date/time (local time if no zone) or an age like 30m, 2h, 7d."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    raw = text.strip()
    if raw[:-1].isdigit() and raw[-1:] in units:
        moment = datetime.now(UTC) - timedelta(seconds=int(raw[:-1]) * units[raw[-1]])
    else:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise AuditError(f"--since {text!r}: expected an ISO date/time "
                             "(2026-11-22, 2026-11-22T10:00) or an age (30m, 2h, 7d)") from None
        if moment.tzinfo is None:
            moment = moment.astimezone()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditLog:
    """The hash-chained, tamper-evident audit log in the encrypted database.

    ``record`` is safe to call from several threads; several processes append safely because
    each append reads the head and inserts inside one ``BEGIN IMMEDIATE`` transaction.
    """

    def __init__(self, db: _Db, vault: _Vault, settings: Any, *,
                 redact: Redactor | None = None, monitor: AnomalyMonitor | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.db = db
        self.settings = settings
        audit = getattr(settings, "audit", None)
        self.enabled: bool = bool(getattr(audit, "enabled", True))
        self.include_tool_calls: bool = bool(getattr(audit, "include_tool_calls", True))
        self.include_file_access: bool = bool(getattr(audit, "include_file_access", True))
        #: audit mode: every category stored, tool arguments and results in full
        self.full: bool = getattr(audit, "level", "standard") == "full"
        log_path = getattr(audit, "log_path", None)
        self.log_path: Path | None = Path(log_path).expanduser() if log_path else None
        self.rotate_bytes = int(float(getattr(audit, "rotate_mb", 64.0)) * 1024 * 1024)
        self.redact = redact or default_redactor(lazy=True)
        self.monitor = monitor or AnomalyMonitor(
            AnomalyThresholds.from_settings(getattr(settings, "anomaly", None)))
        self.checkpoint_every = max(1, checkpoint_every)
        #: used when ``record`` is called without a session id (set by the session recorder)
        self.default_session_id: str | None = None
        self.keys = ChainKeys.from_audit_key(vault.subkey("audit"))
        self.signer = CheckpointSigner(vault.subkey("audit-checkpoint"),
                                       vault.keyslot_path.parent / CHECKPOINT_FILENAME)
        #: copies of the checkpoint outside the data directory (rollback detection)
        self.anchors = anchors_for(vault.keyslot_path.parent.resolve(), self.log_path)
        self._lock = threading.RLock()
        self._pending: list[Anomaly] = []
        self._unsigned = 0  # records appended by this process since its last checkpoint
        self._file_state: tuple[tuple[int, int, int], int | None] | None = None
        db.ensure_schema("audit", MIGRATIONS)

    # writing ------------------------------------------------------------------------------
    def wants(self, category: str) -> bool:
        """Whether records of ``category`` are stored under the current settings."""
        if self.full:
            return True
        if not self.enabled:
            return False
        if category == "tool":
            return self.include_tool_calls
        if category == "file":
            return self.include_file_access
        return True

    def record(self, category: str, action: str, data: Mapping[str, Any] | None = None, *,
               session_id: str | None = None) -> int | None:
        """Append one record; returns its sequence number, or None if settings exclude it.

        ``data`` is any JSON-able mapping; every string in it passes the secret redactor and
        values under secret-looking keys are masked before anything is stored. Every record
        (stored or not) also feeds the anomaly detectors.
        """
        if category not in CATEGORIES:
            raise AuditError(f"unknown audit category {category!r} "
                             f"(one of {', '.join(sorted(CATEGORIES))})")
        session_id = session_id if session_id is not None else self.default_session_id
        plain = to_jsonable(dict(data or {}))
        with self._lock:
            seq = self._store(category, action, plain, session_id) if self.wants(category) \
                else None
            for anomaly in self.monitor.observe(category, action, plain, session_id):
                self._pending.append(anomaly)
                if self.enabled or self.full:
                    self._store("anomaly", anomaly.kind, anomaly.to_json(), anomaly.session_id)
        return seq

    def _store(self, category: str, action: str, plain: dict[str, Any],
               session_id: str | None) -> int:
        payload = canonical(_clip(scrub(plain, self.redact),
                                  MAX_STRING_FULL if self.full else MAX_STRING))
        own = not self.db.conn.in_transaction
        with self.db.transaction() as conn:
            head = conn.execute("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
            entry = Entry(seq=head[0] + 1 if head else 1, time=utc_now(), category=category,
                          action=action, session_id=session_id,
                          payload_hash=self.keys.payload_hash(payload),
                          prev_mac=head[1] if head else GENESIS, mac="", payload=payload)
            entry.mac = self.keys.mac(entry.header())
            conn.execute(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (entry.seq, entry.time, category, action, session_id,
                          entry.payload_hash, entry.prev_mac, entry.mac,
                          payload.decode("utf-8")))
            if own:  # inside someone else's transaction the row may still be rolled back
                self._sync_log_file(conn, entry)
        self._unsigned += 1
        if own and entry.seq % self.checkpoint_every == 0:
            self.checkpoint()
        return entry.seq

    def _sync_log_file(self, conn: Any, entry: Entry, *, appended: bool = True) -> None:
        """Bring the ``logPath`` JSONL file up to ``entry`` (called under the write lock).

        ``appended``: ``entry`` was just written, so a file already past it means the database
        went back in time — append anyway, a duplicate sequence number is the evidence.
        """
        if self.log_path is None:
            return
        file_seq = self._file_seq()
        if file_seq is None and rotated_segments(self.log_path):
            file_seq = last_seq(rotated_segments(self.log_path)[-1])  # just rotated
            fresh = True
        else:
            fresh = file_seq is None
        if file_seq is None:  # a new (or emptied) file starts with this record
            conn.execute("INSERT INTO audit_meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = excluded.value",
                         (self._log_start_key(), str(entry.seq)))
            lines = [jsonl_line(entry)]
        elif file_seq >= entry.seq:  # the file is ahead of the database: keep the evidence
            lines = [jsonl_line(entry)] if appended else []
        elif file_seq == entry.seq - 1:
            lines = [jsonl_line(entry)]
            if fresh:  # the chain goes on in a new file after a rotation
                conn.execute("INSERT OR IGNORE INTO audit_meta (key, value) VALUES (?, ?)",
                             (self._log_start_key(), str(entry.seq)))
        else:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq",
                                (file_seq,)).fetchall()
            lines = [jsonl_line(_row_entry(r)) for r in rows]
        if not lines:
            return
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            append_lines(self.log_path, lines)
            stat = self.log_path.stat()
            self._file_state = ((stat.st_ino, stat.st_size, stat.st_mtime_ns), entry.seq)
            if stat.st_size >= self.rotate_bytes:
                rotate(self.log_path)
                self._file_state = None
        except OSError as exc:
            raise AuditError(f"cannot append to audit.logPath {self.log_path}: {exc.strerror}",
                             hint="fix the path or unset audit.logPath") from None

    def _file_seq(self) -> int | None:
        """Last sequence number in the logPath file: remembered from our own last append while
        the file is unchanged since (one stat), else read from its tail (another process, or
        someone edited or rotated it)."""
        assert self.log_path is not None
        try:
            stat = self.log_path.stat()
        except FileNotFoundError:
            return None
        if self._file_state is not None and self._file_state[0] == (
                stat.st_ino, stat.st_size, stat.st_mtime_ns):
            return self._file_state[1]
        return last_seq(self.log_path)

    def _log_start_key(self) -> str:
        assert self.log_path is not None
        return f"logpath-start:{self.log_path.resolve()}"

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head into the checkpoint file (only ever forward, never over
        a checkpoint that the database contradicts — that is the evidence of a rollback)."""
        with self._lock, self.db.transaction() as conn:
            head = conn.execute("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
            if head is None:
                return None
            try:
                existing = self.signer.read()
            except CheckpointInvalid:
                return None
            if existing is not None:
                if existing.seq >= head[0]:
                    return None
                row = conn.execute("SELECT mac FROM audit_log WHERE seq = ?",
                                   (existing.seq,)).fetchone()
                if row is None or row[0] != existing.mac:
                    return None
            checkpoint = Checkpoint(head[0], head[1], utc_now())
            self.signer.write(checkpoint)
            advance_anchors(self.anchors, self.signer, conn, checkpoint)
            conn.execute("INSERT OR REPLACE INTO audit_checkpoints (seq, mac, time) "
                         "VALUES (?, ?, ?)", (checkpoint.seq, checkpoint.mac, checkpoint.time))
            if self.log_path is not None:
                entry = _row_entry(conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq = ?",
                                                (head[0],)).fetchone())
                self._sync_log_file(conn, entry, appended=False)
        self._unsigned = 0
        return checkpoint

    def rollback_problems(self) -> list[str]:
        """The database compared with the checkpoint's copies outside the data directory."""
        with self._lock:
            return rollback_problems(self.anchors, self.signer, self.db.conn)

    def accept_restore(self) -> dict[str, Any]:
        """A deliberate restore from a backup: record it, then sign the current head into the
        checkpoint and every anchor; the old ``logPath`` file is moved aside (kept)."""
        from .restore import accept_restore

        with self._lock:
            return accept_restore(self)

    def take_anomalies(self) -> list[Anomaly]:
        """Anomalies detected since the last call (the session recorder pauses on them)."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    def blank_session(self, session_id: str) -> int:
        """Remove the payloads of one session's records (privacy deletion); the chain keeps
        verifying because MACs cover payload hashes. Records a ``user/delete`` entry."""
        with self._lock:
            with self.db.transaction() as conn:
                blanked = conn.execute("UPDATE audit_log SET payload = NULL WHERE session_id = ? "
                                       "AND payload IS NOT NULL", (session_id,)).rowcount
            in_file = rewrite_blanked(self.log_path, session_id) if self.log_path else 0
            self._store("user", "delete", {"session_id": session_id, "blanked": blanked,
                                           "blanked_in_log_file": in_file}, None)
        return int(blanked)

    def close(self) -> None:
        """Sign a final checkpoint if this process appended anything."""
        if self._unsigned:
            self.checkpoint()

    # reading ------------------------------------------------------------------------------
    def entries(self, *, since: str | None = None, session_id: str | None = None,
                after_seq: int | None = None, category: str | None = None) -> Iterator[Entry]:
        where, params = [], []
        for clause, value in (("time >= ?", since), ("session_id = ?", session_id),
                              ("seq > ?", after_seq), ("category = ?", category)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT {_COLUMNS} FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in self.db.conn.execute(sql + " ORDER BY seq", params):
            yield _row_entry(row)

    def tail(self, n: int = 20) -> list[Entry]:
        rows = self.db.conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT ?",
                                    (n,)).fetchall()
        return [_row_entry(r) for r in reversed(rows)]

    def head(self) -> int:
        row = self.db.conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        return int(row[0] or 0)

    def export(self, out: TextIO, fmt: str = "jsonl", *, since: str | None = None,
               session_id: str | None = None) -> int:
        """Write records (chain fields included, so ``verify --file`` can check them)."""
        if fmt not in ("jsonl", "csv"):
            raise AuditError(f"unknown export format {fmt!r} (jsonl or csv)")
        entries = self.entries(since=since, session_id=session_id)
        return write_jsonl(entries, out) if fmt == "jsonl" else write_csv(entries, out)

    # verifying ----------------------------------------------------------------------------
    def _checkpoint_context(self, **overrides: Any) -> CheckpointContext:
        ctx = CheckpointContext(**overrides)
        try:
            ctx.checkpoint = self.signer.read()
        except CheckpointInvalid as exc:
            ctx.checkpoint_problem = str(exc)
            return ctx
        row = self.db.conn.execute("SELECT max(seq) FROM audit_checkpoints").fetchone()
        ctx.db_checkpoint_seq = row[0] if row and row[0] is not None else None
        if ctx.checkpoint is None and ctx.db_checkpoint_seq is not None:
            ctx.checkpoint_problem = (f"{self.signer.path} is missing, but checkpoints up to "
                                      f"record {ctx.db_checkpoint_seq} were written")
        return ctx

    def verify(self) -> VerifyReport:
        """Verify the chain in the database against the signed checkpoint."""
        with self._lock:
            # checkpoint first: one is only ever written for records already committed
            ctx = self._checkpoint_context()
            rows = self.db.conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")
            report = verify_entries((_row_entry(r) for r in rows), self.keys, ctx)
        problems = self.rollback_problems()
        if report.ok and problems:
            report.ok, report.kind, report.problem = False, "rolled_back", problems[0]
            report.notes += problems[1:]
            report.notes.append("after a deliberate restore from a backup: "
                                "`bastion audit accept-restore`")
        if report.ok and report.checked == 0:
            report.notes.append("the audit log is empty")
        if not self.enabled:
            report.notes.append("audit.enabled is false: nothing new is being recorded")
        return report

    def verify_file(self, path: Path, *, partial: bool = False) -> VerifyReport:
        """Verify a ``logPath`` JSONL file or an export (JSONL or CSV).

        The signed checkpoint applies when the records are this home's: the ``logPath`` file
        must reach it; an export may end earlier but must agree with it where it overlaps.
        """
        is_log_file = self.log_path is not None and self.log_path.exists() and \
            self.log_path.resolve() == path.resolve()
        parts = [*rotated_segments(path), path] if is_log_file else [path]
        try:
            entries = [e for part in parts for e in read_records(part)]
        except MalformedRecord as bad:
            return VerifyReport(ok=False, checked=0, first_bad_seq=bad.seq, kind="modified",
                                problem=str(bad))
        except OSError as exc:
            raise AuditError(f"{path}: cannot read ({exc.strerror})") from None
        if not entries:
            return VerifyReport(ok=True, checked=0, notes=[f"{path} holds no records"])
        if not any(self.keys.mac(e.header()) == e.mac for e in entries[:50]):
            return VerifyReport(ok=False, checked=0, first_bad_seq=entries[0].seq,
                                kind="modified",
                                problem=f"{path}: no record verifies with this home's audit "
                                        "key (modified, or written by another Bastion home)")
        expected_first = None
        if is_log_file:
            row = self.db.conn.execute("SELECT value FROM audit_meta WHERE key = ?",
                                       (self._log_start_key(),)).fetchone()
            expected_first = int(row[0]) if row else None
        ctx = self._checkpoint_context(must_reach_checkpoint=is_log_file and not partial,
                                       expected_first=expected_first)
        ctx.db_checkpoint_seq = None  # a file has no memory of its own: shorter is "truncated"
        if partial:
            ctx.checkpoint = None
            ctx.checkpoint_problem = None
        report = verify_entries(entries, self.keys, ctx, present={e.seq for e in entries},
                                partial=partial)
        if len(parts) > 1:
            report.notes.append(f"{len(parts) - 1} rotated part(s) of {path} checked with it")
        if partial and report.ok:
            report.notes.append("partial check: each record and their order, not completeness")
        return report


def entry_payload(entry: Entry) -> dict[str, Any] | None:
    """The decoded payload of a record (None when blanked)."""
    import json

    return None if entry.payload is None else dict(json.loads(entry.payload))


AuditFactory = Callable[[], AuditLog]
