"""Reversible, session-stable placeholders.

``[[SECRET:<label>:<n>]]`` for secrets, ``[[PII:<kind>:<n>]]`` for personal data,
``[[PATH:<n>]]`` for absolute paths outside the workspace and home, ``[[USER:<n>]]`` for the
user name. The same value always gets the same placeholder within a session; the mapping lives
in memory and can be exported (to be stored encrypted) and imported again.
"""

from __future__ import annotations

import re
from typing import Any

KINDS = ("SECRET", "PII", "PATH", "USER")
PLACEHOLDER_RE = re.compile(r"\[\[(SECRET|PII|PATH|USER):(?:[a-z0-9-]{1,48}:)?\d{1,9}\]\]")
# placeholder syntax in URL-encoded / lightly mangled form (for exfiltration checks)
PLACEHOLDER_LOOSE_RE = re.compile(
    r"(?:\[\[|%5B%5B|%255B%255B|\\\[\\\[)\s*(SECRET|PII|PATH|USER)(?::|%3A)", re.IGNORECASE
)
_LABEL_RE = re.compile(r"[^a-z0-9-]+")

MAPPING_VERSION = 1


def _clean_label(label: str) -> str:
    cleaned = _LABEL_RE.sub("-", label.lower()).strip("-")
    return cleaned[:48] or "secret"


class PlaceholderMap:
    """Bidirectional value <-> placeholder mapping for one session."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, tuple[str, str]] = {}  # placeholder -> (kind, value)
        self._counters: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def placeholder_for(self, value: str, kind: str = "SECRET", label: str = "secret") -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown placeholder kind {kind!r}")
        key = (kind, value)
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        if kind in ("PATH", "USER"):
            counter_key = kind
            n = self._counters.get(counter_key, 0) + 1
            placeholder = f"[[{kind}:{n}]]"
        else:
            clean = _clean_label(label)
            counter_key = f"{kind}:{clean}"
            n = self._counters.get(counter_key, 0) + 1
            placeholder = f"[[{kind}:{clean}:{n}]]"
        self._counters[counter_key] = n
        self._by_value[key] = placeholder
        self._by_placeholder[placeholder] = (kind, value)
        return placeholder

    def value_of(self, placeholder: str) -> str | None:
        entry = self._by_placeholder.get(placeholder)
        return entry[1] if entry else None

    def kind_of(self, placeholder: str) -> str | None:
        entry = self._by_placeholder.get(placeholder)
        return entry[0] if entry else None

    def secret_values(self) -> list[tuple[str, str]]:
        """``(value, placeholder)`` for every SECRET entry."""
        return [(v, p) for p, (k, v) in self._by_placeholder.items() if k == "SECRET"]

    def restore(self, text: str, kinds: tuple[str, ...] = KINDS) -> str:
        """Replace every placeholder of the given kinds that this session issued."""

        def repl(m: re.Match[str]) -> str:
            entry = self._by_placeholder.get(m.group(0))
            if entry is None or entry[0] not in kinds:
                return m.group(0)
            return entry[1]

        return PLACEHOLDER_RE.sub(repl, text)

    def export(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (contains the secrets: store it encrypted)."""
        return {
            "version": MAPPING_VERSION,
            "entries": [
                {"placeholder": p, "kind": k, "value": v}
                for p, (k, v) in self._by_placeholder.items()
            ],
            "counters": dict(self._counters),
        }

    def load(self, data: dict[str, Any]) -> None:
        """Merge a snapshot produced by :meth:`export` (entries already present are kept)."""
        if not isinstance(data, dict) or data.get("version") != MAPPING_VERSION:
            raise ValueError("not a Bastion placeholder mapping (version 1)")
        for entry in data.get("entries", []):
            placeholder, kind, value = entry["placeholder"], entry["kind"], entry["value"]
            if kind not in KINDS or not PLACEHOLDER_RE.fullmatch(placeholder):
                raise ValueError(f"invalid mapping entry {placeholder!r}")
            if placeholder in self._by_placeholder or (kind, value) in self._by_value:
                continue
            self._by_placeholder[placeholder] = (kind, value)
            self._by_value[(kind, value)] = placeholder
        for key, n in data.get("counters", {}).items():
            self._counters[key] = max(int(n), self._counters.get(key, 0))
