"""``sync now``: verify the registry and every manifest, push local changes, pull the rest.

Per device one mutable manifest lists that device's immutable segments (one segment = one
session's changes of one sync, or the changed agent/taskforce definitions) and the session
tombstones it knows. Each manifest carries a version that only grows and the hash of the
previous manifest's bytes; this device remembers what it last saw of every other device, so
a replayed older manifest (or a fork) is refused with the object's name, never merged.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.store import Database

from .backends import Backend, SyncBackendError, SyncConflict
from .configs import apply_configs, collect_configs, record_configs
from .crypto import (
    SyncIntegrityError,
    digest,
    object_epoch,
    object_name,
    open_object,
    seal_object,
)
from .records import Scrub, apply_segment, collect, record_pushed, remember_session
from .registry import PAIRING_TTL_S, Registry, load_registry
from .state import Identity, SyncState

Progress = Callable[[int, int, str], None]
DeleteLocal = Callable[[str], None]


@dataclass
class SyncReport:
    pushed_segments: int = 0
    pulled_segments: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    tombstoned: list[str] = field(default_factory=list)
    deleted_remote: int = 0
    configs_changed: int = 0
    devices: int = 0
    #: devices whose manifest still uses a key epoch from before the last revocation
    waiting: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Manifest:
    device: str
    name: str
    version: int = 0
    prev: str = ""
    #: [name, session or "", seq, sha256 of the object's bytes]
    segments: list[list[Any]] = field(default_factory=list)
    tombstones: dict[str, float] = field(default_factory=dict)
    etag: str | None = None
    hash: str = ""
    epoch: int = 0

    def doc(self) -> dict[str, Any]:
        return {"device": self.device, "version": self.version, "prev": self.prev,
                "segments": self.segments, "tombstones": self.tombstones}


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
                 dict(doc["tombstones"]), etag, digest(data), object_epoch(name, data))
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
                    dict(doc["tombstones"]), etag, digest(data), object_epoch(name, data))


def write_manifest(backend: Backend, state: SyncState, ident: Identity, m: Manifest) -> int:
    m.prev, m.version = m.hash, m.version + 1
    data = seal_object(ident.key, ident.epoch, m.name, "manifest", m.doc())
    m.etag = backend.replace(m.name, data, m.etag)
    m.hash, m.epoch = digest(data), ident.epoch
    with state.db.transaction():
        state.set("manifest_version", m.version)
        state.set("manifest_hash", m.hash)
    return len(data)


class _Counting:
    """The backend, counting the object bytes that went up and came down."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.description = inner.description
        self.up = self.down = 0

    def get(self, name: str) -> tuple[bytes, str] | None:
        got = self.inner.get(name)
        self.down += len(got[0]) if got else 0
        return got

    def create(self, name: str, data: bytes) -> None:
        self.inner.create(name, data)
        self.up += len(data)

    def replace(self, name: str, data: bytes, etag: str | None) -> str:
        etag = self.inner.replace(name, data, etag)
        self.up += len(data)
        return etag

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def list(self) -> list[str]:
        return self.inner.list()


