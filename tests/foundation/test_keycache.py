"""The unlocked-key cache: one Argon2id derivation per login session, bound to the key slot and
to the passphrase, forgotten by ``bastion lock``, off with ``vault.keyCacheS: 0``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion import keyctl
from bastion.vault import WrongPassphraseError, keycache, keyslot, open_vault
from helpers import require, run_bastion


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    real = keyslot.KdfParams.derive

    def counting(self: keyslot.KdfParams, passphrase: str, salt: bytes) -> bytes:
        calls.append(1)
        return real(self, passphrase, salt)

    monkeypatch.setattr(keyslot.KdfParams, "derive", counting)
    yield calls


@pytest.fixture(autouse=True)
def _forget(bastion_home: Path) -> Iterator[None]:
    require(keyctl.available(), "the kernel keyring")
    yield
    keycache.forget(bastion_home)


def test_second_unlock_uses_the_cache(bastion_home: Path, derivations: list[int]) -> None:
    first = open_vault(bastion_home)  # creates the slot
    calls = len(derivations)
    assert open_vault(bastion_home, cache_s=60).master_key == first.master_key
    assert len(derivations) == calls + 1  # unlocked once, then cached
    assert open_vault(bastion_home, cache_s=60).master_key == first.master_key
    assert len(derivations) == calls + 1


def test_wrong_passphrase_is_refused_even_when_cached(bastion_home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    open_vault(bastion_home)
    open_vault(bastion_home, cache_s=60)
    monkeypatch.setenv("BASTION_PASSPHRASE", "wrong passphrase")
    with pytest.raises(WrongPassphraseError):
        open_vault(bastion_home, cache_s=60)


def test_a_changed_slot_is_not_opened_from_the_cache(bastion_home: Path,
                                                     derivations: list[int]) -> None:
    open_vault(bastion_home)
    open_vault(bastion_home, cache_s=60)
    slot = bastion_home / "keyslot.json"
    doc = json.loads(slot.read_text())
    doc["note"] = "rewritten"
    slot.write_text(json.dumps(doc))
    calls = len(derivations)
    open_vault(bastion_home, cache_s=60)
    assert len(derivations) == calls + 1


def test_off_with_zero(bastion_home: Path, derivations: list[int]) -> None:
    open_vault(bastion_home)
    open_vault(bastion_home, cache_s=0)
    calls = len(derivations)
    open_vault(bastion_home, cache_s=0)
    assert len(derivations) == calls + 1
    assert keycache.load(bastion_home, bastion_home / "keyslot.json", None, 60) is None


def test_bastion_lock_forgets_it(bastion_home: Path) -> None:
    r = run_bastion("sessions", "list")  # first run: creates the slot
    assert r.returncode == 0, r.stderr
    r = run_bastion("sessions", "list")  # unlocks: cached for the session
    assert r.returncode == 0, r.stderr
    slot = bastion_home / "keyslot.json"
    cached = keycache.load(bastion_home, slot, None, 60)
    assert cached is not None and cached not in slot.read_bytes()
    r = run_bastion("lock")
    assert r.returncode == 0 and "locked" in r.stdout
    assert keycache.load(bastion_home, slot, None, 60) is None
    # without the passphrase and without the cache nothing opens
    r = run_bastion("sessions", "list", env={"BASTION_PASSPHRASE": ""})
    assert r.returncode == 1 and "passphrase" in r.stderr
