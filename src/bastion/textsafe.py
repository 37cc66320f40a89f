"""Text that came from bytes (file names that are not UTF-8) made safe to store and show.

Python decodes such names with ``surrogateescape``: byte 0xFF becomes the lone surrogate
U+DCFF, which no UTF-8 encoder (SQLite, JSON for a provider, a terminal) accepts. Here each
such byte is shown as ``\\xff`` instead, so the text can go anywhere and still says which byte
it was.
"""

from __future__ import annotations

from typing import Any


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as a ``\\xNN`` (or ``\\udNNN``) escape."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def escape_deep(value: Any) -> Any:
    """:func:`escape_surrogates` applied to every string inside lists and dicts."""
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, dict):
        return {escape_deep(k): escape_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_deep(v) for v in value]
    return value
