"""Two (or more) "devices" in one test process: each a data directory with its own database."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.config import Settings
from bastion.store import Database, SessionStore
from bastion.sync import Backend, Engine, SyncReport, init_space, join_space, make_scrub
from bastion.sync.crypto import open_object
from bastion.sync.state import SyncState

CANARY = "CANARY-7f3a9c-do-not-leak"
API_KEY = "sk-proj-" + "Zq8" * 16


@dataclass
class Device:
    home: Path
    db: Database
    backend: Backend
    settings: Settings = field(default_factory=Settings)
    known: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, root: Path, name: str, backend: Backend, **settings: Any) -> Device:
        home = root / name
        home.mkdir(parents=True)
        db = Database(home / "bastion.db", os.urandom(32))
        return cls(home, db, backend, Settings(**settings))

    @property
    def sessions(self) -> SessionStore:
        return SessionStore(self.db)

    def sync(self) -> SyncReport:
        scrub = make_scrub(self.settings, self.known)
        return Engine(self.db, self.home, self.backend, scrub, self.sessions.delete).run()

    def conversation(self, sid: str) -> list[tuple[str, str]]:
        return [(m["role"], m["content"]) for m in self.sessions.messages(sid)]

    def session_ids(self) -> set[str]:
        return {s.id for s in self.sessions.list(10_000)}

    def epoch_keys(self) -> dict[int, bytes]:
        ident = SyncState(self.db).identity()
        assert ident is not None
        return ident.keys


def pair(root: Path, backend: Backend, *names: str, **settings: Any) -> list[Device]:
    first = Device.make(root, names[0], backend, **settings)
    code = init_space(first.db, backend, names[0]).code
    devices = [first]
    for i, name in enumerate(names[1:], start=2):
        dev = Device.make(root, name, backend, **settings)
        join_space(dev.db, backend, code, name)
        devices.append(dev)
        if i < len(names):
            code = init_space(first.db, backend).code  # codes are one-time: a new one each
    return devices


def add_session(dev: Device, title: str, texts: list[str], workspace: str = "/srv/project"
                ) -> str:
    store = dev.sessions
    sid = store.create(title=title, workspace=workspace, agent="default", provider="replay",
                       model=None)
    for i, text in enumerate(texts):
        store.add_message(sid, "user" if i % 2 == 0 else "assistant", text)
    store.start_tool_call(sid, "call-1", "read_file", {"path": f"{workspace}/notes.txt"})
    store.finish_tool_call(sid, "call-1", "ok", "file body")
    store.add_event(sid, "agent-transition", {"from": "planner", "to": "coder"})
    return sid


def decrypt_all(dev: Device, blobs: dict[str, bytes]) -> list[Any]:
    """Every object the store holds, decrypted with ``dev``'s keys (what a member can read)."""
    out = []
    for name, data in blobs.items():
        for kind in ("segment", "manifest", "page"):
            try:
                out.append(open_object(dev.epoch_keys(), name, kind, data))
                break
            except Exception:
                continue
    return out
