"""The device registry (one mutable object) and pairing objects.

The registry lists the devices of a sync space and carries the current epoch key wrapped for
each device that is not revoked (X25519, see :func:`.crypto.wrap_key`). Its body is sealed
under that epoch key, with the wraps bound in as associated data, so a revoked device — who
knows only older keys — can neither read nor forge a registry of a later epoch. Each device
remembers the highest registry version it saw: an older one is a replay and is refused.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from bastion import jsonsafe

from .backends import Backend
from .crypto import (
    SyncIntegrityError,
    digest,
    object_name,
    open_object,
    seal_object,
    unwrap_key,
    wrap_key,
)
from .state import Identity, SyncState

ENVELOPE = b"BSR1"
PAIRING_TTL_S = 24 * 3600.0


class SyncGone(SyncIntegrityError):
    """The registry is missing: the remote data was deleted or the location is wrong."""


@dataclass
class Registry:
    name: str
    version: int = 0
    prev: str = ""
    epoch: int = 0
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    etag: str | None = None
    hash: str = ""

    def active(self) -> list[str]:
        return sorted(d for d, info in self.devices.items() if not info.get("revoked"))


def registry_name(space: bytes) -> str:
    return object_name(space, "registry")


def _wrap_id(space: bytes, device: str) -> str:
    return object_name(space, "wrap", device)[:32]


def _kind(wraps: dict[str, str]) -> str:
    return "registry:" + digest(json.dumps(wraps, sort_keys=True).encode())


def encode_registry(ident: Identity, reg: Registry) -> bytes:
    key = ident.keys[reg.epoch]
    wraps = {_wrap_id(ident.space, d): wrap_key(bytes.fromhex(reg.devices[d]["pub"]), key,
                                                f"{reg.name}\x00{reg.epoch}")
             for d in reg.active()}
    body = {"version": reg.version, "prev": reg.prev, "epoch": reg.epoch, "devices": reg.devices}
    sealed = seal_object(key, reg.epoch, reg.name, _kind(wraps), body)
    env = {"v": 1, "wraps": wraps, "body": base64.b64encode(sealed).decode()}
    return ENVELOPE + json.dumps(env, sort_keys=True).encode()


def decode_registry(ident: Identity, name: str, data: bytes) -> tuple[Registry, bytes | None]:
    """The registry, plus a newer epoch key this device learned from its wrap (if any)."""
    try:
        if data[:4] != ENVELOPE:
            raise ValueError
        env = jsonsafe.loads(data[4:])
        wraps: dict[str, str] = env["wraps"]
        sealed = base64.b64decode(env["body"], validate=True)
    except (ValueError, KeyError, TypeError):
        raise SyncIntegrityError(f"sync object {name} (device registry) is malformed or was "
                                 "modified; refused") from None
    keys = dict(ident.keys)
    learned = None
    mine = wraps.get(_wrap_id(ident.space, ident.device_id))
    epoch = int.from_bytes(sealed[4:8], "big") if len(sealed) >= 8 else -1
    if mine is not None and epoch not in keys:
        learned = unwrap_key(ident.private_key, mine, f"{name}\x00{epoch}",
                             f"sync object {name} (key wrap for this device)")
        keys[epoch] = learned
    body = open_object(keys, name, _kind(wraps), sealed)
    reg = Registry(name, int(body["version"]), str(body["prev"]), int(body["epoch"]),
                   dict(body["devices"]), hash=digest(data))
    if reg.epoch != epoch:
        raise SyncIntegrityError(f"sync object {name}: epoch mismatch; refused")
    return reg, learned


def load_registry(backend: Backend, state: SyncState, ident: Identity) -> Registry:
    name = registry_name(ident.space)
    got = backend.get(name)
    if got is None:
        raise SyncGone(f"the sync space at {backend.description} is gone (registry object "
                       f"{name} is missing)",
                       hint="it was deleted (`bastion delete --remote` on a device?) or the "
                            "location is wrong; nothing was changed")
    data, etag = got
    reg, learned = decode_registry(ident, name, data)
    reg.etag = etag
    seen = state.seen("registry")
    if seen is not None:
        if reg.version < seen[0]:
            raise SyncIntegrityError(
                f"sync object {name} (device registry) is a replayed older version "
                f"(v{reg.version}, this device already saw v{seen[0]}); refused")
        if reg.version == seen[0] and reg.hash != seen[1]:
            raise SyncIntegrityError(f"sync object {name} (device registry) v{reg.version} "
                                     "differs from the one this device saw (forked); refused")
    if reg.epoch < ident.epoch:
        raise SyncIntegrityError(
            f"sync object {name} (device registry) uses key epoch {reg.epoch}, older than "
            f"epoch {ident.epoch} this device already has (rolled back, or forged with a "
            "revoked key); refused")
    _check_known_keys(state, reg)
    info = reg.devices.get(ident.device_id)
    if info is None or info.get("revoked"):
        raise SyncIntegrityError("this device was revoked from the sync space (or never joined); "
                                 "refusing to sync", hint="pair again with `bastion sync join`")
    if learned is not None and reg.epoch > ident.epoch:
        ident.keys[reg.epoch] = learned
        ident.epoch = reg.epoch
        state.save_keys(ident.keys, ident.epoch)
    state.mark_seen("registry", reg.version, reg.hash)
    return reg


def _check_known_keys(state: SyncState, reg: Registry) -> None:
    """Trust on first use: a device's public key never changes once seen."""
    known: dict[str, str] = state.get("known_pubs", {})
    for dev, info in reg.devices.items():
        if dev in known and known[dev] != info["pub"]:
            raise SyncIntegrityError(f"sync object {reg.name}: device {dev}'s public key "
                                     "changed; refused (possible substitution)")
        known.setdefault(dev, info["pub"])
    state.set("known_pubs", known)


