"""Sessions, messages, tool calls and events (agent transitions, state changes)."""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bastion.errors import BastionError

from .db import Database, now


class SessionNotFound(BastionError):
    """No session with that id (or unique id prefix)."""


@dataclass
class SessionInfo:
    """A session's metadata, as listed."""

    id: str
    title: str
    created_at: float
    updated_at: float
    workspace: str
    agent: str | None
    provider: str | None
    model: str | None
    status: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SessionStore:
    """Repository over the conversation tables."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: sessions this process created (settled by :meth:`settle_running` on close)
        self.created: builtins.list[str] = []
        #: this process's liveness token id (store/owners.py), recorded with each session
        self.owner: str | None = None

    # sessions -----------------------------------------------------------------------------
    def create(self, *, title: str, workspace: str, agent: str | None, provider: str | None,
               model: str | None) -> str:
        session_id = os.urandom(6).hex()
        t = now()
        with self.db.transaction():  # a session is never seen without its owner
            self.db.execute(
                "INSERT INTO sessions (id, title, created_at, updated_at, workspace, agent, "
                "provider, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, title[:200], t, t, workspace, agent, provider, model),
            )
            if self.owner is not None:
                self.db.execute("INSERT INTO session_owners (session_id, owner) VALUES (?, ?)",
                                (session_id, self.owner))
        self.created.append(session_id)
        return session_id

    def sweep_orphans(self, alive: Callable[[str], bool]) -> builtins.list[str]:
        """Mark 'interrupted' every running session whose owning process is gone."""
        rows = self.db.query(
            "SELECT s.id, o.owner FROM sessions s LEFT JOIN session_owners o "
            "ON o.session_id = s.id WHERE s.status = 'running'")
        swept = []
        for row in rows:
            owner = row["owner"]
            if owner == self.owner or (owner is not None and alive(owner)):
                continue
            self.set_status(row["id"], "interrupted")
            self.add_event(row["id"], "state", {"status": "interrupted",
                                                "reason": "its process ended without closing"})
            swept.append(row["id"])
        return swept

    def settle_running(self, status: str) -> builtins.list[str]:
        """Sessions of this process still 'running' (set-up failed, signal) get ``status``."""
        settled = []
        for session_id in self.created:
            row = self.db.query("SELECT status FROM sessions WHERE id = ?", (session_id,))
            if row and row[0]["status"] == "running":
                self.set_status(session_id, status)
                self.add_event(session_id, "state", {"status": status})
                settled.append(session_id)
        return settled

    def set_status(self, session_id: str, status: str) -> None:
        self.db.execute("UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?",
                        (status, now(), session_id))

    def resolve(self, id_or_prefix: str) -> SessionInfo:
        rows = self.db.query("SELECT * FROM sessions WHERE id = ? OR id LIKE ? LIMIT 2",
                             (id_or_prefix, id_or_prefix.replace("%", "") + "%"))
        exact = [r for r in rows if r["id"] == id_or_prefix]
        if exact:
            rows = exact
        if not rows:
            raise SessionNotFound(f"no session '{id_or_prefix}'",
                                  hint="`bastion sessions list` shows the ids")
        if len(rows) > 1:
            raise SessionNotFound(f"'{id_or_prefix}' matches more than one session; give more of the id")
        return SessionInfo(**dict(rows[0]))

    def list(self, limit: int = 100) -> builtins.list[SessionInfo]:
        rows = self.db.query("SELECT * FROM sessions ORDER BY created_at DESC LIMIT ?", (limit,))
        return [SessionInfo(**dict(r)) for r in rows]

    def latest_in_workspace(self, workspace: str) -> SessionInfo | None:
        """The most recently active session in ``workspace`` (``run --continue``)."""
        rows = self.db.query("SELECT * FROM sessions WHERE workspace = ? "
                             "ORDER BY updated_at DESC LIMIT 1", (workspace,))
        return SessionInfo(**dict(rows[0])) if rows else None

    def delete(self, session_id: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def search(self, query: str, limit: int = 50) -> builtins.list[tuple[SessionInfo, str]]:
        """Sessions whose title or messages contain ``query`` (case-insensitive), with a snippet."""
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.query(
            "SELECT s.*, (SELECT m.content FROM messages m WHERE m.session_id = s.id AND "
            "m.role != 'system' AND m.content LIKE ? ESCAPE '\\' ORDER BY m.id LIMIT 1) AS hit "
            "FROM sessions s WHERE s.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
            "WHERE m.session_id = s.id AND m.role != 'system' AND m.content LIKE ? ESCAPE '\\') "
            "ORDER BY s.created_at DESC LIMIT ?",
            (pattern, pattern, pattern, limit),
        )
        out = []
        for r in rows:
            data = dict(r)
            hit = data.pop("hit") or data["title"]
            pos = hit.lower().find(query.lower())
            snippet = hit[max(0, pos - 40): pos + len(query) + 40] if pos >= 0 else hit[:80]
            out.append((SessionInfo(**data), snippet.replace("\n", " ")))
        return out

    # messages, tool calls, events -------------------------------------------------------------
    def add_message(self, session_id: str, role: str, content: str, *,
                    tool_calls: builtins.list[dict[str, Any]] | None = None,
                    tool_call_id: str | None = None, agent: str | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO messages (session_id, role, content, tool_calls, tool_call_id, agent, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, role, content, json.dumps(tool_calls) if tool_calls else None,
             tool_call_id, agent, now()),
        )
        self.db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now(), session_id))
        return int(cur.lastrowid or 0)

    def messages(self, session_id: str) -> builtins.list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM messages WHERE session_id = ? ORDER BY id",
                             (session_id,))
        out = []
        for r in rows:
            d = dict(r)
            d["tool_calls"] = json.loads(d["tool_calls"]) if d["tool_calls"] else []
            out.append(d)
        return out

    def start_tool_call(self, session_id: str, call_id: str, name: str,
                        arguments: dict[str, Any], agent: str | None = None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO tool_calls (id, session_id, name, arguments, status, agent, "
            "started_at) VALUES (?, ?, ?, ?, 'running', ?, ?)",
            (call_id, session_id, name, json.dumps(arguments), agent, now()),
        )

    def finish_tool_call(self, session_id: str, call_id: str, status: str, result: str) -> None:
        self.db.execute(
            "UPDATE tool_calls SET status = ?, result = ?, finished_at = ? "
            "WHERE session_id = ? AND id = ?",
            (status, result, now(), session_id, call_id),
        )

    def tool_calls(self, session_id: str) -> builtins.list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT * FROM tool_calls WHERE session_id = ? ORDER BY started_at", (session_id,))
        return [{**dict(r), "arguments": json.loads(r["arguments"])} for r in rows]

    def add_event(self, session_id: str, kind: str, data: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO events (session_id, kind, data, created_at) VALUES (?, ?, ?, ?)",
            (session_id, kind, json.dumps(data), now()),
        )

    def events(self, session_id: str) -> builtins.list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM events WHERE session_id = ? ORDER BY id",
                             (session_id,))
        return [{**dict(r), "data": json.loads(r["data"])} for r in rows]

    def interrupted_to_status(self) -> None:
        """Sessions left 'running' by a crash are marked 'interrupted' on the next start."""
        self.db.execute("UPDATE sessions SET status = 'interrupted' WHERE status = 'running'")
