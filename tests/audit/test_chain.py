"""Tamper classes against the database: each one fails verification and names the record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bastion.audit import AuditLog

from .conftest import Light, fill, open_light


def test_untouched_log_verifies(rt: Light) -> None:
    fill(rt)
    report = rt.audit.verify()
    assert report.ok, report.summary()
    assert report.checked == 12 and report.head_seq == 12 and report.checkpoint_seq == 12


def test_empty_log_verifies(rt: Light) -> None:
    report = rt.audit.verify()
    assert report.ok and report.checked == 0


def test_modified_header_field(rt: Light) -> None:
    fill(rt)
    rt.db.execute("UPDATE audit_log SET action = 'result' WHERE seq = 5")
    report = rt.audit.verify()
    assert not report.ok
    assert (report.first_bad_seq, report.kind) == (5, "modified")
    assert "record 5" in report.problem


def test_modified_payload(rt: Light) -> None:
    fill(rt)
    rt.db.execute("""UPDATE audit_log SET payload = replace(payload, 'f6.txt', 'zz.txt')
                     WHERE seq = 7""")
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 7, "modified")
    assert "payload" in report.problem


def test_deleted_record(rt: Light) -> None:
    fill(rt)
    rt.db.execute("DELETE FROM audit_log WHERE seq = 4")
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 4, "deleted")
    assert "record 4" in report.problem


def test_inserted_record(rt: Light) -> None:
    fill(rt)
    # make room at 6 by renumbering the tail, then slip in a forged record
    for seq in range(12, 5, -1):
        rt.db.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (seq + 1, seq))
    rt.db.execute("""INSERT INTO audit_log SELECT 6, time, category, 'forged', session_id,
                     payload_hash, prev_mac, mac, payload FROM audit_log WHERE seq = 5""")
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 6, "inserted")


def test_inserted_copy_of_a_record(rt: Light) -> None:
    fill(rt)
    rt.db.execute("""INSERT INTO audit_log SELECT 13, time, category, action, session_id,
                     payload_hash, prev_mac, mac, payload FROM audit_log WHERE seq = 9""")
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 13, "inserted")


def test_swapped_records(rt: Light) -> None:
    fill(rt)
    rows = {r["seq"]: dict(r) for r in rt.db.query("SELECT * FROM audit_log WHERE seq IN (8, 9)")}
    for seq, other in ((8, 9), (9, 8)):
        src = rows[other]
        rt.db.execute("UPDATE audit_log SET time=?, category=?, action=?, session_id=?, "
                      "payload_hash=?, prev_mac=?, mac=?, payload=? WHERE seq=?",
                      (src["time"], src["category"], src["action"], src["session_id"],
                       src["payload_hash"], src["prev_mac"], src["mac"], src["payload"], seq))
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 8, "reordered")
    assert "record 9" in report.problem


def test_truncated_tail(rt: Light) -> None:
    fill(rt)
    rt.db.execute("DELETE FROM audit_log WHERE seq > 9")
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 10, "truncated")
    assert "12" in report.problem


def test_truncated_then_continued(rt: Light) -> None:
    fill(rt)
    rt.db.execute("DELETE FROM audit_log WHERE seq > 9")
    for i in range(5):  # new records reuse 10..14; the checkpoint must not be overwritten
        rt.audit.record("user", "approve", {"i": i})
    rt.audit.checkpoint()
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 12, "rolled_back")


def _copy_db(home: Path, dest: Path) -> None:
    dest.mkdir()
    for name in ("bastion.db", "bastion.db-wal"):
        if (home / name).exists():
            shutil.copy2(home / name, dest / name)


def _restore_db(src: Path, home: Path) -> None:
    for name in ("bastion.db-wal", "bastion.db-shm"):
        (home / name).unlink(missing_ok=True)
    for p in src.iterdir():
        shutil.copy2(p, home / p.name)


def test_rolled_back_to_older_copy(bastion_home: Path, tmp_path: Path, master: bytes) -> None:
    rt = open_light(bastion_home, master)
    fill(rt)
    rt.close()
    _copy_db(bastion_home, tmp_path / "old")
    rt = open_light(bastion_home, master)
    fill(rt, 6)
    rt.close()
    _restore_db(tmp_path / "old", bastion_home)
    rt = open_light(bastion_home, master)
    try:
        report = rt.audit.verify()
    finally:
        rt.close()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 13, "rolled_back")
    assert "older copy" in report.problem


def test_rollback_survives_later_runs(bastion_home: Path, tmp_path: Path, master: bytes) -> None:
    rt = open_light(bastion_home, master)
    fill(rt)
    rt.close()
    _copy_db(bastion_home, tmp_path / "old")
    rt = open_light(bastion_home, master)
    fill(rt, 6)
    rt.close()
    _restore_db(tmp_path / "old", bastion_home)
    rt = open_light(bastion_home, master)
    fill(rt, 10)  # runs past the checkpoint's seq 18 with a different history
    rt.close()
    rt = open_light(bastion_home, master)
    try:
        report = rt.audit.verify()
    finally:
        rt.close()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 18, "rolled_back")


def test_blanking_a_session_keeps_the_chain(rt: Light) -> None:
    fill(rt)
    assert rt.audit.blank_session("sess-a") == 6
    report = rt.audit.verify()
    assert report.ok, report.summary()
    assert report.blanked == 6
    assert rt.db.query("SELECT count(*) FROM audit_log WHERE payload LIKE '%f0.txt%'")[0][0] == 0


def test_blanking_without_a_deletion_record_fails(rt: Light) -> None:
    fill(rt)
    rt.db.execute("UPDATE audit_log SET payload = NULL WHERE seq = 3")
    report = rt.audit.verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 3, "blanked")


def test_checkpoint_file_modified_or_missing(rt: Light, bastion_home: Path) -> None:
    fill(rt)
    cp = bastion_home / "audit-checkpoint.json"
    original = cp.read_text()
    cp.write_text(original.replace('"seq": 12', '"seq": 11'))
    report = rt.audit.verify()
    assert (report.ok, report.kind) == (False, "checkpoint")
    cp.unlink()
    report = rt.audit.verify()
    assert (report.ok, report.kind) == (False, "checkpoint")
    assert "missing" in report.problem


def test_periodic_checkpoints(rt: Light, bastion_home: Path) -> None:
    log = AuditLog(rt.db, rt.vault, rt.settings, checkpoint_every=5)
    for i in range(12):
        log.record("user", "approve", {"i": i})
    assert '"seq": 10' in (bastion_home / "audit-checkpoint.json").read_text()
    log.close()
    assert '"seq": 12' in (bastion_home / "audit-checkpoint.json").read_text()


def test_secrets_are_not_stored(rt: Light) -> None:
    rt.audit.record("config", "set", {"key": "providers.openai.apiKey", "apiKey": "sk-live-123",
                                      "url": "https://bob:hunter2@proxy.example/"})
    payload = rt.db.query("SELECT payload FROM audit_log")[0][0]
    assert "sk-live-123" not in payload and "hunter2" not in payload


def test_unknown_category_is_refused(rt: Light) -> None:
    from bastion.audit import AuditError

    with pytest.raises(AuditError):
        rt.audit.record("gossip", "x")
