"""The zero-knowledge object format: what the storage provider holds is only this.

Secrets (never stored anywhere but the devices' encrypted databases):

- ``space`` (32 random bytes, never rotated): keys the object *names* (HMAC-SHA-256), so a name
  says nothing about what the object is, which device wrote it or which session it holds;
- ``keys[epoch]`` (32 random bytes each): the vault key of one key epoch; every object is
  AES-256-GCM-sealed under ``HKDF(keys[epoch], "object")``. ``sync revoke`` starts a new
  epoch whose key only the remaining devices receive (X25519-wrapped, see :func:`wrap_key`).

An object is ``b"BSY1" || epoch (4 bytes, big-endian) || nonce || ciphertext || tag`` with
the object's name and kind as associated data, so a flipped byte, a truncated object or an
object copied to another name all fail authentication — and the error names the object.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import zlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bastion import jsonsafe
from bastion.errors import BastionError
from bastion.vault import DecryptionError, derive_subkey, open_sealed, seal

MAGIC = b"BSY1"
_HEADER = struct.Struct(">4sI")
KEY_BYTES = 32
PAIRING_PREFIX = "BSYNC"


class SyncIntegrityError(BastionError):
    """A stored object failed authentication, or a manifest was replayed/forked: refused."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def object_name(space: bytes, *parts: str) -> str:
    """A keyed hash: 64 hex digits that reveal nothing without the space secret."""
    return hmac.new(space, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _aad(name: str, kind: str) -> bytes:
    return f"bastion-sync/v1\x00{kind}\x00{name}".encode()


def seal_object(key: bytes, epoch: int, name: str, kind: str, doc: Any) -> bytes:
    """JSON ``doc`` compressed, then sealed; compression happens before encryption only."""
    plain = zlib.compress(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode(), 6)
    return _HEADER.pack(MAGIC, epoch) + seal(derive_subkey(key, "sync-object"), plain,
                                             _aad(name, kind))


def object_epoch(name: str, blob: bytes) -> int:
    if len(blob) < _HEADER.size or blob[:4] != MAGIC:
        raise SyncIntegrityError(f"sync object {name} is not a Bastion sync object "
                                 "(modified or foreign data); refused")
    return int(_HEADER.unpack_from(blob)[1])


def open_object(keys: dict[int, bytes], name: str, kind: str, blob: bytes) -> Any:
    """Authenticate and decode one object; any failure names the object and refuses it."""
    epoch = object_epoch(name, blob)
    key = keys.get(epoch)
    if key is None:
        raise SyncIntegrityError(f"sync object {name} uses key epoch {epoch}, which this device "
                                 "does not have (revoked, or the header was modified); refused")
    try:
        plain = open_sealed(derive_subkey(key, "sync-object"), blob[_HEADER.size:],
                            _aad(name, kind), what=f"sync object {name}")
        return jsonsafe.loads(zlib.decompress(plain))
    except DecryptionError as exc:
        raise SyncIntegrityError(f"{exc}; refused, nothing was merged") from None
    except (zlib.error, ValueError):
        raise SyncIntegrityError(f"sync object {name} decrypted but is malformed; refused") from None


# --- device keys: X25519 wrapping of epoch keys ---------------------------------------------


def new_device_key() -> tuple[bytes, bytes]:
    """(private, public) raw 32-byte X25519 keys for one device."""
    priv = X25519PrivateKey.generate()
    return (priv.private_bytes_raw(),
            priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def wrap_key(recipient_public: bytes, key: bytes, context: str) -> str:
    """Seal ``key`` so that only the holder of the recipient's private key can open it."""
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    kek = derive_subkey(shared + eph_pub + recipient_public, "sync-wrap")
    return base64.b64encode(eph_pub + seal(kek, key, context.encode())).decode()


def unwrap_key(private: bytes, wrapped: str, context: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(wrapped, validate=True)
    except ValueError:
        raise SyncIntegrityError(f"{what}: malformed key wrap; refused") from None
    priv = X25519PrivateKey.from_private_bytes(private)
    pub = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    eph_pub = raw[:32]
    try:
        shared = priv.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        kek = derive_subkey(shared + eph_pub + pub, "sync-wrap")
        return open_sealed(kek, raw[32:], context.encode(), what=what)
    except (DecryptionError, ValueError) as exc:
        raise SyncIntegrityError(f"{exc}; refused") from None


# --- pairing codes --------------------------------------------------------------------------


def new_pairing_code() -> tuple[str, bytes]:
    secret = os.urandom(20)
    text = base64.b32encode(secret).decode().rstrip("=")
    groups = [text[i:i + 4] for i in range(0, len(text), 4)]
    return f"{PAIRING_PREFIX}-" + "-".join(groups), secret


def parse_pairing_code(code: str) -> bytes:
    text = code.strip().upper().replace(" ", "")
    if not text.startswith(PAIRING_PREFIX + "-"):
        raise BastionError(f"not a pairing code: it should start with {PAIRING_PREFIX}-",
                           hint="copy the code `bastion sync init` printed on the first device")
    body = text[len(PAIRING_PREFIX) + 1:].replace("-", "")
    try:
        secret = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        secret = b""
    if len(secret) != 20:
        raise BastionError("the pairing code is mistyped (wrong length or characters)")
    return secret
