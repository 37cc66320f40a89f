"""The record format and the HMAC chain.

A record is a *header* plus a *payload*. The header commits to the payload through a keyed
hash and to the previous record through its MAC; the MAC covers the header only. So a
payload can later be blanked for privacy (``bastion delete --session``) while every MAC, and
therefore the chain, still verifies.

    header = {"v", "seq", "time", "category", "action", "session_id", "payload_hash", "prev_mac"}
    payload_hash = HMAC-SHA-256(k_payload, canonical(payload))
    mac          = HMAC-SHA-256(k_mac, "bastion-audit-v1\\n" || canonical(header))

The payload hash is keyed, not a plain SHA-256, so a blanked payload cannot be confirmed by
guessing its content (file names, short commands) offline.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from .canonical import canonical

VERSION = 1
GENESIS = "0" * 64
_MAC_DOMAIN = b"bastion-audit-v1\n"

CATEGORIES = frozenset({
    "session", "tool", "decision", "file", "command", "config", "user", "network", "anomaly",
})

HEADER_FIELDS = ("v", "seq", "time", "category", "action", "session_id", "payload_hash",
                 "prev_mac")
#: columns of a JSONL/CSV record: the header, its MAC, and the payload (null when blanked)
RECORD_FIELDS = (*HEADER_FIELDS, "mac", "payload")


@dataclass(frozen=True)
class ChainKeys:
    """The two keys derived from the audit key: one MACs the chain, one encrypts payloads."""

    mac_key: bytes
    payload_key: bytes

    @classmethod
    def from_audit_key(cls, key: bytes) -> ChainKeys:
        # two independent keys from the one vault sub-key: a MAC must never double as a hash
        return cls(hmac.new(key, b"mac", hashlib.sha256).digest(),
                   hmac.new(key, b"payload", hashlib.sha256).digest())

    # hmac.digest is the one-shot C path: verification is dominated by these two calls
    def payload_hash(self, payload_bytes: bytes) -> str:
        return hmac.digest(self.payload_key, payload_bytes, "sha256").hex()

    def mac(self, header: dict[str, Any]) -> str:
        return hmac.digest(self.mac_key, _MAC_DOMAIN + canonical(header), "sha256").hex()


@dataclass
class Entry:
    """One record as read back from the database or a file."""

    seq: int
    time: str
    category: str
    action: str
    session_id: str | None
    payload_hash: str
    prev_mac: str
    mac: str
    #: canonical payload bytes, or None when the payload was blanked
    payload: bytes | None
    v: int = VERSION
    #: where it came from, for messages ("line 17")
    where: str = ""

    def header(self, seq: int | None = None) -> dict[str, Any]:
        return {"v": self.v, "seq": self.seq if seq is None else seq, "time": self.time,
                "category": self.category, "action": self.action, "session_id": self.session_id,
                "payload_hash": self.payload_hash, "prev_mac": self.prev_mac}

    def to_json(self) -> dict[str, Any]:
        import json

        doc = self.header()
        doc["mac"] = self.mac
        doc["payload"] = None if self.payload is None else json.loads(self.payload)
        return doc
