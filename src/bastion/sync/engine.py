"""``sync now``: verify the registry and every manifest, push local changes, pull the rest.

Per device one mutable manifest (see :mod:`.manifest`) lists that device's immutable segments
(one segment = one session's changes of one sync, or the changed agent/taskforce definitions)
and the session tombstones it knows.
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

from .backends import Backend, CountingBackend, SyncBackendError, SyncConflict
from .configs import apply_configs, collect_configs, record_configs
from .crypto import SyncIntegrityError, digest, object_name, open_object, seal_object
from .manifest import (
    PAGE_SIZE,
    Manifest,
    read_manifest,
    read_own_manifest,
    read_page,
    write_manifest,
)
from .records import Scrub, apply_segment, collect, record_pushed, remember_session
from .registry import PAIRING_TTL_S, Registry, load_registry
from .state import SyncState

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


class Engine:
    """One sync run over an open database; the CLI wires backend, scrubbing and deletion."""

    def __init__(self, db: Database, home: Path, backend: Backend, scrub: Scrub,
                 delete_local: DeleteLocal, progress: Progress | None = None) -> None:
        self.db = db
        self.home = home
        self.backend = CountingBackend(backend)
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
        self.state.index(self.ident.device_id, own.segments)
        others = self._others(reg, report)
        report.devices = len(reg.active())
        tombs = self._tombstones(own, others, report)
        self._push(own, tombs, report)
        self._pull(others, tombs, report)
        self._delete_tombstoned(report)
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

    def _create(self, kind: str, doc: dict[str, Any]) -> tuple[str, int, bytes]:
        """A new immutable object under a fresh name (sequence numbers are never reused)."""
        for attempt in range(5):
            seq = self._next_seq()
            name = object_name(self.ident.space, kind, self.ident.device_id, str(seq))
            data = seal_object(self.ident.key, self.ident.epoch, name, kind, doc)
            try:
                self.backend.create(name, data)
                return name, seq, data
            except SyncConflict:  # a name squatted by someone else: never overwrite, move on
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _put_segment(self, doc: dict[str, Any], session: str, own: Manifest,
                     report: SyncReport) -> None:
        name, seq, data = self._create("segment", doc)
        own.segments.append([name, session, seq, digest(data)])
        self.state.index(self.ident.device_id, [own.segments[-1]])
        report.pushed_segments += 1
        if len(own.segments) >= PAGE_SIZE:  # the tail is full: it becomes an immutable page
            page, _seq, data = self._create("page", {"device": self.ident.device_id,
                                                     "segments": own.segments})
            own.pages.append([page, digest(data), len(own.segments)])
            own.segments = []

    def _push(self, own: Manifest, tombs: dict[str, float], report: SyncReport) -> None:
        """Upload new segments (pages when the tail is full) and the next manifest."""
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
        tail = len(own.segments)
        own.segments = [s for s in own.segments if not (s[1] and s[1] in tombs)]
        if (total or changed_tombs or tail != len(own.segments) or own.version == 0
                or own.epoch < self.ident.epoch):
            own.tombstones.update(tombs)
            write_manifest(self.backend, self.state, self.ident, own)
        record_pushed(self.db, self.state, book)
        with self.db.transaction():
            record_configs(self.db, configs)

    def _delete_tombstoned(self, report: SyncReport) -> None:
        """Remote objects of deleted sessions, every device's (found through the local index
        of manifest entries; pages keep listing them, readers skip tombstoned sessions)."""
        for name in self.state.tombstoned_objects():
            self.backend.delete(name)
            self.state.mark_applied("deleted:" + name)
            report.deleted_remote += 1

    def _entries(self, m: Manifest, applied: set[str]) -> tuple[list[list[Any]], list[str]]:
        """A manifest's entries not looked at yet: its tail, plus every page not seen before."""
        entries = list(m.segments)
        pages = [p for p in m.pages if "page:" + str(p[0]) not in applied]
        for page in pages:
            entries.extend(read_page(self.backend, self.ident, m.device, page))
        self.state.index(m.device, entries)
        return entries, ["page:" + str(p[0]) for p in pages]

    def _pull(self, others: list[Manifest], tombs: dict[str, float], report: SyncReport) -> None:
        applied = {r["name"] for r in self.db.query("SELECT name FROM sync_applied")}
        todo: list[tuple[Manifest, list[Any]]] = []
        pages_done: list[str] = []
        for m in others:
            entries, pages = self._entries(m, applied)
            pages_done += pages
            todo += [(m, s) for s in entries
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
        for page in pages_done:
            self.state.mark_applied(page)
        for m in others:
            self.state.mark_seen(m.device, m.version, m.hash)
        if configs:
            report.configs_changed = apply_configs(self.home, self.db, configs)
