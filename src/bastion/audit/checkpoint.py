"""Signed checkpoints kept outside the database.

The HMAC chain proves that no record in the middle was changed, but not that the tail is
still there: whoever can edit the database can cut records off the end, or put back an older
copy of the whole file, and the shorter chain still verifies. So every N records, at the end
of every session and when the log is closed, Bastion signs ``(seq, head mac, time)`` with an
Ed25519 key derived from the master key and writes it to ``audit-checkpoint.json`` beside the
key slot. Verification then insists that the log reaches that sequence number and that the
record there is the one that was signed.

A checkpoint only ever moves forward, and is never overwritten by one that contradicts it,
so the evidence of a rollback survives later runs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion import jsonsafe
from bastion.fsutil import atomic_write_json

from .canonical import canonical

FILENAME = "audit-checkpoint.json"
_DOMAIN = b"bastion-audit-checkpoint-v1\n"


class CheckpointInvalid(Exception):
    """The checkpoint file is unreadable, or not signed by this home's key."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the chain's head: its last sequence number and MAC."""

    seq: int
    mac: str
    time: str

    def message(self) -> bytes:
        return _DOMAIN + canonical({"seq": self.seq, "mac": self.mac, "time": self.time})


class CheckpointSigner:
    """Signs and checks checkpoints with the Ed25519 key derived from the master key."""

    def __init__(self, seed: bytes, path: Path) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key: Ed25519PublicKey = self._key.public_key()
        self.path = path

    def public_key_b64(self) -> str:
        raw = self.public_key.public_bytes_raw()
        return base64.b64encode(raw).decode()

    def write(self, checkpoint: Checkpoint) -> None:
        atomic_write_json(self.path, self.document(checkpoint))

    def document(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """The signed checkpoint as stored (file, keychain anchor)."""
        return {
            "version": 1,
            "seq": checkpoint.seq,
            "mac": checkpoint.mac,
            "time": checkpoint.time,
            "publicKey": self.public_key_b64(),
            "signature": base64.b64encode(self._key.sign(checkpoint.message())).decode(),
        }

    def read(self) -> Checkpoint | None:
        """The stored checkpoint, None if there is none; raises if it does not verify."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointInvalid(f"{self.path}: unreadable ({exc.strerror})") from None
        return self.parse(text, str(self.path))

    def parse(self, text: str, where: str) -> Checkpoint:
        """A stored checkpoint document, checked against this home's key."""
        try:
            doc = jsonsafe.loads(text)
            checkpoint = Checkpoint(int(doc["seq"]), str(doc["mac"]), str(doc["time"]))
            signature = base64.b64decode(doc["signature"])
            public = str(doc.get("publicKey", ""))
        except (ValueError, KeyError, TypeError):
            raise CheckpointInvalid(f"{where}: not a valid checkpoint file") from None
        if public != self.public_key_b64():
            raise CheckpointInvalid(f"{where}: signed by a different key (not this home's)")
        try:
            self.public_key.verify(signature, checkpoint.message())
        except InvalidSignature:
            raise CheckpointInvalid(f"{where}: signature does not verify (the checkpoint "
                                    "was modified)") from None
        return checkpoint
