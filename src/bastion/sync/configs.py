"""Agent and taskforce definitions of the user (``BASTION_HOME/agents``, ``/taskforces``).

Last writer wins by modification time; a definition is written only through the crash-safe
writer, under a validated plain name (never a path from the remote side).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from bastion.fsutil import atomic_write_text
from bastion.store import Database

from .crypto import digest

KINDS = {"agent": "agents", "taskforce": "taskforces"}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.ya?ml$")


def _local(home: Path) -> dict[tuple[str, str], Path]:
    found: dict[tuple[str, str], Path] = {}
    for kind, folder in KINDS.items():
        base = home / folder
        if base.is_dir():
            for p in sorted(base.iterdir()):
                if _NAME.match(p.name) and p.is_file() and not p.is_symlink():
                    found[(kind, p.name)] = p
    return found


def _known(db: Database) -> dict[tuple[str, str], str]:
    return {(r["kind"], r["name"]): r["sha256"] for r in db.query("SELECT * FROM sync_configs")}


def collect_configs(home: Path, db: Database, scrub: Any) -> list[dict[str, Any]]:
    known = _known(db)
    out = []
    for (kind, name), path in _local(home).items():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        sha = digest(text.encode())
        if known.get((kind, name)) != sha:
            out.append({"kind": kind, "name": name, "content": scrub("", text),
                        "mtime": path.stat().st_mtime, "local_sha": sha})
    return out


def record_configs(db: Database, records: list[dict[str, Any]]) -> None:
    db.conn.executemany("INSERT OR REPLACE INTO sync_configs (kind, name, sha256) VALUES (?, ?, ?)",
                        [(r["kind"], r["name"], r["local_sha"]) for r in records])


def apply_configs(home: Path, db: Database, records: list[dict[str, Any]]) -> int:
    """Write newer remote definitions; returns how many files changed."""
    changed = 0
    for rec in records:
        kind, name = str(rec.get("kind")), str(rec.get("name"))
        if kind not in KINDS or not _NAME.match(name):
            continue  # never a path from the remote side
        path = home / KINDS[kind] / name
        content = str(rec["content"])
        sha = digest(content.encode())
        local_mtime = -1.0
        with contextlib.suppress(OSError):
            if digest(path.read_bytes()) == sha:
                record_configs(db, [{"kind": kind, "name": name, "local_sha": sha}])
                continue
            local_mtime = path.stat().st_mtime
        if float(rec["mtime"]) <= local_mtime:
            continue
        atomic_write_text(path, content)
        os.utime(path, (float(rec["mtime"]), float(rec["mtime"])))
        record_configs(db, [{"kind": kind, "name": name, "local_sha": sha}])
        changed += 1
    return changed
