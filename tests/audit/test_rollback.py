"""A whole data directory put back from an older copy is noticed (checkpoint anchors outside it)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from helpers import MemoryKeychain, run_bastion, write_script

from .conftest import fill, open_light, write_settings


@pytest.fixture
def memory_keychain() -> Iterator[MemoryKeychain]:
    previous = keyring.get_keyring()
    chain = MemoryKeychain()
    keyring.set_keyring(chain)
    yield chain
    keyring.set_keyring(previous)


def _restore(backup: Path, home: Path) -> None:
    shutil.rmtree(home)
    shutil.copytree(backup, home)


def test_keychain_anchor_reveals_a_restored_home(bastion_home: Path, tmp_path: Path,
                                                 master: bytes,
                                                 memory_keychain: MemoryKeychain) -> None:
    rt = open_light(bastion_home, master)
    fill(rt, 6)
    rt.close()
    assert any(k[1].startswith("audit-anchor:") for k in memory_keychain.items)
    backup = tmp_path / "backup"
    shutil.copytree(bastion_home, backup)
    rt = open_light(bastion_home, master)
    fill(rt, 6)
    rt.close()
    _restore(backup, bastion_home)

    rt = open_light(bastion_home, master)
    problems = rt.audit.rollback_problems()
    assert len(problems) == 1 and "OS keychain" in problems[0] and "older" in problems[0]
    report = rt.audit.verify()  # the restored copy is self-consistent, the anchor is not
    assert not report.ok and report.kind == "rolled_back"
    # using the restored copy does not wipe the evidence
    fill(rt, 20)
    assert "different record" in rt.audit.rollback_problems()[0]
    rt.audit.accept_restore()
    assert rt.audit.rollback_problems() == [] and rt.audit.verify().ok
    accepted = [e for e in rt.audit.entries(category="user") if e.action == "accept-restore"]
    assert len(accepted) == 1
    rt.close()


def test_log_path_anchor_end_to_end(bastion_home: Path, workspace: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "var-log" / "bastion-audit.jsonl"
    write_settings(bastion_home, {"audit": {"logPath": str(log_file)}})
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "list_dir", "arguments": {}}]}, {"content": "ok"}])

    def session() -> str:
        r = run_bastion("run", "look", "-w", workspace, "--provider", "replay",
                        "--script", script)
        assert r.returncode == 0, r.stderr
        return r.stderr

    session()
    anchor = log_file.with_name(log_file.name + ".checkpoint")
    assert json.loads(anchor.read_text())["seq"] > 0
    backup = tmp_path / "backup"
    shutil.copytree(bastion_home, backup)
    session()
    _restore(backup, bastion_home)

    r = run_bastion("audit", "verify")
    assert r.returncode == 2 and "older than its anchor" in r.stderr, r.stderr
    assert "accept-restore" in r.stderr
    assert "older than its anchor" in session()  # start-up says so too
    r = run_bastion("audit", "accept-restore")  # no terminal, no --yes: nothing changes
    assert r.returncode == 1 and "--yes" in r.stderr
    assert run_bastion("audit", "verify").returncode == 2
    r = run_bastion("audit", "accept-restore", "--yes")
    assert r.returncode == 0, r.stderr
    kept = list(log_file.parent.glob("*.before-restore-*"))
    assert kept and "kept as" in r.stderr
    assert run_bastion("audit", "verify").returncode == 0
    assert run_bastion("audit", "verify", "--file", log_file).returncode == 0
    exported = run_bastion("audit", "export").stdout
    assert '"accept-restore"' in exported
    assert '"rollback-detected"' in exported  # the start-up warning is on the record too
