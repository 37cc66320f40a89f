"""What syncs: conversation rows out of the local database, and merged back in.

A synced row carries a ``uid`` (a hash of device, table and local row id — local ids are
never reused), so the same row is
never imported twice and two devices' appends to one session are both kept. After an import
a session's messages and events are renumbered in one canonical order — ``(created_at,
uid)`` — so every device shows the same conversation in the same order.

Never read here: ``api_keys``, the journal (pre-images, file contents), the audit log.
Every string goes through the privacy filter (secrets always; paths and PII in security mode).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bastion.store import Database

from .crypto import digest
from .state import SyncState

Scrub = Callable[[str, Any], Any]  # (workspace, value) -> scrubbed value

META = ("title", "created_at", "updated_at", "workspace", "agent", "provider", "model", "status")
MSG = ("role", "content", "tool_calls", "tool_call_id", "agent", "created_at")
EVT = ("kind", "data", "created_at")
CALL = ("id", "name", "arguments", "status", "result", "agent", "started_at", "finished_at")
#: a row changed this long before the last sync started is looked at again (a writer that
#: was mid-transaction while the last sync read the tables, clock steps on this device)
LOOKBACK_S = 120.0


def _fingerprint(doc: Any) -> str:
    return digest(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())


def _new_rows(db: Database, table: str, hwm: int) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(
        f"SELECT t.* FROM {table} t LEFT JOIN sync_rows r ON r.tbl = ? AND "
        "r.local_id = CAST(t.id AS TEXT) WHERE t.id > ? AND r.uid IS NULL ORDER BY t.id",
        (table, hwm))]


def collect(db: Database, state: SyncState, scrub: Scrub, since: float
            ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per-session change documents not yet pushed, plus the bookkeeping to record once the
    upload succeeded (see :func:`record_pushed`)."""
    tombs = state.tombstones()
    device = str(state.get("device_id"))
    docs: dict[str, dict[str, Any]] = {}
    book: dict[str, Any] = {"rows": [], "meta": {}, "hwm": {}}
    workspaces: dict[str, str] = {}

    def doc(sid: str) -> dict[str, Any]:
        return docs.setdefault(sid, {"kind": "session", "session": sid, "meta": None,
                                     "messages": [], "events": [], "tool_calls": []})

    # only sessions changed since the last run (or never pushed): O(changes), not O(history)
    for r in db.query("SELECT s.*, p.meta_hash AS _pushed FROM sessions s LEFT JOIN "
                      "sync_sessions p ON p.session_id = s.id WHERE p.session_id IS NULL "
                      "OR s.updated_at >= ?", (since - LOOKBACK_S,)):
        sid = r["id"]
        workspaces[sid] = r["workspace"]
        if sid in tombs:
            continue
        meta = scrub(r["workspace"], {k: r[k] for k in META})
        fp = _fingerprint(meta)
        if r["_pushed"] != fp:
            doc(sid)["meta"] = meta
            book["meta"][sid] = fp
    for table, cols in (("messages", MSG), ("events", EVT)):
        hwm = int(state.get(f"hwm_{table}", 0))
        rows = _new_rows(db, table, hwm)
        book["hwm"][table] = max([hwm, *(int(r["id"]) for r in rows)])
        for r in rows:
            sid = r["session_id"]
            if sid in tombs or not _workspace(db, sid, workspaces):
                continue
            # deterministic: a push retried after a crash (manifest written, bookkeeping
            # not) re-sends the same uids, so other devices never import a row twice
            uid = digest(f"{device}\x00{table}\x00{r['id']}".encode())[:20]
            rec = scrub(workspaces[sid], {k: r[k] for k in cols})
            doc(sid)[table].append({"uid": uid, **rec})
            book["rows"].append((table, str(r["id"]), uid))
    _collect_calls(db, state, scrub, since, workspaces, tombs, doc, book)
    return docs, book


def _workspace(db: Database, sid: str, workspaces: dict[str, str]) -> bool:
    if sid not in workspaces:
        rows = db.query("SELECT workspace FROM sessions WHERE id = ?", (sid,))
        if not rows:
            return False
        workspaces[sid] = rows[0]["workspace"]
    return True


def _collect_calls(db: Database, state: SyncState, scrub: Scrub, since: float,
                   workspaces: dict[str, str], tombs: dict[str, float],
                   doc: Callable[[str], dict[str, Any]], book: dict[str, Any]) -> None:
    cutoff = since - LOOKBACK_S
    known = {r["local_id"]: r["uid"] for r in db.query(
        "SELECT local_id, uid FROM sync_rows WHERE tbl = 'tool_calls'")}
    for r in db.query("SELECT * FROM tool_calls WHERE started_at >= ? OR finished_at >= ? "
                      "OR finished_at IS NULL", (cutoff, cutoff)):
        sid = r["session_id"]
        if sid in tombs or not _workspace(db, sid, workspaces):
            continue
        rec = {k: r[k] for k in CALL}
        fp = _fingerprint(rec)
        local_id = f"{sid}\x00{r['id']}"
        if known.get(local_id) == fp:
            continue
        doc(sid)["tool_calls"].append(scrub(workspaces[sid], rec))
        book["rows"].append(("tool_calls", local_id, fp))


def remember_session(db: Database, sid: str, scrub: Scrub) -> None:
    """After an import: the session's metadata as this device would push it (so it is not
    pushed back), and the mark that lets a later local deletion become a tombstone."""
    rows = db.query("SELECT * FROM sessions WHERE id = ?", (sid,))
    if rows:
        meta = scrub(rows[0]["workspace"], {k: rows[0][k] for k in META})
        db.execute("INSERT OR REPLACE INTO sync_sessions (session_id, meta_hash) VALUES (?, ?)",
                   (sid, _fingerprint(meta)))


