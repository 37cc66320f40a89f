"""A Bastion killed mid-command leaves its placeholders (empty ``.git``, ``.bashrc``,
``.mcp.json``… files) in the workspace; the next sandbox of the same data directory removes
them — but never while another sandbox is running, whose mounts they may be. Verdicts are the
workspace's listing and file contents, read from the disk outside Bastion."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.sandbox import leftovers
from helpers import require, run_bastion

pytestmark = pytest.mark.sandbox


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:  # hidden entries included
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_mode, st.st_size)
    return found


def _start(ws: Path, *command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bastion", "exec", "-w", str(ws), "--",
                             *command], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, "the command ended before its sandbox was up"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    time.sleep(0.3)  # the sandbox is up: the placeholders exist while it runs


@contextlib.contextmanager
def _another_sandbox_running(tmp_path: Path) -> Iterator[Path]:
    """A second workspace ``ws`` while a sandboxed command of this data directory runs."""
    require(shutil.which("bwrap") is not None, "bubblewrap")
    ws, busy = tmp_path / "ws", tmp_path / "busy"
    ws.mkdir()
    busy.mkdir()
    live = _start(busy, "sleep", "60")
    try:
        _wait_for(busy / ".mcp.json", live)
        yield ws
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=30)
    assert not (busy / ".mcp.json").exists()  # the live one cleaned up after itself


def _killed_mid_command(ws: Path) -> None:
    """SIGKILL a Bastion whose sandboxed command is running; its placeholders stay behind."""
    proc = _start(ws, "sleep", "60")
    _wait_for(ws / ".mcp.json", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert (ws / ".git").is_file() and (ws / ".git").stat().st_size == 0  # left behind


def test_the_next_command_removes_a_killed_commands_placeholders(
        tmp_path: Path, bastion_home: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    ws, other = tmp_path / "ws", tmp_path / "other"
    ws.mkdir()
    other.mkdir()
    (ws / "notes.txt").write_text("mine\n")
    before = _listing(ws)
    _killed_mid_command(ws)
    assert _listing(ws) != before
    r = run_bastion("exec", "-w", other, "--", "true")  # any workspace: the sweep is global
    assert r.returncode == 0, r.stderr
    assert _listing(ws) == before
    assert (ws / "notes.txt").read_text() == "mine\n"
    assert os.listdir(bastion_home / "lib" / leftovers.LEDGERS) == []
    git = subprocess.run(["git", "status"], cwd=ws, capture_output=True, text=True)
    assert "invalid gitfile" not in git.stderr


def test_nothing_is_swept_while_another_sandbox_runs(tmp_path: Path) -> None:
    with _another_sandbox_running(tmp_path) as ws:
        _killed_mid_command(ws)
        # the leftovers are protected names' mount points now: a command running meanwhile
        # must still find them read-only, and they must still be there for its mounts
        r = run_bastion("exec", "-w", ws, "--", "sh", "-c",
                        "echo pwned > .mcp.json; echo pwned > .bashrc; true")
        assert r.returncode == 0, r.stderr
        assert (ws / ".mcp.json").read_bytes() == b""
        assert (ws / ".bashrc").read_bytes() == b""
    assert (ws / ".mcp.json").exists()  # not swept while the other sandbox ran
    r = run_bastion("exec", "-w", tmp_path / "busy", "--", "true")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(ws)) == []


def _lib(tmp_path: Path) -> tuple[Path, Path]:
    """A data directory's ``lib`` folder and the empty file placeholders link to."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "empty").write_bytes(b"")
    return lib, lib / "empty"


