"""A long-running process inside the sandbox, with pipes (MCP stdio servers).

:func:`run_sandboxed` runs a command to completion; a server must instead stay up and talk
over stdin/stdout. :func:`start_sandboxed` builds exactly the same layers (clean environment,
rlimits and pids cgroup, bwrap namespaces and mounts, seccomp, Landlock) and returns the
running process; :meth:`SandboxedProcess.stop` tears everything down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from . import cgroup, gate, landlock
from .launcher import ensure_available
from .mounts import build_args, remove_placeholders
from .spec import SandboxSpec


@dataclass
class SandboxedProcess:
    """A started sandboxed process; ``stdin``/``stdout`` are binary pipes."""

    proc: subprocess.Popen[bytes]
    _cgroup: cgroup.CommandCgroup | None = None
    _placeholders: list[Path] = field(default_factory=list)

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
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        code: int | None = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = self.proc.wait(timeout=grace_s)
        # bwrap --die-with-parent and the cgroup make sure nothing below survives either
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self._cgroup is not None:
            self._cgroup.kill_all()
        if code is None:
            code = self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        remove_placeholders(self._placeholders)  # mount points bwrap created on the host
        self._placeholders.clear()
        if self._cgroup is not None:
            with contextlib.suppress(OSError):
                self._cgroup.remove()
            self._cgroup = None
        return code


def start_sandboxed(argv: list[str], spec: SandboxSpec, *,
                    stderr: int | IO[bytes] | None = subprocess.DEVNULL) -> SandboxedProcess:
    """Start ``argv`` inside the sandbox ``spec`` with stdin/stdout pipes; never unsandboxed.

    Raises :class:`SandboxUnavailable` when the sandbox cannot be built.
    """
    bwrap = ensure_available()
    use_landlock = spec.landlock and landlock.abi_version() > 0
    g = gate.start(spec, bwrap, stdin_pipe=True, stderr=stderr)
    try:
        plan = build_args(spec, seccomp_fd=g.seccomp_fd, use_landlock=use_landlock)
        inner = list(argv)
        if use_landlock:
            inner = landlock.wrap(plan.landlock_roots, inner)
    except BaseException:
        g.abandon()
        raise
    proc = g.release(plan.args, inner)
    g.close_fds()  # our copies: the gate (then bwrap) holds its own
    return SandboxedProcess(proc, g.cg, plan.placeholders)
