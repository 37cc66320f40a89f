"""Every command documents one example; shell completion works from the lazy command table."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bastion.cli.lazy import COMMANDS, load_command
from helpers import run_bastion


def _leaves(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    sub = getattr(command, "commands", None)
    if sub:
        for name, child in sub.items():
            yield from _leaves(child, [*path, name])
    else:
        yield " ".join(path), command


def test_every_command_help_has_one_example_line() -> None:
    missing = []
    for name in COMMANDS:
        for path, command in _leaves(load_command(name), [name]):
            examples = [line for line in (command.help or "").splitlines()
                        if line.strip().startswith("Example: ") and f"bastion {path}" in line]
            if len(examples) != 1:
                missing.append(path)
    assert missing == [], f"commands without exactly one 'Example: … bastion <command> …' line: {missing}"


def test_example_is_shown_by_help() -> None:
    r = run_bastion("sessions", "delete", "--help")
    assert r.returncode == 0 and "Example: bastion sessions delete" in r.stdout
    assert "<bool>" not in r.stdout


def _complete(shell: str, words: str, cword: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "_BASTION_COMPLETE": f"complete_{shell}", "COMP_WORDS": words,
           "COMP_CWORD": str(cword if cword is not None else len(words.split()) - 1),
           "_TYPER_COMPLETE_ARGS": words}
    return subprocess.run([sys.executable, "-m", "bastion"], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_calls_bastion_back(shell: str) -> None:
    r = run_bastion("completion", shell)
    assert r.returncode == 0, r.stderr
    assert "_BASTION_COMPLETE" in r.stdout and "bastion" in r.stdout


def test_completion_of_unknown_shell_is_a_usage_error() -> None:
    r = run_bastion("completion", "powershell")
    assert r.returncode == 2 and "bash" in r.stderr


def test_bash_completion_of_commands_subcommands_and_options() -> None:
    assert _complete("bash", "bastion se").stdout.split() == ["sessions"]
    assert set(_complete("bash", "bastion sessions ", 2).stdout.split()) == {
        "list", "show", "delete", "search"}
    assert "--continue" in _complete("bash", "bastion run --con").stdout.split()
