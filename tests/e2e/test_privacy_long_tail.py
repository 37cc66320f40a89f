"""Hostile replay: vendor tokens recognised only by the name next to them — a camelCase JSON
key, a ``*_pat`` variable, a command-line flag, a capitalised vendor word in prose — never
reach the model or the disk, whether read as files, found by grep or printed by a command.
Verdicts from outside Bastion: the bytes in --record, the history, the audit export, every
byte under BASTION_HOME; and ``bastion scan`` reports each file."""

from __future__ import annotations

import json
import random
import shutil
import string
from pathlib import Path

from helpers import all_bytes_under, read_record, require, run_bastion, write_script

_RNG = random.Random(2026)


def _token(n: int = 36) -> str:
    chars = string.ascii_letters + string.digits
    while True:
        t = "".join(_RNG.choice(chars) for _ in range(n))
        if any(c.isdigit() for c in t) and any(c.isupper() for c in t):
            return t


SECRETS = {name: _token() for name in ("json", "pat", "flag", "prose", "hex")}
SECRETS["hex"] = "".join(_RNG.choice("0123456789abcdef") for _ in range(40))


def _files(ws: Path) -> dict[str, str]:
    files = {
        "config.json": json.dumps({"service": {"zorblatKey": SECRETS["json"], "region": "eu"}},
                                  indent=2),
        "ci.env": f"# ci\nQUIXOTIC_PAT = {SECRETS['pat']}\n",
        "deploy.sh": f"#!/bin/sh\nfrobnicate-cli push --fluxwave-key {SECRETS['flag']} ./dist\n",
        "README.md": f"Setup\n\nThe Wubbledrop key: {SECRETS['prose']}\n",
        "app.json": json.dumps({"glimmerKey": SECRETS["hex"]}),
    }
    for name, text in files.items():
        (ws / name).write_text(text)
    return files


def _assert_clean(blob: bytes, where: str) -> None:
    for label, secret in SECRETS.items():
        for i in range(0, len(secret) - 16 + 1, 4):  # no 16-character window of any
            assert secret[i:i + 16].encode() not in blob, f"{label} leaked into {where}"


def test_long_tail_tokens_never_leave(workspace: Path, tmp_path: Path,
                                      bastion_home: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    files = _files(workspace)
    reads = [{"name": "read_file", "arguments": {"path": n}} for n in files]
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": reads},
        {"content": "", "tool_calls": [
            {"name": "grep", "arguments": {"pattern": "Key|PAT|key"}},
            {"name": "run_command", "arguments": {"command": "cat deploy.sh README.md ci.env"}}]},
        {"content": "done"},
    ])
    record = tmp_path / "record.jsonl"
    r = run_bastion("run", "look at the config", "-w", workspace, "--provider", "replay",
                    "--script", script, "--record", record, "--json", "--approve", "auto")
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout.splitlines()[-1])
    _assert_clean(record.read_bytes(), "--record")
    tool_results = [m["content"] for m in read_record(record)[-1]["messages"]
                    if m["role"] == "tool"]
    assert len(tool_results) == len(files) + 2
    assert all("[[SECRET:" in t for t in tool_results[:len(files)]), tool_results
    history = run_bastion("sessions", "show", final["session_id"], "--json")
    _assert_clean(history.stdout.encode(), "the history")
    audit = run_bastion("audit", "export", "--format", "jsonl")
    _assert_clean(audit.stdout.encode(), "the audit log")
    _assert_clean(all_bytes_under(bastion_home), "BASTION_HOME")


def test_scan_reports_each_long_tail_file(workspace: Path) -> None:
    files = _files(workspace)
    r = run_bastion("scan", workspace, "--format", "json")
    assert r.returncode == 1, r.stderr
    found = {Path(f["path"]).name for f in json.loads(r.stdout)}
    assert found == set(files)
