"""Canonical JSON: the exact bytes that hashes and MACs are computed over.

Sorted keys, no whitespace, UTF-8, no NaN/Infinity. Anything that is not plain JSON is turned
into JSON first (paths and unknown objects become strings, sets become sorted lists), so
``canonical(json.loads(canonical(x))) == canonical(x)`` — a record read back from a JSONL file
hashes to the same value it was written with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def to_jsonable(value: Any) -> Any:
    """A plain-JSON copy of ``value`` (dict keys become strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # NaN/Infinity have no JSON spelling; keep them visible instead of failing the record
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=lambda v: canonical(v))
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def utc_now() -> str:
    """Fixed-width UTC timestamp, so string order is time order (used by ``--since``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
