"""Many Bastion processes on one data directory at once, fresh or initialised: every one
succeeds, one master key, and every session and its journaled change is kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import write_script

RUNS = 5


def _start_runs(home: Path, workspace: Path, tmp_path: Path, tag: str
                ) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "BASTION_HOME": str(home), "COLUMNS": "200"}
    procs = []
    for i in range(RUNS):
        script = write_script(tmp_path / f"{tag}{i}.jsonl", [
            {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
                "path": f"{tag}{i}.txt", "content": f"run {i}\n"}}]},
            {"content": "done"}])
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "bastion", "run", f"task {tag}{i}", "-w", str(workspace),
             "--provider", "replay", "--script", str(script), "--approve", "auto", "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL))
    return procs


def _finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids.append(json.loads(out.strip().splitlines()[-1])["session_id"])
    return ids


def _sessions(home: Path) -> list[dict[str, object]]:
    env = {**os.environ, "BASTION_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "bastion", "sessions", "list", "--json"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_concurrent_runs_on_a_fresh_and_then_an_initialised_data_dir(
        tmp_path: Path, workspace: Path) -> None:
    home = tmp_path / "fresh-home"  # does not exist yet: every process races to create it
    first = _finish(_start_runs(home, workspace, tmp_path, "a"))
    second = _finish(_start_runs(home, workspace, tmp_path, "b"))
    listed = {str(s["id"]): s for s in _sessions(home)}
    for sid in first + second:
        assert sid in listed and listed[sid]["status"] == "completed"
    for i in range(RUNS):
        assert (workspace / f"a{i}.txt").read_text() == f"run {i}\n"
        assert (workspace / f"b{i}.txt").read_text() == f"run {i}\n"
    # one key slot, and every change is in the journal (undoable)
    assert [p.name for p in home.iterdir() if p.name.startswith("keyslot")] == ["keyslot.json"]
    env = {**os.environ, "BASTION_HOME": str(home)}
    changes = subprocess.run([sys.executable, "-m", "bastion", "changes", "--json"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert changes.returncode == 0, changes.stderr
    assert {op["session_id"] for op in json.loads(changes.stdout)} >= set(first + second)
