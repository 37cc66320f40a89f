"""Cost of the settings layers per command: the layered load (managed file with ownership check,
a role, the user's file, origins) against parsing the user's file alone, plus audit-mode record
cost with ``logPath`` rotation against standard records.

Prints ratios against a baseline measured in the same process (no timed assertions).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

N = 300


def _time(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def settings_layers(root: Path) -> None:
    from bastion.config import load_settings, parse_settings, read_settings_json

    user = root / "home" / "settings.json"
    user.parent.mkdir()
    user.write_text(json.dumps({"network": {"allowedDomains": ["a.corp.example", "x.example"]},
                                "permissions": {"deny": ["Read(./secret)"]}}))
    managed = root / "etc" / "managed-settings.json"
    managed.parent.mkdir()
    managed.write_text(json.dumps({
        "network": {"allowedDomains": ["*.corp.example"]}, "telemetry": {"enabled": False},
        "locked": ["audit.logPath"], "roles": {"dev": {"agent": {"maxSteps": 10}}},
        "assignments": {"user:root": "dev", f"user:{os.environ.get('USER', 'root')}": "dev"}}))
    os.environ["BASTION_HOME"] = str(user.parent)
    plain = _time(lambda: parse_settings(read_settings_json(user), user), N)
    os.environ.pop("BASTION_MANAGED_SETTINGS", None)
    no_managed = _time(load_settings, N)
    os.environ["BASTION_MANAGED_SETTINGS"] = str(managed)
    layered = _time(load_settings, N)
    print(f"settings: parse user file {plain * 1e3:.2f} ms; layered without managed file "
          f"{no_managed * 1e3:.2f} ms ({no_managed / plain:.1f}x); with managed file + role "
          f"{layered * 1e3:.2f} ms ({layered / plain:.1f}x)")


def audit_records(root: Path, n: int = 2000) -> None:
    from bastion.audit import AuditLog
    from bastion.config import Settings
    from bastion.store import Database
    from bastion.vault import Vault

    def per_record(audit: dict[str, object], name: str) -> float:
        home = root / name
        home.mkdir()
        vault = Vault(home, os.urandom(32), "passphrase")
        db = Database(home / "b.db", vault.subkey("database"))
        log = AuditLog(db, vault, Settings.model_validate({"audit": audit}),
                       checkpoint_every=10**9)
        payload = {"name": "read_file", "arguments": {"path": "src/app.py"}, "pad": "x" * 120}
        start = time.perf_counter()
        for _ in range(n):
            log.record("tool", "call", payload, session_id="s")
        elapsed = (time.perf_counter() - start) / n
        db.close()
        return elapsed

    base = per_record({}, "standard")
    full = per_record({"level": "full", "logPath": str(root / "log" / "a.jsonl"),
                       "rotateMb": 0.25}, "full")
    parts = len(list((root / "log").glob("a.jsonl.*")))
    print(f"audit: standard record {base * 1e3:.2f} ms; audit mode + logPath + rotation "
          f"({parts} rotations) {full * 1e3:.2f} ms ({full / base:.2f}x)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings_layers(Path(tmp))
        audit_records(Path(tmp))


if __name__ == "__main__":
    main()
