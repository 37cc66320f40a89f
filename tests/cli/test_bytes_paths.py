"""A file name that is not valid UTF-8 never breaks a run: list_dir, glob, grep and read_file
work, the name reaches the model escaped (``\\xff``), and the history stores it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpers import read_record, run_bastion, write_script


def test_non_utf8_file_names(tmp_path: Path, workspace: Path) -> None:
    with open(os.path.join(os.fsencode(workspace), b"bad\xffname.txt"), "wb") as fh:
        fh.write(b"hello needle\n")
    (workspace / "ok.txt").write_text("needle ok\n")
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [
            {"name": "list_dir", "arguments": {"path": "."}},
            {"name": "glob", "arguments": {"pattern": "*.txt"}},
            {"name": "grep", "arguments": {"pattern": "needle"}},
            {"name": "read_file", "arguments": {"path": "ok.txt"}}]},
        {"content": "done"}])
    record = tmp_path / "rec.jsonl"
    done = run_bastion("run", "look", "-w", workspace, "--provider", "replay", "--script",
                       script, "--record", record, "--approve", "auto", "--json")
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr.lower()
    sent = read_record(record)[-1]["messages"]
    results = [m["content"] for m in sent if m["role"] == "tool"]
    assert len(results) == 4
    assert all("bad\\xffname.txt" in r for r in results[:3]), results
    assert "needle ok" in results[3]
    sid = json.loads(done.stdout.strip().splitlines()[-1])["session_id"]
    shown = run_bastion("sessions", "show", sid)
    assert shown.returncode == 0 and "internal error" not in shown.stderr.lower()
