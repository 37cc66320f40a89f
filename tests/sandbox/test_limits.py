"""Whole-command limits: memory (processes together and the private /tmp), CPU budget, the
unattended wall clock, the file budget and refused forks — each stop is reported with its
reason. Verdicts come from outside the sandbox (durations, the result, the host's cgroup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config.models import SandboxSettings
from bastion.policy import Grant, Policy
from bastion.sandbox import cgroup
from bastion.tools.run_command import CommandRunner, format_outcome
from helpers import require

from .conftest import Box

pytestmark = pytest.mark.sandbox

# touches every page: counted by the memory cgroup (a zeroed bytearray would not be)
ALLOC = "python3 -c \"import time; x = b'a' * ({mb} << 20); print('allocated', flush=True); " \
    "time.sleep({sleep})\""


def _need(controller: str) -> None:
    require(controller in cgroup.layout(), f"a writable {controller} cgroup")


def test_processes_together_exceeding_memory_are_killed_and_reported(box: Box) -> None:
    _need("memory")
    # each process stays far below the per-process address-space limit; together 3 x 120 MB
    one = ALLOC.format(mb=120, sleep=20)
    out = box.run(f"{one} & {one} & {one} & wait; echo survived", memory_mb=256)
    r = out.result
    assert r is not None
    assert r.stopped == "memory", (r.stdout, r.stderr, r.limit_notes)
    assert "survived" not in r.stdout and r.duration < 15
    assert any("memory limit of 256 MB" in n for n in r.limit_notes)
    assert "sandbox.memoryMb" in format_outcome(out)


def test_private_tmp_counts_against_memory(box: Box) -> None:
    _need("memory")
    alloc = ALLOC.format(mb=150, sleep=0)
    control = box.run(alloc, memory_mb=256).result
    assert control is not None and "allocated" in control.stdout and control.stopped is None
    # the same allocation after 150 MB were written to the sandbox's tmpfs /tmp
    out = box.run(f"head -c 150M /dev/zero > /tmp/fill && {alloc}", memory_mb=256).result
    assert out is not None
    assert "allocated" not in out.stdout and out.stopped == "memory", (out.stdout, out.stderr)


def test_tmpfs_is_size_limited(box: Box) -> None:
    out = box.run("head -c 300M /dev/zero > /tmp/fill; echo rc=$?; du -m /tmp/fill",
                  memory_mb=128).result
    assert out is not None
    assert "rc=0" not in out.stdout or out.stopped == "memory"


def test_cpu_budget_is_for_the_whole_command(box: Box) -> None:
    _need("cpuacct")
    burn = "python3 -c 'while True: pass'"
    out = box.run(f"{burn} & {burn} & {burn} & wait", cpu_seconds=2).result
    assert out is not None
    assert out.stopped == "cpu", (out.stderr, out.limit_notes)
    assert any("CPU budget of 2 CPU seconds" in n for n in out.limit_notes)
    # three burners: the budget is spent long before 2 s per process (6 s) of wall clock
    assert out.duration < 15


def test_endless_loop_stops_at_the_unattended_default(tmp_path: Path, bastion_home: Path
                                                      ) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    settings = SandboxSettings(default_timeout_s=20, unattended_timeout_s=1.5, cpu_seconds=20)
    unattended = Policy(ws, grants=[Grant(ws, "write", "t")], bastion_home=bastion_home,
                        approve="auto")
    runner = CommandRunner(unattended, settings)
    out = runner.run("while :; do :; done", authorized=True)
    r = out.result
    assert r is not None and r.timed_out and r.stopped == "time"
    assert r.duration < 8
    assert "wall-clock limit of 1.5 s" in format_outcome(out)
    # somebody at a terminal keeps the longer default; exec never does
    attended = Policy(ws, grants=[Grant(ws, "write", "t")], bastion_home=bastion_home,
                      approve="ask", interactive=True)
    assert CommandRunner(attended, settings).default_timeout("run_command") == 20
    assert CommandRunner(attended, settings).default_timeout("exec") == 1.5
    no_tty = Policy(ws, grants=[Grant(ws, "write", "t")], bastion_home=bastion_home,
                    approve="ask", interactive=False)
    assert CommandRunner(no_tty, settings).default_timeout("run_command") == 1.5


def test_file_budget_stops_the_command(box: Box) -> None:
    out = box.run("i=0; while :; do : > f$i; i=$((i+1)); done", max_files=300)
    r = out.result
    assert r is not None
    assert r.stopped == "files", (r.stderr, r.limit_notes)
    assert r.duration < 15
    assert any("more than 300 new files" in n for n in r.limit_notes)
    created = sum(1 for _ in box.ws.iterdir())
    assert 300 < created < 300 + 20_000  # stopped soon after the budget, not at the wall clock


def test_refused_forks_are_reported(box: Box) -> None:
    _need("pids")
    out = box.run("for i in $(seq 60); do sleep 5 & done; wait", max_processes=16,
                  timeout=6).result
    assert out is not None
    assert any("process limit reached (16 processes" in n for n in out.limit_notes)
