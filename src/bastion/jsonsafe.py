"""``json.loads`` for text Bastion did not write itself in this process: files a user or
another program can edit, remote sync objects, recovery files, external audit logs.

The standard decoder raises ``RecursionError`` (not a ``ValueError``) on nesting deeper than
the interpreter's recursion limit, so ``[[[[…`` slipped past every ``except ValueError`` and
ended a command with "internal error". :func:`loads` raises ``json.JSONDecodeError`` instead
— a ``ValueError`` — so the caller's existing handling of malformed JSON applies.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes | bytearray) -> Any:
    """Parse ``text``; malformed or too deeply nested input raises ``json.JSONDecodeError``."""
    try:
        return json.loads(text)
    except RecursionError:
        doc = text if isinstance(text, str) else ""
        raise json.JSONDecodeError("nested too deeply", doc, 0) from None
