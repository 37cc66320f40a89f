"""Audit mode (``--mode audit`` / ``audit.level: "full"``) and size rotation of ``logPath``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bastion.audit.files import rotated_segments
from helpers import run_bastion, write_script

from .conftest import open_light, write_settings


def test_ten_thousand_records_rotate_and_verify(bastion_home: Path, tmp_path: Path,
                                                master: bytes) -> None:
    log_file = tmp_path / "logs" / "bastion-audit.jsonl"
    write_settings(bastion_home, {"audit": {"logPath": str(log_file), "rotateMb": 0.5,
                                            "level": "full"}})
    rt = open_light(bastion_home, master)
    started = time.perf_counter()
    for i in range(10_000):
        rt.audit.record("tool", "call", {"name": "read_file", "arguments": {"path": f"f{i}.txt"},
                                         "pad": "x" * 120}, session_id="s")
    elapsed = time.perf_counter() - started
    rt.audit.checkpoint()
    parts = rotated_segments(log_file)
    assert len(parts) >= 3, f"expected rotations, got {parts}"
    assert all(p.stat().st_size >= 512 * 1024 for p in parts)
    seqs = [json.loads(line)["seq"] for p in [*parts, log_file] for line in p.open()]
    assert seqs == list(range(1, rt.audit.head() + 1))  # every record once, in order
    report = rt.audit.verify_file(log_file)
    assert report.ok, report.summary()
    assert report.checked == rt.audit.head() >= 10_000
    assert any("rotated part" in n for n in report.notes)
    print(f"10,000 records with rotation: {elapsed:.1f} s")

    # a record changed inside a rotated part is found; so is a missing part
    lines = parts[1].read_text().splitlines(keepends=True)
    doc = json.loads(lines[10])
    doc["payload"]["arguments"]["path"] = "other.txt"
    lines[10] = json.dumps(doc) + "\n"
    original = parts[1].read_text()
    parts[1].write_text("".join(lines))
    bad = rt.audit.verify_file(log_file)
    assert not bad.ok and bad.first_bad_seq == doc["seq"] and bad.kind == "modified"
    parts[1].write_text(original)
    assert rt.audit.verify_file(log_file).ok
    parts[0].unlink()
    gone = rt.audit.verify_file(log_file)
    assert not gone.ok and gone.first_bad_seq == 1
    rt.close()


def test_audit_mode_records_results_files_and_config(workspace: Path, tmp_path: Path,
                                                     bastion_home: Path) -> None:
    log_file = tmp_path / "audit.jsonl"
    write_settings(bastion_home, {"audit": {"logPath": str(log_file),
                                            "includeToolCalls": False,
                                            "includeFileAccess": False}})
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "read_file", "arguments": {"path": "src/app.py"}}]},
        {"content": "", "tool_calls": [{"name": "write_file", "arguments": {
            "path": "notes.txt", "content": "audit me " * 400}}]},
        {"content": "done"}])
    r = run_bastion("run", "go", "-w", workspace, "--provider", "replay", "--script", script,
                    "--mode", "audit", "--approve", "auto")
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in log_file.read_text().splitlines()]
    by = {(d["category"], d["action"]) for d in docs}
    assert {("tool", "call"), ("tool", "result"), ("file", "read"), ("file", "write"),
            ("config", "read")} <= by, by
    results = [d["payload"] for d in docs if d["category"] == "tool" and d["action"] == "result"]
    assert "print('hello')" in results[0]["content"]  # the full result the model saw
    call = next(d["payload"] for d in docs if d["category"] == "tool" and d["action"] == "call"
                and d["payload"]["name"] == "write_file")
    assert call["arguments"]["content"] == "audit me " * 400  # not clipped at 2,000 characters
    config = next(d["payload"] for d in docs if d["category"] == "config")
    assert {f["layer"] for f in config["files"]} >= {"user", "project"}
    assert run_bastion("audit", "verify", "--file", log_file).returncode == 0

    # without audit mode the same settings keep tool and file records out
    log_file.unlink()
    r = run_bastion("run", "go", "-w", workspace, "--provider", "replay", "--script", script,
                    "--approve", "auto")
    assert r.returncode == 0, r.stderr
    assert not any(json.loads(line)["category"] == "tool"
                   for line in log_file.read_text().splitlines())
