"""SIGTERM and SIGHUP take the same path as Ctrl-C: the command's process tree is killed, the
session is marked interrupted (never left "running") and the audit log still verifies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import require, run_bastion, write_script


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_interrupts_cleanly(tmp_path: Path, workspace: Path, signum: int) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap)")
    marker = f"sleep 6{signum}"  # unique to this test: pgrep below looks for it
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": "before.txt", "content": "x\n"}}]},
        {"content": "", "tool_calls": [{"name": "run_command", "arguments": {
            "command": f"echo started > started.txt; {marker}", "timeout_s": 120}}]},
        {"content": "done"}])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bastion", "run", "slow", "-w", str(workspace), "--provider",
         "replay", "--script", str(script), "--approve", "auto", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"}, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (workspace / "started.txt").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    started = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30  # the sleep 60 was killed, not waited for
    assert proc.returncode == 128 + signum, err
    assert "internal error" not in err.lower() and "Traceback" not in err
    # no process of the command survives (the sandboxed sleep had our marker in its args)
    ps = subprocess.run(["pgrep", "-f", f"echo started > started.txt; {marker}"],
                        capture_output=True, text=True)
    assert ps.stdout.strip() == "", f"left running: {ps.stdout}"
    listed = run_bastion("sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    statuses = [s["status"] for s in json.loads(listed.stdout)]
    assert statuses == ["interrupted"], statuses
    verified = run_bastion("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # what the killed command did is journaled, so undo takes it back
    changes = run_bastion("changes", "--json")
    paths = [c["path"] for op in json.loads(changes.stdout) for c in op["changes"]]
    assert str(workspace / "started.txt") in paths, paths
    sid = json.loads(listed.stdout)[0]["id"]
    undone = run_bastion("undo", "--session", sid, "--yes")
    assert undone.returncode == 0, undone.stderr
    assert not (workspace / "started.txt").exists() and not (workspace / "before.txt").exists()


def test_a_failed_set_up_never_leaves_a_session_running(tmp_path: Path, workspace: Path,
                                                        bastion_home: Path) -> None:
    (bastion_home / "settings.json").write_text(json.dumps(
        {"audit": {"logPath": str(tmp_path / "no-such-dir" / "sub" / "audit.jsonl")}}))
    script = write_script(tmp_path / "s.jsonl", [{"content": "done"}])
    done = run_bastion("run", "x", "-w", workspace, "--provider", "replay", "--script", script)
    assert "internal error" not in done.stderr.lower()
    (bastion_home / "settings.json").unlink()
    listed = run_bastion("sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "running" not in [s["status"] for s in json.loads(listed.stdout)]


def test_a_sigkilled_run_is_swept_at_the_next_start(tmp_path: Path, workspace: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap)")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "run_command", "arguments": {
            "command": "echo started > started.txt; sleep 60", "timeout_s": 120}}]},
        {"content": "done"}])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bastion", "run", "slow", "-w", str(workspace), "--provider",
         "replay", "--script", str(script), "--approve", "auto"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while not (workspace / "started.txt").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    # a second, live session in the same data directory must not be swept
    script2 = write_script(tmp_path / "s2.jsonl", [
        {"content": "", "tool_calls": [{"name": "run_command", "arguments": {
            "command": "echo started > started2.txt; sleep 60", "timeout_s": 120}}]},
        {"content": "done"}])
    other = tmp_path / "other-ws"
    other.mkdir()
    live = subprocess.Popen(
        [sys.executable, "-m", "bastion", "run", "slow too", "-w", str(other),
         "--provider", "replay", "--script", str(script2), "--approve", "auto"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # no clean-up of any kind
        proc.wait()
        while True:  # the live run has created its session
            listed = run_bastion("sessions", "list", "--json")
            assert listed.returncode == 0, listed.stderr
            sessions = {s["title"]: s["status"] for s in json.loads(listed.stdout)}
            if "slow too" in sessions and (other / "started2.txt").exists():
                break
            assert live.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert sessions == {"slow": "interrupted", "slow too": "running"}, sessions
    finally:
        os.killpg(live.pid, signal.SIGTERM)
        live.wait(timeout=60)
    listed = run_bastion("sessions", "list", "--json")
    assert {s["status"] for s in json.loads(listed.stdout)} == {"interrupted"}
    verified = run_bastion("audit", "verify")
    assert "internal error" not in verified.stderr.lower()
