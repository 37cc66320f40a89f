"""Setting a sync space up and tearing it down: init, pairing, join, revoke, delete remote."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bastion import jsonsafe
from bastion.errors import BastionError
from bastion.store import Database

from .backends import Backend, FolderBackend, SyncBackendError, SyncConflict
from .crypto import (
    SyncIntegrityError,
    new_device_key,
    new_key,
    new_pairing_code,
    object_name,
    parse_pairing_code,
)
from .registry import (
    Registry,
    SyncGone,
    load_registry,
    put_pairing,
    registry_name,
    save_registry,
    take_pairing,
)
from .state import Identity, SyncState


class SyncSetupError(BastionError):
    """Sync is (or is not) set up in a way that makes the request impossible."""


@dataclass
class Pairing:
    code: str
    device_id: str
    created_space: bool
    #: False when the store accepted a second create-only write of the same name (it ignores
    #: If-None-Match): concurrent devices could then overwrite each other's updates
    conditional_writes: bool = True


def probe_conditional_writes(backend: Backend, space: bytes) -> bool:
    name = object_name(space, "probe", os.urandom(8).hex())
    backend.create(name, b"probe")
    try:
        backend.create(name, b"probe again")
    except SyncConflict:
        return True
    finally:
        backend.delete(name)
    return False


def _device(name: str | None) -> tuple[str, str, bytes, bytes]:
    import socket

    priv, pub = new_device_key()
    return uuid.uuid4().hex[:12], (name or socket.gethostname() or "device")[:64], priv, pub


def _entry(name: str, pub: bytes) -> dict[str, Any]:
    return {"name": name, "pub": pub.hex(), "added": time.time(), "revoked": False}


def init_space(db: Database, backend: Backend, device_name: str | None = None) -> Pairing:
    """Create a sync space on an empty location (first device), or — on a device already in a
    space — issue a new one-time pairing code for another device."""
    state = SyncState(db)
    ident = state.identity()
    if ident is not None:
        load_registry(backend, state, ident)  # proves the location is this space
        return Pairing(_new_code(backend, state, ident), ident.device_id, False)
    dev, name, priv, pub = _device(device_name)
    ident = Identity(dev, name, priv, new_key(), {0: new_key()}, 0)
    reg = Registry(registry_name(ident.space), devices={dev: _entry(name, pub)})
    if backend.list():
        raise SyncSetupError(f"{backend.description} is not empty; refusing to create a sync "
                             "space over existing data",
                             hint="join an existing space with `bastion sync join CODE`, or "
                                  "choose an empty folder, bucket prefix or --prefix")
    conditional = probe_conditional_writes(backend, ident.space)
    with db.transaction():
        state.save_identity(ident)
        save_registry(backend, state, ident, reg, create=True)
    return Pairing(_new_code(backend, state, ident), dev, True, conditional)


def _new_code(backend: Backend, state: SyncState, ident: Identity) -> str:
    code, secret = new_pairing_code()
    name = put_pairing(backend, ident, secret)
    # remembered so `sync now` can delete the offer once it expired unused
    state.set("pairing_offers", {**state.get("pairing_offers", {}), name: time.time()})
    return code


def join_space(db: Database, backend: Backend, code: str, device_name: str | None = None
               ) -> Identity:
    state = SyncState(db)
    if state.configured:
        raise SyncSetupError("this device already syncs",
                             hint="`bastion delete --remote` or a fresh data directory first")
    secret = parse_pairing_code(code)
    pairing_name, offer = take_pairing(backend, secret)
    dev, name, priv, pub = _device(device_name)
    keys = {int(e): bytes.fromhex(k) for e, k in offer["keys"].items()}
    ident = Identity(dev, name, priv, bytes.fromhex(offer["space"]), keys, int(offer["epoch"]))
    # read the registry as the inviter saw it (no wrap for us yet), then add ourselves
    guest = Identity("", "", b"\x00" * 32, ident.space, keys, ident.epoch)
    with db.transaction():
        reg = _load_as_guest(backend, state, guest)
        if reg.epoch != ident.epoch:
            raise SyncSetupError("the sync space rotated its key after this code was made",
                                 hint="ask a paired device for a new code (`bastion sync init`)")
        reg.devices[dev] = _entry(name, pub)
        state.save_identity(ident)
        save_registry(backend, state, ident, reg)
    backend.delete(pairing_name)  # one-time
    return ident


def _load_as_guest(backend: Backend, state: SyncState, guest: Identity) -> Registry:
    from .registry import _check_known_keys, decode_registry

    name = registry_name(guest.space)
    got = backend.get(name)
    if got is None:
        raise SyncGone(f"no sync space at {backend.description} (registry {name} missing)")
    reg, _ = decode_registry(guest, name, got[0])
    reg.etag = got[1]
    _check_known_keys(state, reg)
    return reg


def devices(db: Database, backend: Backend) -> list[dict[str, Any]]:
    state = SyncState(db)
    ident = _need(state)
    reg = load_registry(backend, state, ident)
    return [{"id": d, "name": i["name"], "added": i["added"], "revoked": bool(i.get("revoked")),
             "this_device": d == ident.device_id}
            for d, i in sorted(reg.devices.items(), key=lambda kv: kv[1]["added"])]


def revoke_device(db: Database, backend: Backend, device: str) -> int:
    """Revoke ``device`` (id, unique id prefix or name) and start a new key epoch that only
    the remaining devices receive; returns the new epoch."""
    state = SyncState(db)
    ident = _need(state)
    reg = load_registry(backend, state, ident)
    matches = [d for d, i in reg.devices.items()
               if (d == device or d.startswith(device) or i["name"] == device)
               and not i.get("revoked")]
    if len(matches) != 1:
        raise SyncSetupError(f"{'no' if not matches else 'more than one'} active device "
                             f"matches {device!r}", hint="`bastion sync devices` lists them")
    if matches[0] == ident.device_id:
        raise SyncSetupError("a device cannot revoke itself",
                             hint="use `bastion delete --remote` to leave and delete everything")
    reg.devices[matches[0]].update(revoked=True, revoked_at=time.time())
    ident.keys[reg.epoch + 1] = new_key()
    ident.epoch = reg.epoch = reg.epoch + 1
    with db.transaction():
        state.save_keys(ident.keys, ident.epoch)
        save_registry(backend, state, ident, reg)
    return ident.epoch


def delete_remote(db: Database, backend: Backend) -> tuple[int, int]:
    """Delete every object under the location, verify it is empty, forget the vault keys.

    Returns (objects deleted, objects left — always 0 or this raises)."""
    names = backend.list()
    for name in names:
        backend.delete(name)
    left = backend.list()
    if left:
        raise SyncBackendError(f"{len(left)} object(s) are still at {backend.description} after "
                               "deleting; the vault key was kept so you can retry")
    if isinstance(backend, FolderBackend):
        backend.remove_leftovers()
    SyncState(db).forget()
    return len(names), 0


def status(db: Database) -> dict[str, Any]:
    state = SyncState(db)
    ident = state.identity()
    if ident is None:
        return {"configured": False}
    return {"configured": True, "device_id": ident.device_id, "device_name": ident.device_name,
            "key_epoch": ident.epoch, "last_sync": state.get("last_sync"),
            "manifest_version": state.get("manifest_version", 0),
            "tombstones": len(state.tombstones())}


def recovery_document(db: Database, backend_settings: dict[str, Any]) -> bytes:
    """What a passphrase-encrypted recovery file holds: the space secret and every epoch key
    (enough to pair a new device if every device is lost), plus where the data lives."""
    ident = _need(SyncState(db))
    return json.dumps({"format": "bastion-sync-recovery", "version": 1,
                       "space": ident.space.hex(), "epoch": ident.epoch,
                       "keys": {str(e): k.hex() for e, k in ident.keys.items()},
                       "backend": backend_settings}).encode()


def recover_space(db: Database, backend: Backend, document: bytes,
                  device_name: str | None = None) -> Identity:
    """Join with a recovery file instead of a pairing code (no other device needed)."""
    state = SyncState(db)
    if state.configured:
        raise SyncSetupError("this device already syncs")
    try:
        doc = jsonsafe.loads(document)
        keys = {int(e): bytes.fromhex(k) for e, k in doc["keys"].items()}
        space = bytes.fromhex(doc["space"])
    except (ValueError, KeyError, TypeError):
        raise SyncSetupError("not a Bastion sync recovery file") from None
    guest = Identity("", "", b"\x00" * 32, space, keys, int(doc["epoch"]))
    try:
        reg = _load_as_guest(backend, state, guest)
    except SyncGone:
        raise
    except SyncIntegrityError as exc:
        raise SyncSetupError(f"this recovery file cannot open the sync space ({exc.message})",
                             hint="a recovery file made before the last `sync revoke` no longer "
                                  "works; use a pairing code from a paired device") from None
    dev, name, priv, pub = _device(device_name)
    ident = Identity(dev, name, priv, space, keys, reg.epoch)
    reg.devices[dev] = _entry(name, pub)
    with db.transaction():
        state.save_identity(ident)
        save_registry(backend, state, ident, reg)
    return ident


def _need(state: SyncState) -> Identity:
    ident = state.identity()
    if ident is None:
        raise SyncSetupError("sync is not set up on this device",
                             hint="`bastion sync init --folder DIR` or `bastion sync join CODE`")
    return ident

