"""``json.loads`` for text Bastion did not write itself in this process: files a user or
another program can edit, remote sync objects, recovery files, external audit logs.

The standard decoder raises ``RecursionError`` (not a ``ValueError``) on nesting deeper than
the interpreter's recursion limit, so ``[[[[…`` slipped past every ``except ValueError`` and
ended a command with "internal error". :func:`loads` raises ``json.JSONDecodeError`` instead
— a ``ValueError`` — so the caller's existing handling of malformed JSON applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def loads(text: str | bytes | bytearray) -> Any:
    """Parse ``text``; malformed or too deeply nested input raises ``json.JSONDecodeError``."""
    try:
        return json.loads(text)
    except RecursionError:
        doc = text if isinstance(text, str) else ""
        raise json.JSONDecodeError("nested too deeply", doc, 0) from None


def read_object(path: Path) -> dict[str, Any]:
    """The JSON object in the file ``path``: ``{}`` when the file is missing or holds something
    else than an object; unreadable or malformed files raise ``OSError`` or
    ``json.JSONDecodeError`` (each store decides whether that fails open or closed)."""
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}
