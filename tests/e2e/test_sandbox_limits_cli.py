"""Unattended limits end to end, verdicts from outside Bastion: the model's endless loop under
``--approve auto`` stops at the unattended wall clock and the model is told why (bytes in
``--record``); ``bastion exec`` does the same and says so on stderr; nothing is left running."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from helpers import read_record, require, run_bastion, write_script


def _settings(home: Path, **sandbox: object) -> None:
    (home / "settings.json").write_text(json.dumps({"sandbox": sandbox}))


def test_model_endless_loop_stops_at_the_unattended_default(workspace: Path, tmp_path: Path,
                                                            bastion_home: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    _settings(bastion_home, unattendedTimeoutS=1.5, defaultTimeoutS=60)
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "run_command",
                                        "arguments": {"command": "while :; do :; done"}}]},
        {"content": "done"},
    ])
    record = tmp_path / "r.jsonl"
    start = time.monotonic()
    r = run_bastion("run", "loop", "-w", workspace, "--provider", "replay", "--script", script,
                    "--record", record, "--approve", "auto")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start < 40  # not the attended 60 s default
    seen = record.read_text()
    assert "wall-clock limit of 1.5 s reached" in seen, read_record(record)
    assert "sandbox.unattendedTimeoutS" in seen


def test_exec_reports_the_stop_and_its_reason(workspace: Path, bastion_home: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    _settings(bastion_home, unattendedTimeoutS=1, maxFiles=200)
    r = run_bastion("exec", "-w", workspace, "--", "sh", "-c", "while :; do :; done")
    assert r.returncode != 0
    assert "stopped: wall-clock limit of 1 s reached" in r.stderr
    r = run_bastion("exec", "-w", workspace, "--", "sh", "-c",
                    "i=0; while :; do : > f$i; i=$((i+1)); done")
    assert r.returncode != 0
    assert "more than 200 new files created (sandbox.maxFiles)" in r.stderr, r.stderr
