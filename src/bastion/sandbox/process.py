"""A long-running process inside the sandbox, with pipes (MCP stdio servers).

:func:`run_sandboxed` runs a command to completion; a server must instead stay up and talk
over stdin/stdout. :func:`start_sandboxed` builds exactly the same layers (clean environment,
rlimits and its own cgroup, bwrap namespaces and mounts, seccomp, Landlock) and returns the
running process; :meth:`SandboxedProcess.stop` tears everything down.

Budgets: memory (the cgroup's ``memory.max``, the private ``/tmp`` included) and processes
(``pids.max``) hold for the server as a whole like for a command; CPU time is a budget for the
server's lifetime (``sandbox.mcpCpuSeconds``, all its processes together), checked by a watcher
thread every :data:`WATCH_S` seconds. A server that exceeds a budget, or one of whose processes
the kernel OOM-killed, is stopped as a whole and :attr:`SandboxedProcess.stop_note` says why.
There is no file-count budget: the inode counter it uses is file-system wide, and over a
session's lifetime other programs' files could not be told from the server's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import IO

from . import cgroup, gate, landlock, leftovers
from .launcher import ensure_available
from .mounts import build_args, claim_placeholders, create_placeholders, remove_placeholders
from .spec import SandboxSpec
from .watch import Watch

log = logging.getLogger(__name__)

#: how often a server's budgets are checked (seconds)
WATCH_S = 0.5
_WHAT = {"cpu": "CPU budget of {n} CPU seconds used up (sandbox.mcpCpuSeconds)",
         "memory": "a process was killed at the memory limit of {m} MB (sandbox.memoryMb)"}


@dataclass
class SandboxedProcess:
    """A started sandboxed process; ``stdin``/``stdout`` are binary pipes."""

    proc: subprocess.Popen[bytes]
    _cgroup: cgroup.CommandCgroup | None = None
    _placeholders: list[str] = field(default_factory=list)
    _claim: leftovers.Claim | None = None
    #: why the sandbox stopped the server ("cpu", "memory"), and a line saying so
    stopped: str | None = None
    stop_note: str | None = None
    _ended: threading.Event = field(default_factory=threading.Event)

    def watch(self, watch: Watch) -> None:
        """Check ``watch``'s budgets every :data:`WATCH_S` until the server ends."""
        watch.start()
        threading.Thread(target=self._watch, args=(watch,), daemon=True,
                         name=f"bastion-mcp-watch-{self.pid}").start()

    def _watch(self, watch: Watch) -> None:
        while not self._ended.wait(WATCH_S) and self.proc.poll() is None:
            reason = watch.check()
            if reason is None:
                continue
            self.stopped = reason
            what = _WHAT.get(reason, reason).format(n=watch.limits.cpu_seconds,
                                                    m=watch.limits.memory_mb)
            self.stop_note = f"MCP server stopped: {what}; all its processes were killed"
            log.warning("%s (pid %d)", self.stop_note, self.pid)
            self._kill()
            return

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self._cgroup is not None:
            self._cgroup.kill_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def stop(self, grace_s: float = 2.0) -> int | None:
        """Close stdin, give the process ``grace_s`` to exit, then kill the whole tree."""
        self._ended.set()
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        code: int | None = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = self.proc.wait(timeout=grace_s)
        # bwrap --die-with-parent and the cgroup make sure nothing below survives either
        self._kill()
        if code is None:
            code = self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        remove_placeholders(self._placeholders, self._claim)  # mount points made on the host
        self._placeholders.clear()
        self._claim = None
        if self._cgroup is not None:
            with contextlib.suppress(OSError):
                self._cgroup.remove()
            self._cgroup = None
        return code


def start_sandboxed(argv: list[str], spec: SandboxSpec, *,
                    stderr: int | IO[bytes] | None = subprocess.DEVNULL,
                    cpu_budget_s: int | None = None) -> SandboxedProcess:
    """Start ``argv`` inside the sandbox ``spec`` with stdin/stdout pipes; never unsandboxed.

    ``cpu_budget_s``: CPU seconds for the server's lifetime (all its processes together); it
    replaces the per-command ``cpuSeconds`` (also in the per-process ``RLIMIT_CPU``
    backstop). Raises :class:`SandboxUnavailable` when the sandbox cannot be built.
    """
    if cpu_budget_s is not None:
        spec = dataclasses.replace(
            spec, limits=dataclasses.replace(spec.limits, cpu_seconds=cpu_budget_s))
    bwrap = ensure_available()
    use_landlock = spec.landlock and landlock.abi_version() > 0
    g = gate.start(spec, bwrap, stdin_pipe=True, stderr=stderr)
    made: list[str] = []
    claim = None
    try:
        claim = claim_placeholders()  # held while the server lives (sandbox/leftovers.py)
        plan = build_args(spec, seccomp_fd=g.seccomp_fd, use_landlock=use_landlock)
        inner = list(argv)
        if use_landlock:
            inner = landlock.wrap(plan.landlock_roots, inner, plan.landlock_helper)
        made = create_placeholders(plan.placeholders, plan.empty, claim)  # gone at stop
        proc = g.release(plan.args, inner)  # (abandons the gate itself if it fails)
    except BaseException:
        g.abandon()
        remove_placeholders(made, claim)
        raise
    g.close_fds()  # our copies: the gate (then bwrap) holds its own
    server = SandboxedProcess(proc, g.cg, made, claim)
    if g.cg is not None:  # no file budget for a server (see the module's docstring)
        server.watch(Watch(dataclasses.replace(spec.limits, max_files=None), g.cg, []))
    return server
