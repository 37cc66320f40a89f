"""`bastion delete`: one session (others and the audit chain intact), a project, everything."""

from __future__ import annotations

import json
from pathlib import Path

import keyring

from bastion.policy import TrustStore
from bastion.rights import delete_all, delete_project, delete_session
from bastion.runtime import Runtime
from bastion.vault import open_vault
from helpers import MemoryKeychain, run_bastion


def _blob_files(home: Path) -> set[Path]:
    return {p for p in (home / "journal" / "blobs").rglob("*") if p.is_file()}


def test_delete_session_keeps_others_and_the_chain(populated: dict[str, str],
                                                   bastion_home: Path) -> None:
    before_blobs = _blob_files(bastion_home)
    assert before_blobs  # the edit saved a pre-image
    r = run_bastion("delete", "--session", populated["editor"], "--yes")
    assert r.returncode == 0, r.stderr
    with Runtime.open() as rt:
        ids = [s.id for s in rt.sessions.list()]
        assert ids == [populated["reader"]]
        assert rt.sessions.messages(populated["reader"])
        for table in ("messages", "tool_calls", "events"):
            assert rt.db.query(f"SELECT count(*) FROM {table} WHERE session_id = ?",
                               (populated["editor"],))[0][0] == 0
        report = rt.audit.verify()
        assert report.ok, report.summary()
        assert report.blanked > 0
        # the deleted session's audit records keep their headers, not their payloads
        assert all(e.payload is None for e in rt.audit.entries(session_id=populated["editor"]))
        actions = [e.action for e in rt.audit.entries(category="user")]
        assert "delete-session" in actions
        assert rt.db.query("SELECT count(*) FROM journal_ops WHERE session_id = ?",
                           (populated["editor"],))[0][0] == 0
    assert len(_blob_files(bastion_home)) < len(before_blobs)


def test_delete_session_spares_blobs_shared_with_another_session(
        populated: dict[str, str], bastion_home: Path) -> None:
    with Runtime.open() as rt:
        shared = rt.db.query("SELECT c.before_hash FROM journal_changes c JOIN journal_ops o "
                             "ON o.id = c.op_id WHERE o.session_id = ? AND c.before_hash "
                             "IS NOT NULL", (populated["editor"],))[0][0]
        # another session's operation references the same pre-image
        rt.db.execute("INSERT INTO journal_ops (id, session_id, tool, kind, status, summary, "
                      "created_at) VALUES ('op-other', ?, 'edit_file', 'tool', 'applied', "
                      "'x', 0)", (populated["reader"],))
        rt.db.execute("INSERT INTO journal_changes (op_id, idx, path, before_kind, before_hash, "
                      "after_kind) VALUES ('op-other', 0, '/x', 'file', ?, 'file')", (shared,))
        delete_session(rt, populated["editor"])
        from bastion.journal import open_journal

        assert open_journal(rt).load_blob(shared)  # still there for the other session


def test_delete_project_removes_folder_and_trust(workspace: Path, bastion_home: Path) -> None:
    (workspace / ".bastion" / "agents").mkdir(parents=True)
    (workspace / ".bastion" / "settings.json").write_text('{"securityMode": true}')
    TrustStore(bastion_home).trust(workspace)
    outside = workspace.parent / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    with Runtime.open() as rt:
        result = delete_project(rt.home, workspace)
        assert "delete-project" in [e.action for e in rt.audit.entries(category="user")]
    assert result.removed and result.untrusted
    assert not (workspace / ".bastion").exists() and (workspace / "README.md").exists()
    assert TrustStore(bastion_home).state(workspace) == "none"
    # a symlinked .bastion is unlinked, never followed
    (workspace / ".bastion").symlink_to(outside)
    with Runtime.open() as rt:
        delete_project(rt.home, workspace)
    assert (outside / "keep.txt").read_text() == "keep"


def test_delete_all_leaves_no_file_and_no_keychain_entry(bastion_home: Path, workspace: Path,
                                                         tmp_path: Path) -> None:
    backend = MemoryKeychain()
    keyring.set_keyring(backend)
    try:
        from rights.rights_data import make_session

        make_session(workspace, tmp_path, "one", [{"content": "hi"}])
        assert open_vault(bastion_home).slot == "keychain" and backend.items
        (bastion_home / "telemetry.json").write_text("{}")
        delete_all(bastion_home)
        assert backend.items == {}
        assert not bastion_home.exists() or not any(bastion_home.rglob("*"))
    finally:
        keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[attr-defined]


def test_delete_all_cli_needs_confirmation_then_removes_everything(
        populated: dict[str, str], bastion_home: Path) -> None:
    r = run_bastion("delete", "--all", input="")
    assert r.returncode == 1 and "--yes" in r.stderr
    assert (bastion_home / "bastion.db").exists()
    r = run_bastion("delete", "--all", "--yes", env={"BASTION_PASSPHRASE": "forgotten"})
    assert r.returncode == 0, r.stderr  # works without unlocking: a forgotten passphrase
    assert "master key is destroyed" in r.stderr
    assert not bastion_home.exists()


def test_delete_remote_and_bad_choices_are_clear_errors(bastion_home: Path) -> None:
    r = run_bastion("delete", "--remote", "--yes")
    assert r.returncode == 1 and "sync is not configured" in r.stderr
    r = run_bastion("delete", "--yes")
    assert r.returncode == 1 and "exactly one" in r.stderr
    assert json.dumps  # keep import used when trimming


def test_delete_all_removes_only_what_bastion_created(bastion_home: Path,
                                                      workspace: Path) -> None:
    assert run_bastion("sessions", "list").returncode == 0  # the data directory exists
    (bastion_home / "my-notes.txt").write_text("not Bastion's")
    (bastion_home / "photos").mkdir()
    (bastion_home / "photos" / "a.jpg").write_bytes(b"\xff\xd8")
    r = run_bastion("delete", "--all", "--yes")
    assert r.returncode == 0, r.stderr
    assert "will keep" in r.stderr and "my-notes.txt" in r.stderr
    assert "will delete" in r.stderr and "bastion.db" in r.stderr
    assert sorted(p.name for p in bastion_home.iterdir()) == ["my-notes.txt", "photos"]
    assert (bastion_home / "photos" / "a.jpg").read_bytes() == b"\xff\xd8"