def record_pushed(db: Database, state: SyncState, book: dict[str, Any]) -> None:
    with db.transaction():
        db.conn.executemany("INSERT OR REPLACE INTO sync_rows (tbl, local_id, uid) VALUES (?, ?, ?)",
                            book["rows"])
        db.conn.executemany("INSERT OR REPLACE INTO sync_sessions (session_id, meta_hash) "
                            "VALUES (?, ?)", list(book["meta"].items()))
        for table, hwm in book["hwm"].items():
            state.set(f"hwm_{table}", hwm)


# --- merging a remote segment in ----------------------------------------------------------


def apply_segment(db: Database, doc: dict[str, Any]) -> None:
    """Merge one session segment (from another device) into the local database."""
    sid = str(doc["session"])
    with db.transaction():
        local = db.query("SELECT * FROM sessions WHERE id = ?", (sid,))
        meta = doc.get("meta")
        if not local:
            base = {"title": "(synced session)", "created_at": 0.0, "updated_at": 0.0,
                    "workspace": "", "agent": None, "provider": None, "model": None,
                    "status": "done"}
            base.update({k: v for k, v in (meta or {}).items() if k in META})
            db.execute(f"INSERT INTO sessions (id, {', '.join(META)}) VALUES (?{', ?' * len(META)})",
                       (sid, *(base[k] for k in META)))
        elif meta and float(meta["updated_at"]) > float(local[0]["updated_at"]):
            db.execute(f"UPDATE sessions SET {', '.join(f'{k} = ?' for k in META)} WHERE id = ?",
                       (*(meta[k] for k in META), sid))
        for table, cols in (("messages", MSG), ("events", EVT)):
            if _insert_rows(db, sid, table, cols, doc.get(table) or []):
                _canonical_order(db, sid, table, cols)
        for call in doc.get("tool_calls") or []:
            _merge_call(db, sid, call)


def _insert_rows(db: Database, sid: str, table: str, cols: tuple[str, ...],
                 rows: list[dict[str, Any]]) -> bool:
    known: set[str] = set()
    uids = [str(r["uid"]) for r in rows]
    for i in range(0, len(uids), 500):  # one look-up per 500 rows, not one per row
        chunk = uids[i:i + 500]
        known.update(r["uid"] for r in db.query(
            f"SELECT uid FROM sync_rows WHERE tbl = ? AND uid IN ({', '.join('?' * len(chunk))})",
            (table, *chunk)))
    mapped = []
    for row in rows:
        if row["uid"] in known:
            continue
        known.add(row["uid"])
        cur = db.execute(f"INSERT INTO {table} (session_id, {', '.join(cols)}) "
                         f"VALUES (?{', ?' * len(cols)})", (sid, *(row.get(k) for k in cols)))
        mapped.append((table, str(cur.lastrowid), row["uid"]))
    db.conn.executemany("INSERT INTO sync_rows (tbl, local_id, uid) VALUES (?, ?, ?)", mapped)
    return bool(mapped)


def _canonical_order(db: Database, sid: str, table: str, cols: tuple[str, ...]) -> None:
    """Renumber one session's rows into (created_at, uid) order; unpushed rows keep no uid."""
    rows = [dict(r) for r in db.query(
        f"SELECT t.*, r.uid AS _uid FROM {table} t LEFT JOIN sync_rows r ON r.tbl = ? AND "
        "r.local_id = CAST(t.id AS TEXT) WHERE t.session_id = ? ORDER BY t.id", (table, sid))]
    ordered = sorted(rows, key=lambda r: (float(r["created_at"]), r["_uid"] or "~", r["id"]))
    if [r["id"] for r in ordered] == [r["id"] for r in rows]:
        return
    db.execute(f"DELETE FROM sync_rows WHERE tbl = ? AND local_id IN "
               f"(SELECT CAST(id AS TEXT) FROM {table} WHERE session_id = ?)", (table, sid))
    db.execute(f"DELETE FROM {table} WHERE session_id = ?", (sid,))
    for r in ordered:
        cur = db.execute(f"INSERT INTO {table} (session_id, {', '.join(cols)}) "
                         f"VALUES (?{', ?' * len(cols)})", (sid, *(r[k] for k in cols)))
        if r["_uid"]:
            db.execute("INSERT INTO sync_rows (tbl, local_id, uid) VALUES (?, ?, ?)",
                       (table, str(cur.lastrowid), r["_uid"]))


def _merge_call(db: Database, sid: str, call: dict[str, Any]) -> None:
    rec = {k: call.get(k) for k in CALL}
    local = db.query("SELECT * FROM tool_calls WHERE session_id = ? AND id = ?", (sid, rec["id"]))
    if local and (local[0]["finished_at"] or 0) >= (rec["finished_at"] or 0):
        return  # ours is at least as complete
    db.execute(f"INSERT OR REPLACE INTO tool_calls (session_id, {', '.join(CALL)}) "
               f"VALUES (?{', ?' * len(CALL)})", (sid, *(rec[k] for k in CALL)))
    db.execute("INSERT OR REPLACE INTO sync_rows (tbl, local_id, uid) VALUES ('tool_calls', ?, ?)",
               (f"{sid}\x00{rec['id']}", _fingerprint(rec)))


def row_counts(db: Database) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for table in ("sessions", "messages", "tool_calls", "events"):
        out[table] = int(db.query(f"SELECT count(*) AS n FROM {table}")[0]["n"])
    return dict(out)
