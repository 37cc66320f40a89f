"""MCP stdio servers run under the same whole-process-tree cgroup as commands: a server that
burns its lifetime CPU budget, or whose processes together exceed the memory limit, is stopped
as a whole and says why; an idle server is left alone. Verdicts from outside: the process has
exited, the host cgroup's CPU counter, the stop note."""

from __future__ import annotations

import time

import pytest

from bastion.sandbox import cgroup, compile_spec
from bastion.sandbox.process import start_sandboxed
from helpers import require

from .conftest import Box

pytestmark = pytest.mark.sandbox

BURN = "import time\nwhile True: pass\n"


def _wait_exit(server: object, limit_s: float) -> float:
    start = time.monotonic()
    proc = server.proc  # type: ignore[attr-defined]
    while proc.poll() is None and time.monotonic() - start < limit_s:
        time.sleep(0.1)
    return time.monotonic() - start


def test_server_over_its_cpu_budget_is_stopped_with_its_reason(box: Box) -> None:
    require("cpuacct" in cgroup.layout(), "a writable cpuacct cgroup")
    spec = compile_spec(box.policy, box.settings)
    # three burners in one server: the budget is for the server as a whole
    code = "import subprocess, sys\n" \
        "ps = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(2)]\n" \
        "while True: pass\n"
    server = start_sandboxed(["python3", "-c", code], spec, cpu_budget_s=2)
    try:
        took = _wait_exit(server, 20)
        assert server.proc.poll() is not None, "the server was not stopped"
        assert took < 15
        assert server.stopped == "cpu"
        assert server.stop_note is not None and "sandbox.mcpCpuSeconds" in server.stop_note
        assert "CPU budget of 2 CPU seconds" in server.stop_note
    finally:
        server.stop(grace_s=0.1)


def test_server_processes_together_over_memory_are_stopped(box: Box) -> None:
    require("memory" in cgroup.layout(), "a writable memory cgroup")
    spec = compile_spec(box.policy, box.settings.model_copy(update={"memory_mb": 256}))
    alloc = "import time; x = b'a' * (120 << 20); time.sleep(60)"
    code = "import subprocess, sys, time\n" \
        f"ps = [subprocess.Popen([sys.executable, '-c', {alloc!r}]) for _ in range(3)]\n" \
        "time.sleep(60)\n"
    server = start_sandboxed(["python3", "-c", code], spec, cpu_budget_s=100)
    try:
        _wait_exit(server, 20)
        assert server.proc.poll() is not None, "the server was not stopped"
        assert server.stopped == "memory"
        assert server.stop_note is not None and "sandbox.memoryMb" in server.stop_note
    finally:
        server.stop(grace_s=0.1)


def test_idle_server_keeps_running_and_answers(box: Box) -> None:
    spec = compile_spec(box.policy, box.settings)
    server = start_sandboxed(["cat"], spec, cpu_budget_s=1)
    try:
        time.sleep(1.5)  # three budget checks
        assert server.proc.poll() is None and server.stopped is None
        server.stdin.write(b"ping\n")
        server.stdin.flush()
        assert server.stdout.readline() == b"ping\n"
    finally:
        server.stop(grace_s=0.5)
