"""Never destroy what cannot be restored: unattended, what the journal cannot keep (``.git``,
virtual environments, ``node_modules``, files over the size limit) is read-only for a command;
regenerated caches stay writable. Verdicts from the disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.tools.run_command import format_outcome

from .conftest import Box

pytestmark = pytest.mark.sandbox

HOSTILE = ("rm -rf .git .venv node_modules big.bin; echo junk > .git/HEAD; "
           "echo x >> big.bin; echo pyc > __pycache__/b.pyc; echo ok > new.txt")


def _plant(ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ws / ".venv" / "lib").mkdir(parents=True)
    (ws / ".venv" / "lib" / "site.py").write_text("x = 1\n")
    (ws / "node_modules" / "left-pad").mkdir(parents=True)
    (ws / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    (ws / "__pycache__").mkdir()
    with open(ws / "big.bin", "wb") as f:  # sparse: over the journal's 16 MiB limit
        f.truncate(17 * 1024 * 1024)


def test_unattended_commands_cannot_destroy_what_undo_cannot_restore(box: Box) -> None:
    _plant(box.ws)
    out = box.run(HOSTILE)  # the box's policy is --approve never: unattended
    assert (box.ws / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (box.ws / ".venv" / "lib" / "site.py").exists()
    assert (box.ws / "node_modules" / "left-pad" / "index.js").exists()
    assert os.path.getsize(box.ws / "big.bin") == 17 * 1024 * 1024
    assert (box.ws / "__pycache__" / "b.pyc").read_text() == "pyc\n"  # a cache: writable
    assert (box.ws / "new.txt").read_text() == "ok\n"  # the control
    assert "undo could not restore" in format_outcome(out)


def test_at_a_terminal_the_person_decides(box: Box) -> None:
    _plant(box.ws)
    box.policy.approve = "ask"
    box.policy.interactive = True  # a person approved the command at a terminal
    out = box.run("rm -rf .venv")
    assert not (box.ws / ".venv").exists()
    assert out.read_only_unjournaled == []
