"""Sync through a plain folder: merging, deletion, tampering, replay, revocation, secrecy.

Verdicts are read from outside the engine: the bytes in the folder, the devices' databases.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bastion.sync import (
    FolderBackend,
    SyncIntegrityError,
    delete_remote,
    devices,
    init_space,
    join_space,
    revoke_device,
)
from bastion.sync.crypto import object_epoch
from bastion.vault import ApiKeyStore
from sync.sync_helpers import API_KEY, CANARY, Device, add_session, decrypt_all, pair


def _blobs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if re.fullmatch("[0-9a-f]{64}", p.name)}


@pytest.fixture
def store(tmp_path: Path) -> FolderBackend:
    return FolderBackend(tmp_path / "remote")


def test_sessions_from_two_devices_appear_on_both(tmp_path: Path, store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "laptop", "desktop")
    s1 = add_session(a, "on laptop", ["hello from a", "answer a"])
    s2 = add_session(b, "on desktop", ["hello from b", "answer b"])
    a.sync()
    b.sync()
    a.sync()
    assert a.session_ids() == b.session_ids() == {s1, s2}
    for sid in (s1, s2):
        assert a.conversation(sid) == b.conversation(sid)
        assert a.sessions.tool_calls(sid)[0]["name"] == b.sessions.tool_calls(sid)[0]["name"]
        assert [e["data"] for e in a.sessions.events(sid)] == \
            [e["data"] for e in b.sessions.events(sid)]
    assert b.sessions.resolve(s1).title == "on laptop"
    # nothing changed: a second round moves nothing
    assert a.sync().pushed_segments == 0
    assert b.sync().pulled_segments == 0


def test_concurrent_appends_are_both_kept_in_one_order(tmp_path: Path,
                                                       store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "a", "b")
    sid = add_session(a, "shared", ["start"])
    a.sync()
    b.sync()
    a.sessions.add_message(sid, "user", "appended on a")
    b.sessions.add_message(sid, "user", "appended on b")
    b.sessions.add_message(sid, "assistant", "second on b")
    a.sync()
    b.sync()
    a.sync()
    conv = a.conversation(sid)
    assert conv == b.conversation(sid)
    texts = [t for _, t in conv]
    assert texts.count("appended on a") == 1 and texts.count("appended on b") == 1
    assert texts.index("appended on b") < texts.index("second on b")
    assert a.sync().pushed_segments == 0 and b.sync().pushed_segments == 0


def test_deletion_propagates_and_removes_remote_objects(tmp_path: Path,
                                                        store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "a", "b")
    keep = add_session(a, "keep", ["keep me"])
    gone = add_session(a, "gone", ["delete me please"])
    a.sync()
    b.sync()
    b.sessions.add_message(gone, "user", "b also wrote here")
    b.sync()
    a.sessions.delete(gone)
    report = a.sync()
    assert gone in report.tombstoned and report.deleted_remote >= 2
    b.sync()
    assert b.session_ids() == {keep}
    a.sync()
    docs = decrypt_all(a, _blobs(store.folder))
    assert not [d for d in docs if d.get("session") == gone]
    assert all(gone not in [s[1] for s in d.get("segments", [])] for d in docs)
    # a tombstoned session is never resurrected by a device that still had it
    assert gone not in a.session_ids()


def test_store_bytes_reveal_no_content(tmp_path: Path, store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "secret-laptop-name", "b")
    ApiKeyStore(a.db, b"k" * 32).set("openai", API_KEY)
    a.known = [API_KEY]
    sid = add_session(a, f"title {CANARY}", [f"message {CANARY}", f"key is {API_KEY}"],
                      workspace="/home/alice/projects/topsecret")
    a.sync()
    b.sync()
    raw = b"".join(_blobs(store.folder).values())
    for needle in (CANARY, "topsecret", "/home/alice", "read_file", "agent-transition", sid,
                   "secret-laptop-name", API_KEY, "zq8zq8"):
        assert needle.encode() not in raw
        assert needle.encode().lower() not in raw.lower()
    # decrypted, a member sees the conversation — but never the stored API key
    plain = json.dumps(decrypt_all(b, _blobs(store.folder)))
    assert CANARY in plain
    assert API_KEY not in plain and "Zq8Zq8Zq8" not in plain
    assert all(API_KEY not in t for _, t in b.conversation(sid))


def test_security_mode_syncs_paths_scrubbed(tmp_path: Path, store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "a", "b", security_mode=True)
    sid = add_session(a, "t", ["see /home/alice/projects/topsecret/plan.md and /etc/shadow"],
                      workspace="/home/alice/projects/topsecret")
    a.sync()
    b.sync()
    plain = json.dumps(decrypt_all(b, _blobs(store.folder)))
    assert "/home/alice" not in plain and "/etc/shadow" not in plain
    assert "plan.md" in b.conversation(sid)[0][1]


@pytest.mark.parametrize("position", ["header", "middle", "tag"])
def test_a_flipped_byte_in_any_object_is_refused_by_name(tmp_path: Path, store: FolderBackend,
                                                         position: str) -> None:
    a, b = pair(tmp_path, store, "a", "b")
    add_session(a, "t", ["one", "two"])
    a.sync()
    names = sorted(_blobs(store.folder))
    before = b.session_ids()
    for name in names:
        path = store.folder / name
        original = path.read_bytes()
        i = {"header": 5, "middle": len(original) // 2, "tag": len(original) - 1}[position]
        tampered = bytearray(original)
        tampered[i] ^= 0x01
        path.write_bytes(bytes(tampered))
        with pytest.raises(SyncIntegrityError) as info:
            b.sync()
        assert name in str(info.value)
        path.write_bytes(original)
    assert b.session_ids() == before  # nothing was merged from a refused object
    b.sync()
    assert len(b.session_ids()) == 1


def test_replayed_older_manifest_is_refused_by_name(tmp_path: Path, store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "a", "b")
    add_session(a, "first", ["one"])
    a.sync()
    old = _blobs(store.folder)
    add_session(a, "second", ["two"])
    a.sync()
    b.sync()
    changed = [n for n, data in _blobs(store.folder).items() if n in old and old[n] != data]
    assert changed  # a's manifest (and nothing immutable) changed
    for name in changed:
        current = (store.folder / name).read_bytes()
        (store.folder / name).write_bytes(old[name])
        with pytest.raises(SyncIntegrityError) as info:
            b.sync()
        assert name in str(info.value)
        assert "replayed" in str(info.value) or "differs" in str(info.value)
        # the writer itself also notices its manifest was rolled back
        with pytest.raises(SyncIntegrityError):
            a.sync()
        (store.folder / name).write_bytes(current)
    b.sync()


def test_revoked_device_gets_no_new_key(tmp_path: Path, store: FolderBackend) -> None:
    a, b, c = pair(tmp_path, store, "a", "b", "c")
    for d in (a, b, c):
        d.sync()
    c_id = next(d["id"] for d in devices(a.db, store) if d["name"] == "c")
    assert revoke_device(a.db, store, c_id) == 1
    sid = add_session(a, "after revoke", ["new secret stuff"])
    a.sync()
    b.sync()
    assert sid in b.session_ids()
    assert 1 in b.epoch_keys()
    with pytest.raises(SyncIntegrityError, match="revoked"):
        c.sync()
    assert 1 not in c.epoch_keys()
    new = [n for n, data in _blobs(store.folder).items()
           if data[:4] == b"BSY1" and object_epoch(n, data) == 1]
    assert new
    listing = {d["name"]: d["revoked"] for d in devices(b.db, store)}
    assert listing == {"a": False, "b": False, "c": True}


def test_pairing_code_works_once(tmp_path: Path, store: FolderBackend) -> None:
    a = Device.make(tmp_path, "a", store)
    pairing = init_space(a.db, store, "a")
    code = pairing.code
    assert pairing.conditional_writes and pairing.created_space
    b = Device.make(tmp_path, "b", store)
    join_space(b.db, store, code, "b")
    c = Device.make(tmp_path, "c", store)
    with pytest.raises(SyncIntegrityError, match="no pairing offer"):
        join_space(c.db, store, code, "c")


def test_init_refuses_a_non_empty_location(tmp_path: Path, store: FolderBackend) -> None:
    pair(tmp_path, store, "a")
    other = Device.make(tmp_path, "other", store)
    with pytest.raises(Exception, match="not empty"):
        init_space(other.db, store)


def test_agent_definitions_sync(tmp_path: Path, store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "a", "b")
    (a.home / "agents").mkdir()
    (a.home / "agents" / "reviewer.yaml").write_text("name: reviewer\ntools: [read_file]\n")
    a.sync()
    b.sync()
    assert (b.home / "agents" / "reviewer.yaml").read_text() == \
        "name: reviewer\ntools: [read_file]\n"


def test_delete_remote_leaves_nothing_and_forgets_the_key(tmp_path: Path,
                                                          store: FolderBackend) -> None:
    a, b = pair(tmp_path, store, "a", "b")
    add_session(a, "t", ["x"])
    a.sync()
    b.sync()
    deleted, left = delete_remote(a.db, store)
    assert deleted > 3 and left == 0
    assert list(store.folder.iterdir()) == []
    assert a.db.query("SELECT count(*) FROM sync_config")[0][0] == 0
    with pytest.raises(SyncIntegrityError, match="gone"):
        b.sync()


def test_a_push_retried_after_a_crash_imports_nothing_twice(
        tmp_path: Path, store: FolderBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    import bastion.sync.engine as engine

    a, b = pair(tmp_path, store, "a", "b")
    sid = add_session(a, "t", ["one", "two", "three"])

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt  # the manifest is written, the bookkeeping is not

    monkeypatch.setattr(engine, "record_pushed", crash)
    with pytest.raises(KeyboardInterrupt):
        a.sync()
    monkeypatch.undo()
    a.sync()
    b.sync()
    assert b.conversation(sid) == a.conversation(sid)
    assert len(b.conversation(sid)) == 3


def test_a_revoked_device_cannot_forge_with_its_old_key(tmp_path: Path,
                                                        store: FolderBackend) -> None:
    from bastion.sync.crypto import seal_object
    from bastion.sync.manifest import manifest_name
    from bastion.sync.registry import decode_registry, encode_registry, registry_name
    from bastion.sync.state import SyncState

    a, b, c = pair(tmp_path, store, "a", "b", "c")
    for d in (a, b, c):
        d.sync()
    ic, ia = SyncState(c.db).identity(), SyncState(a.db).identity()
    assert ic is not None and ia is not None
    reg_name, b_manifest = registry_name(ic.space), manifest_name(ic, _dev_id(b))
    old_registry = (store.folder / reg_name).read_bytes()
    revoke_device(a.db, store, _dev_id(c))
    a.sync()
    b.sync()

    # c re-signs the old-epoch registry with a higher version, itself un-revoked
    reg, _ = decode_registry(ic, reg_name, old_registry)
    reg.version = 99
    current = (store.folder / reg_name).read_bytes()
    (store.folder / reg_name).write_bytes(encode_registry(ic, reg))
    with pytest.raises(SyncIntegrityError) as info:
        a.sync()
    assert reg_name in str(info.value) and "epoch" in str(info.value)
    (store.folder / reg_name).write_bytes(current)

    # c forges b's manifest under the old key, pointing at a segment of its own making
    seg = "cd" * 32
    (store.folder / seg).write_bytes(seal_object(ic.keys[0], 0, seg, "segment", {
        "kind": "session", "session": "forged00001", "meta": None, "tool_calls": [],
        "events": [], "messages": [{"uid": "x", "role": "user", "content": "injected",
                                    "created_at": 1.0}]}))
    (store.folder / b_manifest).write_bytes(seal_object(ic.keys[0], 0, b_manifest, "manifest", {
        "device": _dev_id(b), "version": 99, "prev": "", "tombstones": {},
        "segments": [[seg, "forged00001", 1, "00"]]}))
    report = a.sync()
    assert _dev_id(b) in report.waiting
    assert "forged00001" not in a.session_ids()


def test_a_replaced_segment_is_refused_even_if_validly_sealed(tmp_path: Path,
                                                              store: FolderBackend) -> None:
    from bastion.sync.crypto import seal_object

    a, b = pair(tmp_path, store, "a", "b")
    a.sync()
    before = set(_blobs(store.folder))
    add_session(a, "t", ["real"])
    a.sync()
    ia = a.epoch_keys()
    new = set(_blobs(store.folder)) - before
    assert len(new) == 1  # the new segment (a's manifest existed already)
    name = new.pop()
    blob = (store.folder / name).read_bytes()
    fake = {"kind": "session", "session": "fake", "meta": None, "messages": [], "events": [],
            "tool_calls": []}
    (store.folder / name).write_bytes(seal_object(ia[0], 0, name, "segment", fake))
    with pytest.raises(SyncIntegrityError, match="hash mismatch") as info:
        b.sync()
    assert name in str(info.value)
    (store.folder / name).write_bytes(blob)
    b.sync()
    assert "fake" not in b.session_ids()


def _dev_id(dev: Device) -> str:
    from bastion.sync.state import SyncState

    ident = SyncState(dev.db).identity()
    assert ident is not None
    return ident.device_id


def test_an_unused_pairing_offer_is_deleted_once_expired(tmp_path: Path,
                                                         store: FolderBackend) -> None:
    from bastion.sync.state import SyncState

    a = Device.make(tmp_path, "a", store)
    code = init_space(a.db, store, "a").code
    a.sync()
    count = len(_blobs(store.folder))
    state = SyncState(a.db)
    state.set("pairing_offers", dict.fromkeys(state.get("pairing_offers"), 0.0))
    assert a.sync().deleted_remote == 1
    assert len(_blobs(store.folder)) == count - 1
    with pytest.raises(SyncIntegrityError, match="no pairing offer"):
        join_space(Device.make(tmp_path, "late", store).db, store, code)


def test_a_second_sync_on_the_same_device_at_once_is_refused(tmp_path: Path,
                                                             store: FolderBackend) -> None:
    import fcntl
    import os

    from bastion.sync import SyncBackendError

    (a,) = pair(tmp_path, store, "a")
    fd = os.open(a.home / "sync.lock", os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running `sync now` holds it
        with pytest.raises(SyncBackendError, match="another sync"):
            a.sync()
    finally:
        os.close(fd)
    a.sync()


def test_full_tails_become_hash_pinned_pages(tmp_path: Path, store: FolderBackend,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import bastion.sync.engine as engine
    from bastion.sync.manifest import manifest_name, read_own_manifest
    from bastion.sync.state import SyncState

    monkeypatch.setattr(engine, "PAGE_SIZE", 2)
    a, b = pair(tmp_path, store, "a", "b")
    first = [add_session(a, f"s{i}", [f"text {i}"]) for i in range(5)]
    a.sync()
    ia = SyncState(a.db).identity()
    assert ia is not None
    own = read_own_manifest(store, SyncState(a.db), ia)
    assert len(own.pages) == 2 and len(own.segments) == 1  # the manifest stays small
    b.sync()
    assert b.session_ids() == set(first)

    # a page b has not read yet: a flipped byte in it is refused by name
    before = set(_blobs(store.folder))
    more = [add_session(a, f"t{i}", [f"more {i}"]) for i in range(2)]
    a.sync()
    pages = [p[0] for p in read_own_manifest(store, SyncState(a.db), ia).pages]
    page = next(p for p in pages if p in set(_blobs(store.folder)) - before)
    original = (store.folder / page).read_bytes()
    (store.folder / page).write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(SyncIntegrityError) as info:
        b.sync()
    assert page in str(info.value)
    (store.folder / page).write_bytes(original)
    b.sync()
    assert b.session_ids() == set(first) | set(more)

    # deleting a session whose segment sits in an (immutable) page still removes its object
    a.sessions.delete(first[0])
    a.sync()
    b.sync()
    assert first[0] not in b.session_ids()
    docs = decrypt_all(b, _blobs(store.folder))
    assert not [d for d in docs if d.get("session") == first[0]]
    assert manifest_name(ia, ia.device_id) in _blobs(store.folder)


def test_recovery_works_until_the_next_revocation(tmp_path: Path, store: FolderBackend) -> None:
    from bastion.sync import SyncSetupError, recover_space, recovery_document

    a, b = pair(tmp_path, store, "a", "b")
    sid = add_session(a, "t", ["remember me"])
    a.sync()
    doc = recovery_document(a.db, {"backend": "folder"})
    c = Device.make(tmp_path, "c", store)
    recover_space(c.db, store, doc, "c")
    c.sync()
    assert sid in c.session_ids()
    revoke_device(a.db, store, _dev_id(b))
    with pytest.raises(SyncSetupError, match="cannot open the sync space"):
        recover_space(Device.make(tmp_path, "d", store).db, store, doc, "d")
