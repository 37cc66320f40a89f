"""What a command is not handed as it is: files that hold secrets (hidden), and, unattended,
what the journal cannot keep (read-only; :func:`unrestorable_paths`).

The privacy filter sees what a tool returns, but a command can reshape a file before anything
comes back (``od -c``, ``xxd``, ``fold -w3``, a custom cipher): no filter can undo every
transform. So before a command runs, every regular file in the granted folders that the
pre-command snapshot found is checked for secrets, and the ones that hold some are hidden from
the command (masked by an empty read-only file, like ``denyRead`` paths). ``read_file`` still
shows them, redacted.

Verdicts are cached by content digest (the snapshot's own SHA-256): a file is read and scanned
once per content, for the life of the session; later commands cost a dictionary lookup per file.
Only ``medium`` and ``high`` confidence findings count, so that a low-confidence guess never
hides a source file from the build.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bastion.privacy import decode_bytes, default_scanner, scan_views

#: files larger than this are read only up to it (a secret in a config file is near the top;
#: bounded so one huge file never stalls a command)
SCAN_BYTES = 4 * 1024 * 1024
#: the most files one command's check reads (the rest keep their last verdict or are shown)
MAX_NEW_FILES = 5_000
_COUNTS = frozenset({"medium", "high"})


@dataclass
class SecretFiles:
    """Digest -> does the content hold a secret; kept for a session's commands."""

    verdicts: dict[str, bool] = field(default_factory=dict)
    scanned_bytes: int = 0

    def find(self, entries: dict[str, Any]) -> list[str]:
        """Paths (from a snapshot's ``entries``) whose content holds a secret."""
        found: list[str] = []
        new = 0
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
                self.verdicts[digest] = verdict
            if verdict:
                found.append(path)
        return found

    def _check(self, path: str) -> bool | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            data = os.read(fd, SCAN_BYTES)
        except OSError:
            return None
        finally:
            os.close(fd)
        self.scanned_bytes += len(data)
        text = decode_bytes(data)
        if text is None:  # binary: the filter cannot read it either
            return False
        return any(f.confidence in _COUNTS for f in scan_views(default_scanner(), text))


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
