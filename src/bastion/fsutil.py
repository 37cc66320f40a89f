"""Crash-safe file replacement: the one way Bastion writes its own small files.

Write to a temporary file in the same directory, fsync it, then rename over the target, so a
crash leaves either the old file or the new one — never half of each. Files are owner-only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, doc: Any, *, sort_keys: bool = False, mode: int = 0o600) -> None:
    """Replace ``path`` with ``doc`` as indented JSON, atomically and durably."""
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=sort_keys) + "\n", mode=mode)
