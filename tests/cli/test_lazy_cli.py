"""The CLI starts without importing what the command does not use (cli/lazy.py).

Verdicts come from a fresh interpreter's ``sys.modules`` after the real entry point ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.cli.lazy import COMMANDS, load_command

HEAVY = ("bashlex", "llama_cpp", "mcp", "httpx", "openai", "anthropic", "sqlcipher3",
         "cryptography", "keyring", "pydantic")

_PROBE = """
import atexit, json, sys
HEAVY = {heavy!r}
def report():
    loaded = sorted(m for m in HEAVY if m in sys.modules)
    sys.stderr.write("LOADED=" + json.dumps(loaded) + "\\n")
atexit.register(report)
{body}
"""


def _probe(body: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    code = _PROBE.format(heavy=HEAVY, body=body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "120"}, timeout=60,
                          stdin=subprocess.DEVNULL)
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED=")]
    assert line, proc.stderr
    return json.loads(line[-1].removeprefix("LOADED=")), proc


def _main_with(*argv: str) -> str:
    return ("import sys\nfrom bastion.cli import main\n"
            f"sys.argv = ['bastion', *{list(argv)!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")


def test_importing_bastion_cli_loads_no_heavy_library() -> None:
    loaded, _ = _probe("import bastion.cli")
    assert loaded == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["config", "get", "offlineMode"],
                                  ["config", "--help"]])
def test_cheap_commands_load_no_heavy_library(argv: list[str]) -> None:
    loaded, proc = _probe(_main_with(*argv))
    assert loaded == [], (argv, proc.stdout[-500:], proc.stderr[-500:])
    assert proc.stdout.strip(), proc.stderr  # the command really ran and printed something


def test_config_get_prints_the_setting() -> None:
    _, proc = _probe(_main_with("config", "get", "offlineMode"))
    assert proc.stdout.strip() == "false"


def test_root_help_lists_every_registered_command_and_no_bool_labels() -> None:
    _, proc = _probe(_main_with("--help"))
    for name in COMMANDS:
        assert f" {name} " in proc.stdout, name
    assert "<bool>" not in proc.stdout
    assert "Usage: bastion " in proc.stdout


def test_every_registered_command_loads() -> None:
    for name in COMMANDS:
        command = load_command(name)
        assert command.name == name
        assert (command.help or "").strip(), f"{name} has no help text"


def test_a_replay_run_without_network_or_commands_loads_none_of_them(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("hello\n")
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"content": "", "tool_calls": [
        {"name": "read_file", "arguments": {"path": "notes.txt"}}]}) + "\n"
        + json.dumps({"content": "done"}) + "\n")
    loaded, proc = _probe(_main_with("run", "read", "-w", str(ws), "--provider", "replay",
                                     "--script", str(script), "--json"))
    assert json.loads(proc.stdout.splitlines()[-1])["answer"] == "done", proc.stderr
    assert not {"bashlex", "llama_cpp", "mcp", "httpx", "openai", "anthropic"} & set(loaded)
    # settings and tool arguments are bastion.datamodel models; with keyring's own "no
    # keychain" switch set (conftest), keyring is not imported to learn that
    assert not {"pydantic", "keyring"} & set(loaded), loaded


def test_scan_loads_neither_heavy_libraries_nor_pydantic(tmp_path: Path) -> None:
    """``scan`` imports only the privacy package; Typer's Pydantic-based parameter coercion
    is bypassed for plain types (cli/_fastparams.py), so Pydantic is not imported either."""
    target = tmp_path / "config.py"
    target.write_text("API_KEY = 'sk-proj-" + "a1B2c3D4" * 6 + "'\n")
    body = _main_with("scan", str(target)) + (
        "sys.stderr.write('PYDANTIC=' + str('pydantic' in sys.modules) + '\\n')\n")
    loaded, proc = _probe(body)
    assert loaded == [], proc.stderr[-500:]
    assert "openai-project-key" in proc.stdout, proc.stderr[-500:]
    assert "PYDANTIC=False" in proc.stderr