class Engine:
    """One sync run over an open database; the CLI wires backend, scrubbing and deletion."""

    def __init__(self, db: Database, home: Path, backend: Backend, scrub: Scrub,
                 delete_local: DeleteLocal, progress: Progress | None = None) -> None:
        self.db = db
        self.home = home
        self.backend = _Counting(backend)
        self.scrub = scrub
        self.delete_local = delete_local
        self.state = SyncState(db)
        self.progress = progress or (lambda _d, _t, _w: None)
        ident = self.state.identity()
        if ident is None:
            raise SyncIntegrityError("sync is not set up on this device",
                                     hint="run `bastion sync init --folder DIR` (or --s3 …), "
                                          "or `bastion sync join CODE`")
        self.ident = ident

    def run(self) -> SyncReport:
        """One sync; a second one on the same device at the same time is refused."""
        fd = os.open(self.home / "sync.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SyncBackendError("another sync is running on this device; try again "
                                       "when it has finished") from None
            return self._run()
        finally:
            os.close(fd)

    def _run(self) -> SyncReport:
        started, wall_start = time.monotonic(), time.time()
        report = SyncReport()
        reg = load_registry(self.backend, self.state, self.ident)
        own = read_own_manifest(self.backend, self.state, self.ident)
        others = self._others(reg, report)
        report.devices = len(reg.active())
        tombs = self._tombstones(own, others, report)
        dropped = self._push(own, tombs, report)
        self._delete_tombstoned(dropped, others, tombs, report)
        self._pull(others, tombs, report)
        self._expire_offers(report)
        self.state.set("last_sync", time.time())
        self.state.set("last_sync_started", wall_start)
        report.bytes_up, report.bytes_down = self.backend.up, self.backend.down
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def _expire_offers(self, report: SyncReport) -> None:
        """Pairing offers this device made that expired unused are deleted from the store."""
        offers: dict[str, float] = self.state.get("pairing_offers", {})
        expired = [n for n, t in offers.items() if time.time() - t > PAIRING_TTL_S]
        for name in expired:
            self.backend.delete(name)
            report.deleted_remote += 1
        if expired:
            self.state.set("pairing_offers", {n: t for n, t in offers.items() if n not in expired})

    def _others(self, reg: Registry, report: SyncReport) -> list[Manifest]:
        """The active devices' manifests. One still sealed under a key epoch older than the
        registry's is not read yet: after a revocation only the revoked device could have
        written it, or its owner has not synced since (it will re-seal it on its next sync)."""
        out = []
        for dev in reg.active():
            if dev == self.ident.device_id:
                continue
            m = read_manifest(self.backend, self.state, self.ident, dev)
            if m is not None and m.epoch < reg.epoch:
                report.waiting.append(dev)
            elif m is not None:
                out.append(m)
        return out

    def _tombstones(self, own: Manifest, others: list[Manifest], report: SyncReport
                    ) -> dict[str, float]:
        local = self.state.tombstones()
        remote: dict[str, float] = {}
        for m in (own, *others):
            remote.update(m.tombstones)
        existing = {r["id"] for r in self.db.query("SELECT id FROM sessions")}
        for sid, when in remote.items():
            if sid not in local:
                if sid in existing:
                    self.delete_local(sid)
                    report.tombstoned.append(sid)
                self.state.add_tombstone(sid, when)
        # sessions synced before but deleted here since: this device's own deletions
        for r in self.db.query("SELECT s.session_id FROM sync_sessions s LEFT JOIN sessions x "
                               "ON x.id = s.session_id WHERE x.id IS NULL"):
            self.state.add_tombstone(r["session_id"], time.time())
            report.tombstoned.append(r["session_id"])
        return self.state.tombstones()

    def _next_seq(self) -> int:
        seq = int(self.state.get("next_seq", 1))
        self.state.set("next_seq", seq + 1)  # persisted before use: a name is never reused
        return seq

    def _put_segment(self, doc: dict[str, Any], session: str, own: Manifest,
                     report: SyncReport) -> None:
        for attempt in range(5):
            seq = self._next_seq()
            name = object_name(self.ident.space, "segment", self.ident.device_id, str(seq))
            data = seal_object(self.ident.key, self.ident.epoch, name, "segment", doc)
            try:
                self.backend.create(name, data)
                break
            except SyncConflict:  # a name squatted by someone else: never overwrite, move on
                if attempt == 4:
                    raise
        own.segments.append([name, session, seq, digest(data)])
        report.pushed_segments += 1

    def _push(self, own: Manifest, tombs: dict[str, float], report: SyncReport) -> list[str]:
        """Upload new segments and the next manifest; returns our segments it no longer lists."""
        since = float(self.state.get("last_sync_started", 0.0))
        docs, book = collect(self.db, self.state, self.scrub, since)
        configs = collect_configs(self.home, self.db, self.scrub)
        total = len(docs) + (1 if configs else 0)
        for i, (sid, doc) in enumerate(sorted(docs.items())):
            self._put_segment(doc, sid, own, report)
            self.progress(i + 1, total, "pushing")
        if configs:
            records = [{k: v for k, v in c.items() if k != "local_sha"} for c in configs]
            self._put_segment({"kind": "config", "configs": records}, "", own, report)
        changed_tombs = {s: t for s, t in tombs.items() if s not in own.tombstones}
        dropped = [s[0] for s in own.segments if s[1] and s[1] in tombs]
        own.segments = [s for s in own.segments if not (s[1] and s[1] in tombs)]
        if total or changed_tombs or dropped or own.version == 0 or own.epoch < self.ident.epoch:
            own.tombstones.update(tombs)
            write_manifest(self.backend, self.state, self.ident, own)
        record_pushed(self.db, self.state, book)
        with self.db.transaction():
            record_configs(self.db, configs)
        return dropped

    def _delete_tombstoned(self, dropped: list[str], others: list[Manifest],
                           tombs: dict[str, float], report: SyncReport) -> None:
        """Remote objects of deleted sessions: ours (already out of our manifest) and the
        other devices' (they drop them from their manifests on their next sync)."""
        names = dropped + [s[0] for m in others for s in m.segments if s[1] and s[1] in tombs]
        for name in names:
            if not self.state.applied("deleted:" + name):
                self.backend.delete(name)
                self.state.mark_applied("deleted:" + name)
                report.deleted_remote += 1

    def _pull(self, others: list[Manifest], tombs: dict[str, float], report: SyncReport) -> None:
        applied = {r["name"] for r in self.db.query("SELECT name FROM sync_applied")}
        todo = [(m, s) for m in others for s in m.segments
                if not (s[1] and s[1] in tombs) and s[0] not in applied]
        configs: list[dict[str, Any]] = []
        for i, (m, (name, _session, _seq, sha)) in enumerate(todo):
            got = self.backend.get(name)
            if got is None:
                raise SyncIntegrityError(f"sync object {name} listed in device {m.device}'s "
                                         "manifest is missing; refused (run `sync now` again "
                                         "if that device is deleting a session right now)")
            if digest(got[0]) != sha:
                raise SyncIntegrityError(f"sync object {name} is not the object device "
                                         f"{m.device}'s manifest lists (hash mismatch: replaced "
                                         "or modified); refused, nothing was merged")
            doc = open_object(self.ident.keys, name, "segment", got[0])
            if doc.get("kind") == "config":
                configs.extend(doc.get("configs") or [])
            else:
                apply_segment(self.db, doc)
                remember_session(self.db, str(doc["session"]), self.scrub)
            self.state.mark_applied(name)
            report.pulled_segments += 1
            self.progress(i + 1, len(todo), "pulling")
        for m in others:
            self.state.mark_seen(m.device, m.version, m.hash)
        if configs:
            report.configs_changed = apply_configs(self.home, self.db, configs)
