"""What a command is not handed as it is: files that hold secrets (hidden), and, unattended,
what the journal cannot keep (read-only; :func:`unrestorable_paths`).

The privacy filter sees what a tool returns, but a command can reshape a file before anything
comes back (``od -c``, ``xxd``, ``fold -w3``, a custom cipher): no filter can undo every
transform. So before a command runs, every regular file in the granted folders that the
pre-command snapshot found is checked for secrets, and the ones that hold some are hidden from
the command (masked by an empty read-only file, like ``denyRead`` paths). ``read_file`` still
shows them, redacted.

Verdicts are cached by content digest (the snapshot's own SHA-256), in memory for the session
and, when a database is given, in the encrypted store (table ``secret_verdicts``, keyed by the
digest and a fingerprint of the rule set, so new rules re-judge): a file is read and scanned once
per content; later commands and sessions cost a lookup per file.
Only ``medium`` and ``high`` confidence findings count, so that a low-confidence guess never
hides a source file from the build.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bastion import __version__, privacy
from bastion.fsutil import read_up_to

#: files larger than this are read only up to it (a secret in a config file is near the top;
#: bounded so one huge file never stalls a command)
SCAN_BYTES = 4 * 1024 * 1024
#: the most files one command's check reads (the rest keep their last verdict or are shown)
MAX_NEW_FILES = 5_000
_COUNTS = frozenset({"medium", "high"})


MIGRATIONS = [
    "CREATE TABLE secret_verdicts (digest TEXT NOT NULL, rules TEXT NOT NULL, "
    "secret INTEGER NOT NULL, PRIMARY KEY (digest, rules))",
]
_BATCH = 500


@dataclass
class SecretFiles:
    """Digest -> does the content hold a secret; kept for a session's commands (and, with a
    ``db``, across sessions in the encrypted store)."""

    db: Any = None
    verdicts: dict[str, bool] = field(default_factory=dict)
    scanned_bytes: int = 0
    _fingerprint: str = ""

    def find(self, entries: dict[str, Any]) -> list[str]:
        """Paths (from a snapshot's ``entries``) whose content holds a secret."""
        self._load([getattr(e, "sha256", None) for e in entries.values()
                    if getattr(e, "kind", None) == "file"])
        found: list[str] = []
        new = 0
        fresh: dict[str, bool] = {}
        for path, entry in entries.items():
            digest = getattr(entry, "sha256", None)
            if getattr(entry, "kind", None) != "file" or digest is None:
                continue
            verdict = self.verdicts.get(digest)
            if verdict is None:
                if new >= MAX_NEW_FILES:
                    continue
                new += 1
                verdict = self._check(path)
                if verdict is None:
                    continue
                self.verdicts[digest] = fresh[digest] = verdict
            if verdict:
                found.append(path)
        self._save(fresh)
        return found

    def _rules(self) -> str:
        """A fingerprint of what the verdicts were made with: the built-in rule files, byte
        for byte, and Bastion's version (the views and checks around the rules). Known without
        building the scanner, so a command whose files all have a verdict never builds it."""
        if not self._fingerprint:
            basis = f"{privacy.builtin_rules_digest()}\0{__version__}"
            self._fingerprint = hashlib.sha256(basis.encode()).hexdigest()[:32]
        return self._fingerprint

    def _load(self, digests: list[str | None]) -> None:
        missing = [d for d in dict.fromkeys(digests) if d is not None and d not in self.verdicts]
        if self.db is None or not missing:
            return
        self.db.ensure_schema("secretscan", MIGRATIONS)
        for i in range(0, len(missing), _BATCH):
            chunk = missing[i:i + _BATCH]
            rows = self.db.query(
                "SELECT digest, secret FROM secret_verdicts WHERE rules = ? AND digest IN "
                f"({','.join('?' * len(chunk))})", (self._rules(), *chunk))
            self.verdicts.update((r["digest"], bool(r["secret"])) for r in rows)

    def _save(self, fresh: dict[str, bool]) -> None:
        if self.db is None or not fresh:
            return
        rules = self._rules()
        with self.db.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO secret_verdicts (digest, rules, secret) "
                             "VALUES (?, ?, ?)", [(d, rules, int(v)) for d, v in fresh.items()])

    def _check(self, path: str) -> bool | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            data = read_up_to(fd, SCAN_BYTES)
        except OSError:
            return None
        finally:
            os.close(fd)
        self.scanned_bytes += len(data)
        text = privacy.decode_bytes(data)
        if text is None:  # binary: the filter cannot read it either
            return False
        found = privacy.scan_views(privacy.default_scanner(), text)
        return any(f.confidence in _COUNTS for f in found)


def unrestorable_paths(skipped: Iterable[Any], keep: frozenset[str]) -> list[str]:
    """Paths of a snapshot's ``skipped`` entries (``.git``, virtual environments, files over
    the size limit…) that a command must not change unattended, minus folder names in
    ``keep`` (regenerated caches). A ``.git`` folder contributes what is in it: the sandbox
    pins ``.git`` itself as a writable mount point (it cannot be removed or swapped)."""
    paths: list[str] = []
    for s in skipped:
        name = os.path.basename(s.path)
        if name in keep or s.reason.startswith("special file") or os.path.islink(s.path):
            continue
        if name == ".git" and os.path.isdir(s.path):
            with contextlib.suppress(OSError):
                paths += [e.path for e in os.scandir(s.path) if not e.is_symlink()]
        elif os.path.lexists(s.path):
            paths.append(s.path)
    return paths
