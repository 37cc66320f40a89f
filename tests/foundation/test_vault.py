import hashlib
import sqlite3
from pathlib import Path

import keyring
import pytest

from bastion.runtime import Runtime
from bastion.store import DatabaseError, open_database
from bastion.vault import (
    ApiKeyStore,
    DecryptionError,
    VaultError,
    WrongPassphraseError,
    open_vault,
)
from helpers import MemoryKeychain, run_bastion


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}




def test_first_run_creates_passphrase_slot_without_plaintext_key(bastion_home: Path) -> None:
    vault = open_vault(bastion_home)
    assert vault.slot == "passphrase"
    slot = (bastion_home / "keyslot.json").read_bytes()
    assert vault.master_key not in slot
    assert vault.master_key.hex().encode() not in slot
    assert (bastion_home / "keyslot.json").stat().st_mode & 0o077 == 0
    again = open_vault(bastion_home)
    assert again.master_key == vault.master_key


def test_wrong_passphrase_is_clear_and_changes_nothing(bastion_home: Path, workspace: Path,
                                                       tmp_path: Path) -> None:
    script = tmp_path / "s.jsonl"
    script.write_text('{"content": "done"}\n')
    r = run_bastion("run", "hello", "-w", workspace, "--provider", "replay", "--script", script)
    assert r.returncode == 0, r.stderr
    before = _snapshot(bastion_home)
    r = run_bastion("sessions", "list", env={"BASTION_PASSPHRASE": "not the passphrase"})
    assert r.returncode == 1
    assert "wrong passphrase" in r.stderr and "Traceback" not in r.stderr
    assert _snapshot(bastion_home) == before


def test_wrong_passphrase_in_process(bastion_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_vault(bastion_home)
    monkeypatch.setenv("BASTION_PASSPHRASE", "wrong")
    with pytest.raises(WrongPassphraseError):
        open_vault(bastion_home)


def test_plaintext_keyring_backend_is_refused(bastion_home: Path, tmp_path: Path) -> None:
    data_home = tmp_path / "xdg"
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
           "XDG_DATA_HOME": str(data_home), "BASTION_PASSPHRASE": ""}
    r = run_bastion("sessions", "list", env=env, input="")
    assert r.returncode == 1
    assert "refused insecure keyring backend" in r.stderr and "PlaintextKeyring" in r.stderr
    # nothing was written by the plaintext backend, and no key slot was created either
    assert not any(p.is_file() for p in data_home.rglob("*")) if data_home.exists() else True
    assert not (bastion_home / "keyslot.json").exists()
    # forcing the keychain slot with a plaintext backend is an error, not a fallback
    (bastion_home / "settings.json").write_text('{"vault": {"slot": "keychain"}}')
    r = run_bastion("sessions", "list", env={**env, "BASTION_PASSPHRASE": "x" * 12})
    assert r.returncode == 1 and "cannot use the OS keychain" in r.stderr


def test_secure_keychain_slot_is_used(bastion_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeychain()
    keyring.set_keyring(backend)
    try:
        vault = open_vault(bastion_home)
        assert vault.slot == "keychain"
        assert len(backend.items) == 1
        assert not (bastion_home / "keyslot.json").exists()
        assert open_vault(bastion_home).master_key == vault.master_key
    finally:
        keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[attr-defined]


def test_missing_master_key_with_existing_data_refuses(bastion_home: Path) -> None:
    with Runtime.open():
        pass
    (bastion_home / "keyslot.json").unlink()
    with pytest.raises(VaultError, match=r"master key .* is missing"):
        open_vault(bastion_home)


def test_database_is_sqlcipher_and_wrong_key_refused(bastion_home: Path) -> None:
    with Runtime.open() as rt:
        rt.sessions.create(title="t", workspace="/w", agent=None, provider=None, model=None)
    raw = (bastion_home / "bastion.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(bastion_home / "bastion.db").execute("select * from sessions").fetchall()
    before = _snapshot(bastion_home)
    with pytest.raises(DatabaseError, match="wrong master key"):
        open_database(bastion_home, b"\x00" * 32)
    assert _snapshot(bastion_home) == before


def test_api_keys_sealed_masked_and_bound_to_their_row(bastion_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-" + "Q7w2" * 10
    with Runtime.open() as rt:
        rt.api_keys.set("openai", secret)
        rt.api_keys.set("anthropic", "sk-ant-" + "Z9y8" * 10)
        assert rt.api_keys.get("openai") == secret
        listed = rt.api_keys.list()
        assert all(secret not in str(v) for row in listed for v in row.values())
        # moving a sealed key to another provider's row must not decrypt
        sealed = rt.db.query("SELECT sealed FROM api_keys WHERE provider='openai'")[0]["sealed"]
        rt.db.execute("UPDATE api_keys SET sealed = ? WHERE provider = 'anthropic'", (sealed,))
        with pytest.raises(DecryptionError):
            rt.api_keys.get("anthropic")
    assert secret.encode() not in (bastion_home / "bastion.db").read_bytes()
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    with Runtime.open() as rt:
        store = ApiKeyStore(rt.db, rt.vault.subkey("api-keys"))
        assert store.delete("openai")
        assert store.get("openai") == "from-env"


def test_keys_cli_never_prints_the_key(bastion_home: Path) -> None:
    secret = "sk-live-" + "a1B2" * 12
    r = run_bastion("keys", "set", "openai", "--stdin", input=secret + "\n")
    assert r.returncode == 0, r.stderr
    r = run_bastion("keys", "list", "--json")
    assert r.returncode == 0 and secret not in r.stdout and "openai" in r.stdout
    r = run_bastion("keys", "delete", "openai")
    assert r.returncode == 0
    assert run_bastion("keys", "list", "--json").stdout.strip() == "[]"
