"""Audit log throughput: appends (records/s) and verification of 100,000 records.

Each append is its own transaction (as in real use: a record is durable before the action it
describes goes on). The baseline is a bare INSERT of the same row into the same encrypted
table without the chain (no head lookup, no HMACs), so the ratio is the chain's cost.

    .venv/bin/python bench/bench_audit.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bastion.audit import AuditLog
from bastion.audit.redact import default_redactor, identity
from bastion.config import Settings
from bastion.store import Database
from bastion.vault import Vault


def payload(i: int) -> dict[str, object]:
    return {"id": f"call_{i}", "name": "read_file", "arguments": {"path": f"src/module_{i}.py"}}


def open_log(folder: Path, **kwargs: object) -> AuditLog:
    folder.mkdir()
    vault = Vault(folder, os.urandom(32), "passphrase")
    db = Database(folder / "bastion.db", vault.subkey("database"))
    settings = kwargs.pop("settings", Settings())
    return AuditLog(db, vault, settings, **kwargs)  # type: ignore[arg-type]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} records/s  ({seconds * 1000:,.0f} ms for {count:,})"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        base = open_log(root / "baseline", redact=identity)
        t = time.perf_counter()
        for i in range(n):
            with base.db.transaction() as conn:
                conn.execute("INSERT INTO audit_log VALUES (?, ?, 'tool', 'call', 's', ?, ?, ?, ?)",
                             (i + 1, "2026-11-22T00:00:00.000000Z", "0" * 64, "0" * 64,
                              "0" * 64, str(payload(i))))
        baseline = time.perf_counter() - t

        log = open_log(root / "chain", redact=identity, checkpoint_every=100)
        t = time.perf_counter()
        for i in range(n):
            log.record("tool", "call", payload(i), session_id="s")
        appended = time.perf_counter() - t
        log.close()

        t = time.perf_counter()
        report = log.verify()
        verified = time.perf_counter() - t
        assert report.ok and report.checked == n, report.summary()

        export = root / "export.jsonl"
        with export.open("w") as fh:
            log.export(fh)
        t = time.perf_counter()
        file_report = log.verify_file(export)
        verified_file = time.perf_counter() - t
        assert file_report.ok, file_report.summary()

        m = min(n, 10_000)
        redacting = default_redactor()
        red = open_log(root / "redact")
        t = time.perf_counter()
        for i in range(m):
            red.record("tool", "call", payload(i), session_id="s")
        with_redactor = time.perf_counter() - t

        mirrored = open_log(root / "mirror", redact=identity, settings=Settings.model_validate(
            {"audit": {"logPath": str(root / "mirror.jsonl")}}))
        t = time.perf_counter()
        for i in range(m):
            mirrored.record("tool", "call", payload(i), session_id="s")
        with_file = time.perf_counter() - t

        t = time.perf_counter()
        for _ in range(200):
            log.checkpoint()
            log.record("user", "approve", {})
        per_checkpoint = (time.perf_counter() - t) / 200

    print(f"audit log, {n:,} records, one transaction per append (SQLCipher, WAL)")
    print(f"  bare encrypted insert (baseline) {rate(n, baseline)}")
    print(f"  append, chained + checkpoints    {rate(n, appended)}"
          f"  = {appended / baseline:.2f}x baseline")
    name = "identity" if redacting is identity else type(getattr(redacting, "__self__", 0)).__name__
    print(f"  append, default redactor ({name}) {rate(m, with_redactor)}")
    print(f"  append + logPath JSONL mirror    {rate(m, with_file)}")
    print(f"  verify database                  {rate(n, verified)}")
    print(f"  verify --file (JSONL export)     {rate(n, verified_file)}")
    print(f"  one signed checkpoint + record   {per_checkpoint * 1000:.2f} ms")


if __name__ == "__main__":
    main()
