"""Approved tool lists, one per server definition, in ``BASTION_HOME/mcp-approvals.json``.

What the user approves is the exact list of tools a server offers — names, descriptions and
input schemas — because the descriptions are what the model reads: a server that changes a
description after approval could smuggle new instructions ("tool poisoning"). So the hash of
the list is stored, compared at every connect, and any difference needs approval again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion import jsonsafe
from bastion.fsutil import atomic_write_json

APPROVALS_FILE = "mcp-approvals.json"


def tool_list_hash(tools: list[dict[str, Any]]) -> str:
    """SHA-256 over the sorted ``{name, description, inputSchema}`` of every tool."""
    canon = sorted(json.dumps({"name": t.get("name"), "description": t.get("description") or "",
                                "inputSchema": t.get("inputSchema") or {}},
                               sort_keys=True, separators=(",", ":")) for t in tools)
    return hashlib.sha256("\n".join(canon).encode()).hexdigest()


@dataclass
class ApprovalStore:
    home: Path

    @property
    def path(self) -> Path:
        return self.home / APPROVALS_FILE

    def _load(self) -> dict[str, Any]:
        try:
            return jsonsafe.read_object(self.path)
        except (OSError, json.JSONDecodeError):
            return {}  # unreadable: nothing counts as approved (fail closed)

    def approved_hash(self, key: str) -> str | None:
        entry = self._load().get(key)
        return entry.get("hash") if isinstance(entry, dict) else None

    def approve(self, key: str, digest: str, tools: list[str]) -> None:
        data = self._load()
        data[key] = {"hash": digest, "tools": sorted(tools), "approvedAt": time.time()}
        atomic_write_json(self.path, data, sort_keys=True)

    def revoke_prefix(self, prefix: str) -> int:
        """Withdraw every approval whose key starts with ``prefix``; how many there were."""
        data = self._load()
        kept = {k: v for k, v in data.items() if not k.startswith(prefix)}
        if len(kept) != len(data):
            atomic_write_json(self.path, kept, sort_keys=True)
        return len(data) - len(kept)

    def revoke(self, key: str) -> bool:
        data = self._load()
        if data.pop(key, None) is None:
            return False
        self.path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        return True
