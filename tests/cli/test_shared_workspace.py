"""Two sessions in one workspace at once: a change belongs only to the operation that made it,
so undoing one session never takes away the other's work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from helpers import require, run_bastion, write_script


def _start(tmp_path: Path, ws: Path, name: str, calls: list[dict[str, object]]
           ) -> subprocess.Popen[str]:
    script = write_script(tmp_path / f"{name}.jsonl",
                          [{"content": "", "tool_calls": [c]} for c in calls]
                          + [{"content": "done"}])
    return subprocess.Popen(
        [sys.executable, "-m", "bastion", "run", name, "-w", str(ws), "--provider", "replay",
         "--script", str(script), "--approve", "auto", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"})


def _session(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return str(json.loads(out.strip().splitlines()[-1])["session_id"])


def test_concurrent_sessions_never_capture_each_others_files(tmp_path: Path,
                                                             workspace: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap)")
    slow = _start(tmp_path, workspace, "slow", [{"name": "run_command", "arguments": {
        "command": "touch started; sleep 4; echo a > from-command.txt", "timeout_s": 60}}])
    deadline = time.monotonic() + 120
    while not (workspace / "started").exists():
        assert slow.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    fast = _start(tmp_path, workspace, "fast", [
        {"name": "write_file", "arguments": {"path": "from-tool.txt", "content": "b\n"}},
        {"name": "run_command", "arguments": {"command": "echo c > from-second-command.txt",
                                              "timeout_s": 60}}])
    fast_id = _session(fast)
    slow_id = _session(slow)
    for name in ("from-command.txt", "from-tool.txt", "from-second-command.txt"):
        assert (workspace / name).exists(), name
    undone = run_bastion("undo", "--session", slow_id, "--yes")
    assert undone.returncode == 0, undone.stderr
    assert not (workspace / "from-command.txt").exists()
    assert (workspace / "from-tool.txt").read_text() == "b\n"  # the other session's work
    assert (workspace / "from-second-command.txt").read_text() == "c\n"
    undone = run_bastion("undo", "--session", fast_id, "--yes")
    assert undone.returncode == 0, undone.stderr
    assert not (workspace / "from-tool.txt").exists()
    assert not (workspace / "from-second-command.txt").exists()
