"""`bastion doctor` reports each component and says what is missing."""

import json
from pathlib import Path

from helpers import run_bastion


def test_doctor_reports_every_component(bastion_home: Path) -> None:
    r = run_bastion("doctor")
    assert r.returncode == 0, r.stderr
    for what in ("data directory", "master key", "database", "sandbox", "embedded model",
                 "network"):
        assert f"{what}:" in r.stdout
    assert "allowed domains: (none)" in r.stdout
    assert not (bastion_home / "bastion.db").exists()  # reporting creates nothing


def test_doctor_names_a_missing_model(bastion_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    (bastion_home / "settings.json").write_text(
        json.dumps({"providers": {"embedded": {"modelPath": str(missing)}}}))
    r = run_bastion("doctor")
    line = next(x for x in r.stdout.splitlines() if "embedded model:" in x)
    assert "missing" in line and f"{missing} not found" in line


def test_doctor_finds_a_damaged_database_and_says_so_in_json(bastion_home: Path) -> None:
    assert run_bastion("sessions", "list").returncode == 0
    r = run_bastion("doctor", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    checks = {c["check"]: c for c in json.loads(r.stdout)}
    assert checks["database"]["status"] == "ok" and "integrity" in checks["database"]["detail"]
    assert checks["data directory"]["status"] == "ok"
    db = bastion_home / "bastion.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) - 100])  # a truncated copy
    r = run_bastion("doctor", "--json")
    assert r.returncode == 1
    checks = {c["check"]: c for c in json.loads(r.stdout)}
    assert checks["database"]["status"] == "broken" and "truncated" in checks["database"]["detail"]
