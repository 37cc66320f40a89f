"""Servers start on the first call of one of their tools, not at every session start.

A server's tool list (names, descriptions, schemas) is cached in
``BASTION_HOME/mcp-tools.json`` whenever Bastion has talked to it. A later session offers
the cached tools — still subject to the approval of that exact list's hash — without starting
the server. The first call starts it and compares the live list's hash with the cached one:
any difference (a new description could carry new instructions) refuses the call, stops the
server and drops the cache entry, so the next session connects up front and asks for approval
again. The model therefore only ever sees a tool list that was approved and then verified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion import jsonsafe
from bastion.fsutil import atomic_write_json

from .approvals import tool_list_hash
from .client import CALL_TIMEOUT_S, CallResult, McpConnection, McpError, RemoteTool

CACHE_FILE = "mcp-tools.json"


@dataclass
class ToolListCache:
    home: Path

    @property
    def path(self) -> Path:
        return self.home / CACHE_FILE

    def _load(self) -> dict[str, Any]:
        try:
            return jsonsafe.read_object(self.path)
        except (OSError, json.JSONDecodeError):
            return {}  # unreadable: nothing cached, servers start up front as before

    def get(self, key: str) -> list[RemoteTool] | None:
        entry = self._load().get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("tools"), list):
            return None
        try:
            return [RemoteTool(str(t["name"]), str(t.get("description") or ""),
                               dict(t.get("inputSchema") or {})) for t in entry["tools"]]
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, tools: list[RemoteTool]) -> None:
        listing = [t.as_dict() for t in tools]
        data = self._load()
        if data.get(key, {}).get("hash") == tool_list_hash(listing):
            return
        data[key] = {"hash": tool_list_hash(listing), "tools": listing}
        atomic_write_json(self.path, data, sort_keys=True)

    def drop(self, key: str) -> None:
        data = self._load()
        if data.pop(key, None) is not None:
            atomic_write_json(self.path, data, sort_keys=True)

    def drop_prefix(self, prefix: str) -> None:
        """Forget every cached list whose key starts with ``prefix`` (``bastion mcp remove``)."""
        data = self._load()
        kept = {k: v for k, v in data.items() if not k.startswith(prefix)}
        if len(kept) != len(data):
            atomic_write_json(self.path, kept, sort_keys=True)


@dataclass
class DeferredConnection:
    """Looks like an :class:`McpConnection`; connects on the first ``call``."""

    name: str
    connect: Callable[[], McpConnection]
    tools: list[RemoteTool]
    #: called when the live tool list differs from the cached one
    on_changed: Callable[[], None] = lambda: None
    server_info: str = ""
    _conn: McpConnection | None = field(default=None, repr=False)
    _refused: str | None = field(default=None, repr=False)

    @property
    def started(self) -> bool:
        return self._conn is not None

    def _live(self) -> McpConnection:
        if self._refused is not None:
            raise McpError(self._refused)
        if self._conn is None:
            conn = self.connect()
            expected = tool_list_hash([t.as_dict() for t in self.tools])
            live = tool_list_hash([t.as_dict() for t in conn.tools])
            if live != expected:
                conn.close()
                self.on_changed()
                self._refused = (
                    f"MCP server {self.name!r}: its tool list changed since it was approved "
                    f"(sha256 {live[:12]}, approved {expected[:12]}); the call was not made — "
                    f"review it with `bastion mcp test {self.name}`")
                raise McpError(self._refused)
            self._conn = conn
            self.server_info = conn.server_info
        return self._conn

    def call(self, tool: str, arguments: dict[str, Any],
             timeout_s: float = CALL_TIMEOUT_S) -> CallResult:
        return self._live().call(tool, arguments, timeout_s)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
