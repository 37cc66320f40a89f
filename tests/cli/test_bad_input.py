"""Hostile and mistaken input that used to end in "internal error" (exit 70): each one is now
one clear line and a documented exit status, and nothing is written that should not be."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from forkrun import run_all


def _one(argv: list[str], home: Path, tmp_path: Path) -> tuple[int, str]:
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    return run_all([argv], home, out_dir)[0]


def _clear(output: str) -> None:
    assert "internal error" not in output.lower(), output
    assert "Traceback" not in output, output


@pytest.mark.parametrize("raw,expect", [
    ('{"offlineMode": true}'.encode("utf-16"), "UTF-16"),
    (b'{"offlineMode": "\xff"}', "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}', "larger than"),
])
def test_unreadable_settings_are_one_clear_line(bastion_home: Path, tmp_path: Path,
                                                raw: bytes, expect: str) -> None:
    (bastion_home / "settings.json").write_bytes(raw)
    code, output = _one(["config", "show"], bastion_home, tmp_path)
    _clear(output)
    assert code == 1 and expect in output and "settings.json" in output


def test_a_utf8_byte_order_mark_is_accepted(bastion_home: Path, tmp_path: Path) -> None:
    (bastion_home / "settings.json").write_bytes(b"\xef\xbb\xbf" + b'{"offlineMode": true}')
    code, output = _one(["config", "get", "offlineMode"], bastion_home, tmp_path)
    assert code == 0 and output.strip().endswith("true"), output


def test_config_set_refuses_a_value_that_only_converts(bastion_home: Path,
                                                       tmp_path: Path) -> None:
    code, output = _one(["config", "set", "offlineMode", "yes"], bastion_home, tmp_path)
    _clear(output)
    assert code == 1 and "offlineMode" in output
    assert not (bastion_home / "settings.json").exists()  # nothing was stored
    code, output = _one(["config", "set", "offlineMode", "true"], bastion_home, tmp_path)
    assert code == 0, output
    assert json.loads((bastion_home / "settings.json").read_text())["offlineMode"] is True


def test_config_validate_of_a_missing_file_is_a_usage_error(bastion_home: Path,
                                                            tmp_path: Path) -> None:
    code, output = _one(["config", "validate", str(tmp_path / "nonexistent.json")],
                        bastion_home, tmp_path)
    _clear(output)
    assert code == 2 and "nonexistent.json" in output and "valid" not in output.split()[-1]


def test_bastion_home_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    code, output = _one(["sessions", "list"], home, tmp_path)
    _clear(output)
    assert code == 1 and "not a directory" in output and str(home) in output


def test_non_utf8_agent_yaml(bastion_home: Path, tmp_path: Path) -> None:
    agents = bastion_home / "agents"
    agents.mkdir()
    (agents / "bad.yaml").write_bytes(b"name: bad\nprompt: \xff\xfe\n")
    code, output = _one(["agents", "validate", str(agents / "bad.yaml")], bastion_home, tmp_path)
    _clear(output)
    assert code == 1 and "not UTF-8" in output


def test_record_pointing_at_a_folder(bastion_home: Path, tmp_path: Path,
                                     workspace: Path) -> None:
    script = tmp_path / "s.jsonl"
    script.write_text('{"content": "done"}\n')
    code, output = _one(["run", "hi", "-w", str(workspace), "--provider", "replay",
                         "--script", str(script), "--record", str(tmp_path)],
                        bastion_home, tmp_path)
    _clear(output)
    assert code == 1 and "--record" in output


def test_export_refuses_a_folder_and_an_existing_file(bastion_home: Path,
                                                      tmp_path: Path) -> None:
    target = tmp_path / "exports"
    target.mkdir()
    code, output = _one(["export", "--out", f"{target}{os.sep}"], bastion_home, tmp_path)
    _clear(output)
    assert code == 1 and "folder" in output
    existing = tmp_path / "mine.zip"
    existing.write_bytes(b"my own file")
    code, output = _one(["export", "--out", str(existing)], bastion_home, tmp_path)
    _clear(output)
    assert code == 1 and "already exists" in output
    assert existing.read_bytes() == b"my own file"
    code, output = _one(["export", "--out", str(existing), "--force"], bastion_home, tmp_path)
    assert code == 0, output
    assert existing.read_bytes()[:2] == b"PK"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_max_steps_must_be_positive(bastion_home: Path, tmp_path: Path) -> None:
    code, output = _one(["run", "x", "--max-steps", "-1"], bastion_home, tmp_path)
    _clear(output)
    assert code == 2 and "--max-steps" in output


def test_values_too_deep_to_be_settings_are_usage_errors(bastion_home: Path,
                                                         tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    code, output = _one(["config", "set", "permissions.allow", deep], bastion_home, tmp_path)
    _clear(output)
    assert code == 2 and "nested too deeply" in output
    assert not (bastion_home / "settings.json").exists()
    code, output = _one(["run", "x", "-w", str(tmp_path), "--provider", "replay", "--script",
                         str(tmp_path / "none.jsonl"), "-c", f"permissions.allow={deep}"],
                        bastion_home, tmp_path)
    _clear(output)
    assert code == 2 and "nested too deeply" in output
