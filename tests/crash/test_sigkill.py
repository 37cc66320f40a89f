"""Crash consistency: SIGKILL at seeded random moments, then check from outside.

After each kill: the database opens, ``audit verify`` passes or names a truncation (never an
internal error), every workspace file holds either its old or its new content, and undoing
every session restores the original tree byte for byte.

The default run is a handful of seeded trials (well under 3 minutes); set
``BASTION_CRASH_SOAK=N`` for N trials per scenario (and ``BASTION_CRASH_SEED`` to replay).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import run_bastion, write_script

TRIALS = int(os.environ.get("BASTION_CRASH_SOAK", "4"))
SEED = int(os.environ.get("BASTION_CRASH_SEED", "1414"))

ORIGINAL = {"a.txt": b"alpha\n", "b.txt": b"bravo\n" * 50, "sub/c.txt": b"charlie\n",
            "keep.txt": b"untouched\n"}
#: every content a path may hold after any prefix of the script (None: absent)
ALLOWED = {
    "a.txt": {b"alpha\n", b"ALPHA\n", None},
    "b.txt": {b"bravo\n" * 50, b"bravo\n" * 49 + b"BRAVO\n"},
    "sub/c.txt": {b"charlie\n", None},
    "moved.txt": {None, b"ALPHA\n"},
    "d.txt": {None, b"delta\n" * 1000},
    "keep.txt": {b"untouched\n"},
}


def _script(tmp_path: Path) -> Path:
    call = [
        {"name": "write_file", "arguments": {"path": "a.txt", "content": "ALPHA\n"}},
        {"name": "edit_file", "arguments": {"path": "b.txt", "old_text": "bravo\n" * 2,
                                            "new_text": "bravo\nBRAVO\n", "replace_all": False}},
        {"name": "delete_file", "arguments": {"path": "sub/c.txt"}},
        {"name": "move_file", "arguments": {"source": "a.txt", "destination": "moved.txt"}},
        {"name": "write_file", "arguments": {"path": "d.txt", "content": "delta\n" * 1000}},
    ]
    return write_script(tmp_path / "script.jsonl",
                        [{"content": "", "tool_calls": [c]} for c in call] + [{"content": "ok"}])


def _fresh_workspace(root: Path) -> Path:
    ws = root
    shutil.rmtree(ws, ignore_errors=True)
    for rel, data in ORIGINAL.items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_bytes(data)
    return ws


#: what a write killed between its temp file and the rename leaves beside the file (safefs):
#: never the file itself, and undo removes it (checked by the byte-for-byte comparison after)
_KILLED_WRITE_TEMP = re.compile(r"(.*/)?\.[^/]+\.bastion-[0-9a-f]{12}\.tmp")


def _tree(ws: Path, *, temps: bool = True) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in sorted(ws.rglob("*")):
        rel = str(p.relative_to(ws))
        if p.is_file() and (temps or not _KILLED_WRITE_TEMP.fullmatch(rel)):
            out[rel] = p.read_bytes()
    return out


def _kill_after(argv: list[str], delay: float) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "bastion", *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def _check_home_survives() -> None:
    listed = run_bastion("sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    verified = run_bastion("audit", "verify")
    text = verified.stdout + verified.stderr
    assert "internal error" not in text.lower(), text
    assert verified.returncode == 0 or "truncat" in text.lower(), text


def _undo_all() -> None:
    sessions = json.loads(run_bastion("sessions", "list", "--json").stdout)
    for s in sessions:
        undo = run_bastion("undo", "--session", s["id"], "--yes")
        assert "internal error" not in undo.stderr.lower(), undo.stderr
        assert undo.returncode == 0 or "no changes left" in undo.stderr, undo.stderr


def _duration(args: list[str]) -> float:
    started = time.monotonic()
    done = run_bastion(*args)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def test_sigkill_during_a_run_then_undo_restores_everything(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    script = _script(tmp_path)
    ws = _fresh_workspace(tmp_path / "ws")
    run = ["run", "edit things", "-w", str(ws), "--provider", "replay", "--script",
           str(script), "--approve", "auto"]
    full = _duration(run)  # one uninterrupted run sets the time scale (and the first run)
    assert _tree(ws)["moved.txt"] == b"ALPHA\n"
    _undo_all()
    assert _tree(ws) == ORIGINAL
    for trial in range(TRIALS):
        delay = rng.uniform(0.2, full)
        _kill_after(run, delay)
        _check_home_survives()
        tree = _tree(ws, temps=False)  # a SIGKILL inside an atomic write leaves its temp
        for rel, data in tree.items():
            assert data in ALLOWED.get(rel, set()), f"trial {trial} (+{delay:.2f}s): {rel}"
        _undo_all()
        assert _tree(ws) == ORIGINAL, f"trial {trial} (+{delay:.2f}s, seed {SEED})"


def test_sigkill_during_undo_is_finished_by_the_next_undo(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    script = _script(tmp_path)
    ws = _fresh_workspace(tmp_path / "ws")
    run = ["run", "edit things", "-w", str(ws), "--provider", "replay", "--script",
           str(script), "--approve", "auto", "--json"]
    for trial in range(max(1, TRIALS // 2)):
        done = run_bastion(*run)
        assert done.returncode == 0, done.stderr
        sid = json.loads(done.stdout.strip().splitlines()[-1])["session_id"]
        undo = ["undo", "--session", sid, "--yes"]
        started = time.monotonic()
        _kill_after(undo, rng.uniform(0.05, 1.5))
        _check_home_survives()
        again = run_bastion(*undo)  # no --force: the interrupted undo is finished
        assert "internal error" not in again.stderr.lower()
        assert _tree(ws) == ORIGINAL, (
            f"trial {trial}: {again.stderr} ({time.monotonic() - started:.1f}s)")


@pytest.mark.parametrize("command", [["keys", "rotate", "--yes"], ["export", "--out", "X"]])
def test_sigkill_during_rotation_or_export_leaves_data_readable(tmp_path: Path,
                                                               command: list[str]) -> None:
    rng = random.Random(SEED + 2)
    ws = _fresh_workspace(tmp_path / "ws")
    done = run_bastion("run", "edit", "-w", ws, "--provider", "replay", "--script",
                       _script(tmp_path), "--approve", "auto")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "export.zip"
    argv = [str(out) if a == "X" else a for a in command]
    full = _duration(argv)
    out.unlink(missing_ok=True)
    for _ in range(max(1, TRIALS // 2)):
        _kill_after(argv, rng.uniform(0.05, full))
        _check_home_survives()
        if out.exists():
            assert out.read_bytes()[:2] == b"PK"  # never half a file under its real name
            out.unlink()
    final = run_bastion(*argv)  # completes; sweeps what a killed export left behind
    assert final.returncode == 0, final.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    _undo_all()
    assert _tree(ws) == ORIGINAL  # whatever key the data ended up with, undo still works


def test_sigkill_while_a_command_runs_is_recovered_and_undoable(tmp_path: Path) -> None:
    """A command's effects are journaled when it finishes; its write-ahead intent makes a
    SIGKILL in the middle recoverable: the next start records what it changed, and undo
    restores the tree (the case that lost changes in 10 of 30 trials)."""
    ws = _fresh_workspace(tmp_path / "ws")
    command = ("rm -f a.txt sub/c.txt; echo BRAVO >> b.txt; echo echo > e.txt; "
               "echo done > marker.txt; sleep 60")
    script = write_script(tmp_path / "cmd.jsonl", [
        {"content": "", "tool_calls": [{"name": "run_command",
                                         "arguments": {"command": command}}]},
        {"content": "ok"}])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bastion", "run", "t", "-w", str(ws), "--provider", "replay",
         "--script", str(script), "--approve", "auto"], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (ws / "marker.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (ws / "marker.txt").exists(), "the command never ran"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (ws / "a.txt").exists()  # the command's effects are on disk, unjournaled yet
    _check_home_survives()  # the next start finishes the intent
    _undo_all()
    assert _tree(ws) == ORIGINAL
