"""Consistent refusals: unknown names list the known ones, no terminal explains --yes."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_bastion, write_script


def test_keys_set_refuses_a_misspelt_provider_with_the_known_names() -> None:
    r = run_bastion("keys", "set", "opneai", "--stdin", input="sk-test-abcdef123456\n")
    assert r.returncode == 2
    assert "openai" in r.stderr and "anthropic" in r.stderr
    listed = run_bastion("keys", "list", "--json")
    assert json.loads(listed.stdout) == []  # nothing was stored


def test_sessions_delete_without_a_terminal_explains_yes(tmp_path: Path, workspace: Path) -> None:
    script = write_script(tmp_path / "s.jsonl", [{"content": "ok"}])
    made = run_bastion("run", "hello", "-w", workspace, "--provider", "replay", "--script",
                       script, "--json")
    sid = json.loads(made.stdout.splitlines()[-1])["session_id"]
    r = run_bastion("sessions", "delete", sid, input="")
    assert r.returncode == 1 and "--yes" in r.stderr and "nothing was deleted" in r.stderr
    assert sid in run_bastion("sessions", "list", "--json").stdout


def test_keys_rotate_without_a_terminal_asks_for_yes() -> None:
    r = run_bastion("keys", "rotate", input="")
    assert r.returncode == 1 and "--yes" in r.stderr
