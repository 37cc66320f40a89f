"""Manifests: one mutable object per device listing its segments, versioned and chained.

Each manifest carries a version that only grows and the hash of the previous manifest's
bytes; this device remembers what it last saw of every other device, so a replayed older
manifest (or a fork) is refused with the object's name, never merged. Segment entries live in
the manifest's *tail* until there are ``PAGE_SIZE`` of them; then they move into an immutable,
hash-pinned *page* object, so the manifest rewritten and re-read on every sync stays small
(O(pages + tail), not O(every segment ever written)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .backends import Backend
from .crypto import SyncIntegrityError, digest, object_epoch, object_name, open_object, seal_object
from .state import Identity, SyncState

PAGE_SIZE = 64


@dataclass
class Manifest:
    device: str
    name: str
    version: int = 0
    prev: str = ""
    #: the tail: [name, session or "", seq, sha256 of the object's bytes]
    segments: list[list[Any]] = field(default_factory=list)
    #: full pages of older entries: [page object name, sha256 of its bytes, entry count]
    pages: list[list[Any]] = field(default_factory=list)
    tombstones: dict[str, float] = field(default_factory=dict)
    etag: str | None = None
    hash: str = ""
    epoch: int = 0

    def doc(self) -> dict[str, Any]:
        return {"device": self.device, "version": self.version, "prev": self.prev,
                "segments": self.segments, "pages": self.pages, "tombstones": self.tombstones}


def manifest_name(ident: Identity, device: str) -> str:
    return object_name(ident.space, "manifest", device)


def read_manifest(backend: Backend, state: SyncState, ident: Identity, device: str
                  ) -> Manifest | None:
    """Another device's manifest, checked against what this device saw before."""
    name = manifest_name(ident, device)
    got = backend.get(name)
    seen = state.seen(device)
    if got is None:
        if seen is not None:
            raise SyncIntegrityError(f"sync object {name} (manifest of device {device}) is "
                                     f"missing but v{seen[0]} was seen before; refused")
        return None
    data, etag = got
    doc = open_object(ident.keys, name, "manifest", data)
    if doc.get("device") != device:
        raise SyncIntegrityError(f"sync object {name} is not device {device}'s manifest; refused")
    m = Manifest(device, name, int(doc["version"]), str(doc["prev"]), list(doc["segments"]),
                 list(doc.get("pages", [])), dict(doc["tombstones"]), etag, digest(data),
                 object_epoch(name, data))
    if seen is not None:
        old, old_hash = seen
        if m.version < old:
            raise SyncIntegrityError(
                f"sync object {name} (manifest of device {device}) is a replayed older version "
                f"(v{m.version}; this device already saw v{old}); refused, nothing was merged")
        if m.version == old and m.hash != old_hash:
            raise SyncIntegrityError(f"sync object {name} (manifest of device {device}) "
                                     f"v{m.version} differs from the copy seen before; refused")
        if m.version == old + 1 and m.prev != old_hash:
            raise SyncIntegrityError(f"sync object {name} (manifest of device {device}) does "
                                     f"not chain to v{old} (prev hash mismatch); refused")
    return m


def read_own_manifest(backend: Backend, state: SyncState, ident: Identity) -> Manifest:
    name = manifest_name(ident, ident.device_id)
    local_version = int(state.get("manifest_version", 0))
    got = backend.get(name)
    if got is None:
        if local_version:
            raise SyncIntegrityError(f"sync object {name} (this device's manifest) is missing "
                                     f"but v{local_version} was written; refused")
        return Manifest(ident.device_id, name)
    data, etag = got
    doc = open_object(ident.keys, name, "manifest", data)
    version = int(doc["version"])
    if version != local_version or digest(data) != state.get("manifest_hash"):
        what = "a replayed older version" if version < local_version else "not the one written"
        raise SyncIntegrityError(f"sync object {name} (this device's manifest) is {what} "
                                 f"(v{version}, this device wrote v{local_version}); refused")
    return Manifest(ident.device_id, name, version, str(doc["prev"]), list(doc["segments"]),
                    list(doc.get("pages", [])), dict(doc["tombstones"]), etag, digest(data),
                    object_epoch(name, data))


def write_manifest(backend: Backend, state: SyncState, ident: Identity, m: Manifest) -> int:
    m.prev, m.version = m.hash, m.version + 1
    data = seal_object(ident.key, ident.epoch, m.name, "manifest", m.doc())
    m.etag = backend.replace(m.name, data, m.etag)
    m.hash, m.epoch = digest(data), ident.epoch
    with state.db.transaction():
        state.set("manifest_version", m.version)
        state.set("manifest_hash", m.hash)
    return len(data)


def read_page(backend: Backend, ident: Identity, device: str, entry: list[Any]) -> list[list[Any]]:
    """The segment entries of one page a manifest lists, checked against its pinned hash."""
    name, sha = str(entry[0]), str(entry[1])
    got = backend.get(name)
    if got is None:
        raise SyncIntegrityError(f"sync object {name} (a page of device {device}'s manifest) is "
                                 "missing; refused")
    if digest(got[0]) != sha:
        raise SyncIntegrityError(f"sync object {name} is not the page device {device}'s "
                                 "manifest lists (hash mismatch: replaced or modified); refused")
    doc = open_object(ident.keys, name, "page", got[0])
    if doc.get("device") != device:
        raise SyncIntegrityError(f"sync object {name} is not a page of device {device}; refused")
    return list(doc["segments"])