def save_registry(backend: Backend, state: SyncState, ident: Identity, reg: Registry,
                  *, create: bool = False) -> None:
    """Write the next version of the registry, conditionally on what was read."""
    reg.prev, reg.version = reg.hash, reg.version + 1
    data = encode_registry(ident, reg)
    if create:
        backend.create(reg.name, data)
        reg.etag = None
    else:
        reg.etag = backend.replace(reg.name, data, reg.etag)
    reg.hash = digest(data)
    state.mark_seen("registry", reg.version, reg.hash)


# --- pairing ------------------------------------------------------------------------------


def _pairing_key(secret: bytes) -> tuple[str, bytes]:
    return object_name(secret, "pairing"), bytes.fromhex(digest(b"bastion-sync-pairing\x00" + secret))


def put_pairing(backend: Backend, ident: Identity, secret: bytes) -> str:
    name, key = _pairing_key(secret)
    doc = {"space": ident.space.hex(), "keys": {str(e): k.hex() for e, k in ident.keys.items()},
           "epoch": ident.epoch, "inviter": ident.device_id, "created": time.time()}
    backend.create(name, seal_object(key, 0, name, "pairing", doc))
    return name


def take_pairing(backend: Backend, secret: bytes) -> tuple[str, dict[str, Any]]:
    name, key = _pairing_key(secret)
    got = backend.get(name)
    if got is None:
        raise SyncIntegrityError(f"no pairing offer for this code at {backend.description}",
                                 hint="codes work once and for 24 hours; check the backend "
                                      "flags, or run `bastion sync init` on a paired device "
                                      "for a new code")
    doc = open_object({0: key}, name, "pairing", got[0])
    if time.time() - float(doc["created"]) > PAIRING_TTL_S:
        backend.delete(name)
        raise SyncIntegrityError("this pairing code has expired (older than 24 hours)",
                                 hint="run `bastion sync init` on a paired device for a new code")
    return name, doc
