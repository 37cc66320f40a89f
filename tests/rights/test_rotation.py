"""`bastion keys rotate`: a new master key, everything re-encrypted, crash-safe at any point."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bastion.journal import open_journal
from bastion.runtime import Runtime
from bastion.store import DatabaseError, open_database
from bastion.vault import derive_subkey, open_vault
from helpers import run_bastion
from rights.rights_data import API_KEY

# before commit (roll back) and after (roll forward), including between the file swaps
CRASH_POINTS = ["db-exported", "blobs-staged", "staged", "slot-updated", "swapped:bastion.db"]


def _state() -> dict[str, object]:
    with Runtime.open() as rt:
        sessions = {s.id: [m["content"] for m in rt.sessions.messages(s.id)]
                    for s in rt.sessions.list()}
        journal = open_journal(rt)
        blobs = {}
        for (digest,) in rt.db.query("SELECT before_hash FROM journal_changes "
                                     "WHERE before_hash IS NOT NULL"):
            blobs[digest] = hashlib.sha256(journal.load_blob(digest)).hexdigest()
        report = rt.audit.verify()
        assert report.ok, report.summary()
        return {"sessions": sessions, "key": rt.api_keys.get("openai"), "blobs": blobs,
                "master": rt.vault.master_key}


def test_rotation_reencrypts_everything(populated: dict[str, str], bastion_home: Path) -> None:
    before = _state()
    r = run_bastion("keys", "rotate", "--yes")
    assert r.returncode == 0, r.stderr
    after = _state()
    assert after["master"] != before["master"]
    assert {k: v for k, v in after.items() if k != "master"} == \
        {k: v for k, v in before.items() if k != "master"}
    assert after["key"] == API_KEY
    # the old key opens nothing any more
    with pytest.raises(DatabaseError):
        open_database(bastion_home, derive_subkey(before["master"], "database")).close()  # type: ignore[arg-type]
    assert not (bastion_home / "rotation.json").exists()
    assert not list(bastion_home.glob("*.rotating")) and not list(bastion_home.rglob("*.rotating"))


@pytest.mark.parametrize("phase", CRASH_POINTS)
def test_rotation_killed_reopens_with_no_data_lost(populated: dict[str, str],
                                                   bastion_home: Path, phase: str) -> None:
    before = _state()
    r = run_bastion("keys", "rotate", "--yes", env={"BASTION_TEST_CRASH_AT": phase})
    assert r.returncode == -9, (phase, r.returncode, r.stderr)
    assert (bastion_home / "rotation.json").exists()
    after = _state()  # the next start completes or rolls back the rotation
    assert not (bastion_home / "rotation.json").exists()
    rolled_forward = phase not in ("prepared", "db-exported", "db-rekeyed", "blobs-staged")
    assert (after["master"] != before["master"]) == rolled_forward
    assert {k: v for k, v in after.items() if k != "master"} == \
        {k: v for k, v in before.items() if k != "master"}
    assert not list(bastion_home.rglob("*.rotating")) and not list(bastion_home.rglob("*.pre-rotation"))
    if phase == "slot-updated":  # and a later rotation still works
        assert run_bastion("keys", "rotate", "--yes").returncode == 0
        assert _state()["sessions"] == before["sessions"]


def test_rotation_with_keychain_slot(bastion_home: Path) -> None:
    import keyring

    from bastion.rights import rotate_master_key
    from rights.test_delete import MemoryKeychain

    backend = MemoryKeychain()
    keyring.set_keyring(backend)
    try:
        with Runtime.open() as rt:
            rt.api_keys.set("openai", API_KEY)
            old = rt.vault.master_key
            vault, home = rt.vault, rt.home
        rotate_master_key(home, vault)
        assert open_vault(bastion_home).master_key == vault.master_key != old
        with Runtime.open() as rt:
            assert rt.api_keys.get("openai") == API_KEY
    finally:
        keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[attr-defined]
