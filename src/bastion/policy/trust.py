"""Trust in a project's own configuration (``<dir>/.bastion/``), pinned by content hash.

Until the user runs ``bastion trust DIR``, a project's ``.bastion/settings.json`` can only
tighten: its deny/ask/denyRead rules and ``securityMode: true`` apply, its grants and allow
rules do not. Trust is recorded in ``BASTION_HOME/trust.json`` (outside every workspace, and
deny-read for the agent) together with a digest of the project's configuration files; any
change to them makes the project untrusted again until the user re-trusts it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bastion import jsonsafe, safefs
from bastion.errors import BastionError
from bastion.fsutil import atomic_write_json

TRUST_FILE = "trust.json"
PROJECT_DIR = ".bastion"

TrustState = Literal["trusted", "untrusted", "changed", "none"]


class TrustError(BastionError):
    """The trust store cannot be read or written."""


def project_files(root: Path) -> list[Path]:
    """The project configuration files a trust pins (settings, agents, taskforces)."""
    base = root / PROJECT_DIR
    files = [base / "settings.json"]
    for sub in ("agents", "taskforces"):
        folder = base / sub
        if folder.is_dir() and not folder.is_symlink():
            files += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    return [f for f in files if f.is_file() and not f.is_symlink()]


def project_digest(root: Path) -> str | None:
    """SHA-256 over the names and contents of :func:`project_files`; None if there are none."""
    files = project_files(root)
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        rel = f.relative_to(root).as_posix().encode()
        with safefs.open_regular(f) as fh:  # listed as a file; a swap to a FIFO is refused
            data = fh.read()
        h.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


@dataclass
class TrustStore:
    """The projects whose own ``.bastion/`` settings the user trusts."""

    home: Path

    @property
    def path(self) -> Path:
        return self.home / TRUST_FILE

    def _load(self) -> dict[str, Any]:
        try:
            return jsonsafe.read_object(self.path)
        except (OSError, json.JSONDecodeError) as exc:
            raise TrustError(f"{self.path}: unreadable trust store ({exc})") from None

    def _save(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.path, data, sort_keys=True)

    def state(self, root: Path) -> TrustState:
        """``none`` (no project config), ``trusted``, ``changed`` (since trusted), ``untrusted``."""
        root = root.resolve()
        digest = project_digest(root)
        if digest is None:
            return "none"
        entry = self._load().get(str(root))
        if not entry:
            return "untrusted"
        return "trusted" if entry.get("digest") == digest else "changed"

    def is_trusted(self, root: Path) -> bool:
        return self.state(root) == "trusted"

    def trust(self, root: Path) -> str | None:
        """Pin the current project configuration; returns its digest (None: nothing to trust)."""
        root = root.resolve()
        digest = project_digest(root)
        data = self._load()
        data[str(root)] = {"digest": digest, "trustedAt": time.time()}
        self._save(data)
        return digest

    def untrust(self, root: Path) -> bool:
        data = self._load()
        removed = data.pop(str(root.resolve()), None) is not None
        if removed:
            self._save(data)
        return removed
