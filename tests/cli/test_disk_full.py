"""A full disk in the data directory is one clear line naming the folder (exit 1), never an
internal error; the session is not left running and the audit log still verifies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import require, write_script

SCRIPT = """set -e
mount -t tmpfs -o size=3m tmpfs "$HOME_DIR"
"$PY" -m bastion sessions list >/dev/null
dd if=/dev/zero of="$HOME_DIR/filler" bs=64k 2>/dev/null || true
truncate -s "-${FREE}k" "$HOME_DIR/filler"
set +e
"$PY" -m bastion run x -w "$WS" --provider replay --script "$SCRIPT_FILE" --approve auto \
    2>"$OUT/run.err"
echo $? > "$OUT/run.rc"
rm "$HOME_DIR/filler"
"$PY" -m bastion audit verify >"$OUT/verify.out" 2>&1; echo $? > "$OUT/verify.rc"
"$PY" -m bastion sessions list --json > "$OUT/sessions.json"
"""


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.parametrize("free_kib", [40, 150])
def test_disk_full_is_one_clear_line(tmp_path: Path, workspace: Path, free_kib: int) -> None:
    require(_can_mount_tmpfs(), "a user namespace that may mount tmpfs (unshare -rm)")
    home = tmp_path / "home"
    home.mkdir()
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": "a.txt", "content": "hi"}}]}, {"content": "done"}])
    env = {**os.environ, "HOME_DIR": str(home), "BASTION_HOME": str(home), "PY": sys.executable,
           "WS": str(workspace), "SCRIPT_FILE": str(script), "OUT": str(tmp_path),
           "FREE": str(free_kib)}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    err = (tmp_path / "run.err").read_text()
    assert (tmp_path / "run.rc").read_text().strip() == "1", err
    assert "internal error" not in err.lower() and str(home) in err, err
    assert (tmp_path / "verify.rc").read_text().strip() == "0", \
        (tmp_path / "verify.out").read_text()
    sessions = json.loads((tmp_path / "sessions.json").read_text() or "[]")
    assert "running" not in [s["status"] for s in sessions]
