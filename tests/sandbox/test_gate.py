"""The gate a command is started through runs *outside* the sandbox: the command's words reach
it as a quoted line, so a word that the gate's shell interpreted would run on the host. Each
hostile word must arrive in the sandboxed command byte for byte, and nothing may run outside.
Gates are prepared ahead of the command; none may outlive Bastion's use of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.sandbox import SandboxUnavailable, cgroup, compile_spec, gate, run_sandboxed
from bastion.sandbox.launcher import ensure_available
from helpers import require

from .conftest import Box

pytestmark = pytest.mark.sandbox


def _hostile(canary: Path) -> list[str]:
    c = str(canary)
    return [
        f"'; touch {c}; '", f'"; touch {c}; "', f"$(touch {c})", f"`touch {c}`",
        f"x\ntouch {c}\n", f"\\'; touch {c} #", "\\", "", " lead and trail ", "a\tb",
        f"$nl$(touch {c})", "'\"'\"'", "ünï\u00a0cødé", f"*; touch {c}", "-c", "--",
        "line\n\n'\n", "\r\n", "${IFS}", f"<{c}", f">{c}",
    ]


def test_hostile_words_reach_the_command_verbatim_and_nothing_runs_outside(box: Box) -> None:
    canary = box.outside / "pwned"
    words = _hostile(canary)
    spec = compile_spec(box.policy, box.settings)
    # python3 inside prints each argument's bytes: the verdict is what arrived, not the exit
    probe = "import sys; [print(repr(a)) for a in sys.argv[1:]]"
    for _ in range(2):  # once started on demand, once through a gate prepared ahead
        result = run_sandboxed(["python3", "-c", probe, *words], spec, 20, 100_000)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [repr(w) for w in words]
        assert not canary.exists()
        assert not (box.ws / "pwned").exists()


def test_shell_command_text_is_passed_as_one_word(box: Box) -> None:
    spec = compile_spec(box.policy, box.settings)
    result = run_sandboxed("printf '%s|' \"$0\" 'it'\"'\"'s'\necho done", spec, 20, 10_000)
    assert result.stdout == "/bin/sh|it's|done\n", result.stdout


def test_unreleased_gate_starts_nothing(box: Box) -> None:
    spec = compile_spec(box.policy, box.settings)
    g = gate.start(spec, ensure_available())
    try:
        assert g.alive()
        assert g.proc.stdin is not None
        g.proc.stdin.close()  # the parent "dies" before releasing it
        g.proc.stdin = None
        assert g.proc.wait(timeout=10) == 125
    finally:
        g.abandon()
    assert all(not p.exists() for p in (g.cg.paths if g.cg else []))


def test_prepared_gates_do_not_outlive_their_use(box: Box) -> None:
    spec = compile_spec(box.policy, box.settings)
    for _ in range(3):
        assert run_sandboxed("true", spec, 20, 1000).exit_code == 0
    pending = list(gate._next)
    assert len(pending) == gate.POOL  # the next commands' gates, made ahead
    prepared = [future.result(timeout=10) for _, future in pending]
    assert all(g.alive() for g in prepared)
    gate.discard_prepared()
    for g in prepared:
        assert g.proc.poll() is not None
        assert all(not p.exists() for p in (g.cg.paths if g.cg else []))
    # no cgroup of this process is left in any hierarchy (the command's are removed in the
    # background, on the spawner thread: give it a moment)
    gate.keyring.submit_fresh(lambda: None).result(timeout=10)
    mine = f"bastion-{os.getpid()}-"
    left = [e for parent, _ in cgroup.layout().values() for e in os.listdir(parent)
            if e.startswith(mine)]
    assert left == []


def test_gate_that_cannot_enter_its_cgroup_runs_nothing(box: Box,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    require(bool(cgroup.layout()), "a writable cgroup")
    gate.discard_prepared()
    monkeypatch.setattr(cgroup.CommandCgroup, "join_files",
                        lambda self: [str(box.outside / "no-such-dir" / "tasks")])
    spec = compile_spec(box.policy, box.settings)
    with pytest.raises(SandboxUnavailable, match="could not be confined"):  # either way
        run_sandboxed(["touch", str(box.ws / "ran")], spec, 20, 1000)
    assert not (box.ws / "ran").exists()
    gate.discard_prepared()  # the one prepared with the broken join files


def test_second_gate_is_prepared_only_once_prepared_gates_are_used(
        box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    # a one-shot process (bastion exec) would make and kill a second gate at exit for nothing
    gate.discard_prepared()
    monkeypatch.setattr(gate, "_used", False)
    spec = compile_spec(box.policy, box.settings)
    assert run_sandboxed("true", spec, 20, 1000).exit_code == 0  # started on demand
    assert len(gate._next) == 1
    assert run_sandboxed("true", spec, 20, 1000).exit_code == 0  # took the prepared one
    assert len(gate._next) == gate.POOL
    gate.discard_prepared()
