"""Starting bwrap with the command's limits already in place, without a fork hook.

See :data:`_GATE`: the child waits in a one-line shell until the parent has applied the
rlimits and moved it into the command's cgroup; it is started from a thread holding a fresh,
empty session keyring (``keyring.py``), which the whole command inherits.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from typing import IO

from bastion.errors import BastionError

from . import cgroup, keyring
from .errors import SandboxUnavailable
from .spec import SandboxSpec

#: The gate bwrap is started through. ``subprocess`` can only use its fast ``vfork`` path
#: without a ``preexec_fn``; forking a large Python process instead cost milliseconds to tens of
#: milliseconds per command (page tables are copied). So the child is started without a hook and
#: *waits* in this tiny POSIX shell, reading one line from its stdin pipe, while the parent
#: applies the rlimits (``prlimit(2)`` on the child's pid) and moves it into the pids cgroup;
#: only then does the parent send the line and the shell ``exec``s bwrap, which inherits both.
#: If the parent dies or fails first, ``read`` sees end-of-file and the shell exits 125 without
#: starting anything. (stdin rather than an extra fd: dash only redirects fds 0-9.)
_GATE = 'read -r _ || exit 125; exec "$@"'
_GATE_DEVNULL = 'read -r _ || exit 125; exec "$@" </dev/null'
GATE_SHELL = "/bin/sh"


def _rlimits(spec: SandboxSpec, cg: cgroup.CommandCgroup | None) -> list[tuple[int, int]]:
    """(resource, value) pairs applied, soft = hard, to the command's first process."""
    lim = spec.limits
    out = [(resource.RLIMIT_CORE, 0)]
    if lim.cpu_seconds:
        # per process a backstop: with CPU accounting the whole command's budget fires first
        extra = 1 if cg is not None and cg.measures_cpu else 0
        out.append((resource.RLIMIT_CPU, lim.cpu_seconds + extra))
    if lim.memory_mb:
        out.append((resource.RLIMIT_AS, lim.memory_mb * 1024 * 1024))
    if lim.file_size_mb:
        out.append((resource.RLIMIT_FSIZE, lim.file_size_mb * 1024 * 1024))
    if lim.open_files:
        out.append((resource.RLIMIT_NOFILE, lim.open_files))
    if (cg is None or not cg.limits_pids) and lim.max_processes and os.geteuid() != 0:
        # RLIMIT_NPROC counts all of this user's processes; leave room for the existing ones
        out.append((resource.RLIMIT_NPROC, _user_process_count() + lim.max_processes))
    return out


def _confine(pid: int, limits: list[tuple[int, int]], cg: cgroup.CommandCgroup | None) -> None:
    """Apply ``limits`` and the cgroup to the (still waiting) gate process ``pid``."""
    for res, value in limits:
        resource.prlimit(pid, res, (value, value))
    if cg is not None:
        cg.add(pid)


def spawn(argv: list[str], spec: SandboxSpec, cg: cgroup.CommandCgroup | None, *,
          pass_fds: tuple[int, ...], stdin_pipe: bool, stdout: int | IO[bytes] | None,
          stderr: int | IO[bytes] | None) -> subprocess.Popen[bytes]:
    """Start ``argv`` (bwrap ...) with the spec's rlimits and cgroup, without a fork hook.

    The command's stdin is a pipe (``stdin_pipe``) or ``/dev/null``. Raises
    :class:`SandboxUnavailable` (after killing the gate) if a limit cannot be applied.
    """
    limits = _rlimits(spec, cg)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [GATE_SHELL, "-c", _GATE if stdin_pipe else _GATE_DEVNULL, "bastion-gate", *argv],
            stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=spec.env,
            cwd=str(spec.workspace), start_new_session=True, pass_fds=pass_fds,
            close_fds=True)

    try:
        proc = keyring.in_fresh_keyring(start, _abandon)
    except BastionError as exc:
        raise SandboxUnavailable(exc.message, hint=None) from exc
    assert proc.stdin is not None
    try:
        try:
            _confine(proc.pid, limits, cg)
        except (OSError, ValueError) as exc:
            raise SandboxUnavailable(f"cannot apply the resource limits: {exc}",
                                     hint=None) from exc
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        if not stdin_pipe:
            proc.stdin.close()
            proc.stdin = None
    except BaseException:
        _abandon(proc)
        raise
    return proc


def _abandon(proc: subprocess.Popen[bytes]) -> None:
    """Kill a gate that has not been released: it never execs bwrap."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def command_cgroup(spec: SandboxSpec) -> cgroup.CommandCgroup | None:
    """The command's cgroup; refuses (as root) when the process count cannot be bounded."""
    lim = spec.limits
    wanted = bool(lim.max_processes or lim.memory_mb or lim.cpu_seconds)
    cg = cgroup.take(lim.max_processes, lim.memory_mb) if wanted else None
    if (cg is None or not cg.limits_pids) and lim.max_processes and os.geteuid() == 0:
        if cg is not None:
            cg.remove()
        raise SandboxUnavailable("cannot create a pids cgroup to bound the process count")
    return cg


def prepare_next(spec: SandboxSpec) -> None:
    """Make the next command's cgroup on the spawner thread while the agent is busy elsewhere."""
    lim = spec.limits
    if lim.max_processes or lim.memory_mb or lim.cpu_seconds:
        cgroup.prepare(lim.max_processes, lim.memory_mb, keyring.background)