def test_a_sweep_removes_only_the_files_it_made(tmp_path: Path) -> None:
    lib, empty = _lib(tmp_path)
    ws = tmp_path / "ws"
    ws.mkdir()
    ours, replaced, refilled = ws / ".bashrc", ws / ".zshrc", ws / ".profile"
    for p in (ours, replaced, refilled):
        os.link(empty, p)
    claim = leftovers.claim(str(lib))
    assert claim is not None
    st = empty.stat()
    claim.note((str(p), st.st_dev, st.st_ino) for p in (ours, replaced, refilled))
    claim.note([("not json at all", 0, 0)])
    ledger = next((lib / leftovers.LEDGERS).iterdir())
    with ledger.open("a") as fh:
        fh.write('[1, 2, "torn')  # a crash in the middle of a line
    replaced.unlink()
    replaced.write_bytes(b"")  # the user's own empty file now: another inode
    refilled.unlink()
    refilled.write_text("the user's\n")
    os.close(os.open(lib / "unrelated", os.O_CREAT))  # the lock is not the ledger folder
    # the claim's owner is "dead" once its lock is dropped without releasing the ledger
    os.close(claim._fd)  # type: ignore[arg-type]
    claim._fd = None
    again = leftovers.claim(str(lib))
    assert again is not None
    again.release()
    assert not ours.exists()
    assert replaced.exists() and refilled.read_text() == "the user's\n"
    assert list((lib / leftovers.LEDGERS).iterdir()) == []


def test_a_live_claim_blocks_the_sweep(tmp_path: Path) -> None:
    lib, empty = _lib(tmp_path)
    name = tmp_path / ".bashrc"
    os.link(empty, name)
    first = leftovers.claim(str(lib))
    assert first is not None
    st = empty.stat()
    first.note([(str(name), st.st_dev, st.st_ino)])
    second = leftovers.claim(str(lib))  # another sandbox while the first one runs
    assert second is not None
    assert name.exists()
    second.release()
    first.release()  # the first one ends normally: its ledger goes, its file is its own job
    assert name.exists()
    assert list((lib / leftovers.LEDGERS).iterdir()) == []


def test_bookkeeping_failures_never_fail_the_command(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    claim = leftovers.claim(str(lib))
    assert claim is not None
    def full_disk(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(os, "open", full_disk)
        claim.note([(str(tmp_path / ".bashrc"), 1, 2)])  # no error: the command still runs
    claim.release()

    def no_locks(fd: int, op: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(leftovers.fcntl, "flock", no_locks)
    assert leftovers.claim(str(lib)) is None


def test_a_killed_commands_recovered_changes_are_its_own(tmp_path: Path,
                                                         bastion_home: Path) -> None:
    """At the next start the killed command's changes are journaled from its write-ahead
    intent: what it wrote, not the sandbox's placeholders (which are removed, not recorded)."""
    require(shutil.which("bwrap") is not None, "bubblewrap")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.txt").write_text("a\n")
    before = _listing(ws)
    proc = _start(ws, "sh", "-c", "echo x > made.txt; sleep 60")
    _wait_for(ws / "made.txt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    listed = run_bastion("changes", "--json")  # any command: start-up recovers the intent
    assert listed.returncode == 0, listed.stderr
    ops = json.loads(listed.stdout)
    assert [[c["path"] for c in op["changes"]] for op in ops] == [[str(ws / "made.txt")]]
    assert "recovered at start-up" in ops[0]["summary"]
    after = _listing(ws)
    del after["made.txt"]
    assert after == before  # the placeholders are gone from the disk too
    undone = run_bastion("undo", ops[0]["id"])
    assert undone.returncode == 0, undone.stderr
    assert _listing(ws) == before


def test_placeholders_a_live_sandbox_keeps_are_not_recorded_as_changes(
        tmp_path: Path) -> None:
    with _another_sandbox_running(tmp_path) as ws:
        proc = _start(ws, "sh", "-c", "echo x > made.txt; sleep 60")
        _wait_for(ws / "made.txt", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        listed = run_bastion("changes", "--json")  # cannot sweep: the other sandbox runs
        assert listed.returncode == 0, listed.stderr
        assert (ws / ".git").is_file()  # still there (it may be the live sandbox's mount)
        paths = [c["path"] for op in json.loads(listed.stdout) for c in op["changes"]]
        assert paths == [str(ws / "made.txt")]
