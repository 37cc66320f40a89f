"""Starting bwrap with the command's limits already in place, prepared ahead of the command.

A command is started through a *gate* (:data:`_GATE`): a one-line POSIX shell that waits on
its stdin pipe. Everything that does not depend on the command is done to the gate before the
command is known — from the spawner thread, after it joined a fresh, empty session keyring
(``keyring.py``, inherited by the whole command), the gate is started without a fork hook (so
``subprocess`` can ``vfork``), moves *itself* into the command's own cgroup before it reads
anything (``echo 0 > tasks``: see :meth:`CommandCgroup.join_files` for why not from outside)
and its rlimits are set with ``prlimit(2)``. The next commands' gates (:data:`POOL` of them) are
made while the agent is busy elsewhere (:func:`prepare_next`) and only *released* when a
command comes.

Releasing writes bwrap's options (NUL-separated) into a memfd the gate inherited, which bwrap
reads with ``--args FD`` (and closes), and sends one line holding the command's argv, each word
single-quoted for the shell; the gate ``exec``s ``bwrap --args FD -- COMMAND...``. If the
parent fails or dies first the gate reads end-of-file and exits 125 — nothing starts
unconfined.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import signal
import subprocess
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO

from bastion.errors import BastionError

from . import cgroup, keyring, seccomp
from .errors import SandboxUnavailable
from .spec import SandboxSpec

#: The gate: read one line (the command's argv, quoted by :func:`quote_words`), then exec
#: ``"$@"`` (``bwrap --args FD --``) followed by it. ``nl`` lets a quoted word hold a newline
#: without breaking the line. (stdin rather than an extra fd: dash only redirects fds 0-9.)
_GATE = "nl='\n'; IFS= read -r line || exit 125; eval \"exec \\\"\\$@\\\" $line\""
_GATE_DEVNULL = "nl='\n'; IFS= read -r line || exit 125; eval \"exec \\\"\\$@\\\" $line </dev/null\""
GATE_SHELL = "/bin/sh"
#: what a gate that could not enter its cgroup says on stderr before exiting 125
GATE_FAILED = "bastion-gate: cannot enter the cgroup of the command, nothing was run"


def quote_words(argv: list[str]) -> bytes:
    """``argv`` as one line of single-quoted shell words (newlines as ``"$nl"``)."""
    out = []
    for word in argv:
        raw = os.fsencode(word)
        if b"\0" in raw:
            raise ValueError("a command argument contains a NUL byte")
        out.append(b"'" + raw.replace(b"'", b"'\\''").replace(b"\n", b"'\"$nl\"'") + b"'")
    return b" ".join(out) + b"\n"


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
    cg = cgroup.CommandCgroup.create(lim.max_processes, lim.memory_mb) if wanted else None
    if (cg is None or not cg.limits_pids) and lim.max_processes and os.geteuid() == 0:
        if cg is not None:
            cg.remove()
        raise SandboxUnavailable("cannot create a pids cgroup to bound the process count")
    return cg


@dataclass
class Gate:
    """A started gate: limited, in its cgroup, in a fresh keyring, waiting for its command."""

    proc: subprocess.Popen[bytes]
    cg: cgroup.CommandCgroup | None
    #: memfd bwrap reads its options from (``--args``), and the seccomp filter's pipe
    args_fd: int
    seccomp_fd: int | None
    stdin_pipe: bool

    def alive(self) -> bool:
        return self.proc.poll() is None and (
            self.cg is None or all(p.is_dir() for p in self.cg.paths))

    def release(self, options: list[str], command: list[str]) -> subprocess.Popen[bytes]:
        """Hand bwrap its ``options`` and the gate the ``command``; the sandbox starts."""
        assert self.proc.stdin is not None
        try:
            text = "\0".join(options) + "\0"  # one encode, not one per option (~150)
            if text.count("\0") != len(options):
                raise ValueError("a sandbox option contains a NUL byte")
            _write_all(self.args_fd, os.fsencode(text))
            os.lseek(self.args_fd, 0, os.SEEK_SET)
            self.proc.stdin.write(quote_words(command))
            self.proc.stdin.flush()
            if not self.stdin_pipe:
                self.proc.stdin.close()
                self.proc.stdin = None
        except BaseException:
            self.abandon()
            raise
        return self.proc

    def close_fds(self) -> None:
        for fd in (self.args_fd, self.seccomp_fd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.args_fd, self.seccomp_fd = -1, None

    def abandon(self) -> None:
        """Kill a gate (released or not) and remove its cgroup."""
        _abandon(self.proc)
        self.close_fds()
        if self.cg is not None:
            self.cg.remove()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _abandon(proc: subprocess.Popen[bytes]) -> None:
    """Kill a gate that has not been released: it never execs bwrap."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _joined(pid: int, cg: cgroup.CommandCgroup) -> bool:
    """Whether process ``pid`` is in every hierarchy of ``cg`` (read from /proc, not trusted
    from the gate's own account)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    name = "/" + cg.paths[0].name
    return sum(1 for line in lines if line.endswith(name)) >= len(cg.paths)


def _wait_joined(proc: subprocess.Popen[bytes], cg: cgroup.CommandCgroup) -> None:
    """Wait until the gate has moved itself into ``cg``; it exits 125 if it cannot."""
    deadline = time.monotonic() + 10
    while not _joined(proc.pid, cg):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SandboxUnavailable(
                "the command could not be confined: its first process did not enter the "
                f"command's cgroup (gate exit {proc.returncode})", hint=None)
        time.sleep(0.0002)


def _start(spec: SandboxSpec, bwrap: str, stdin_pipe: bool,
           stderr: int | IO[bytes] | None) -> Gate:
    """Start and confine a gate (on the spawner thread, in its fresh keyring)."""
    cg = command_cgroup(spec)
    fds: list[int] = []
    try:
        args_fd = os.memfd_create("bastion-bwrap-args")
        fds.append(args_fd)
        seccomp_fd = None
        if spec.block_unix_sockets:
            seccomp_fd, write_fd = os.pipe()
            fds.append(seccomp_fd)
            os.write(write_fd, seccomp.unix_socket_filter())  # 96 bytes: never blocks
            os.close(write_fd)
        # the gate moves itself into the cgroup before it reads anything (see join_files)
        say = quote_words([GATE_FAILED]).decode().strip()
        join = "".join(f"echo 0 >{quote_words([f]).decode().strip()} || {{ echo {say} >&2; "
                       "exit 125; }; " for f in (cg.join_files() if cg is not None else []))
        script = join + (_GATE if stdin_pipe else _GATE_DEVNULL)
        proc = subprocess.Popen(
            [GATE_SHELL, "-c", script, "bastion-gate", bwrap, "--args", str(args_fd), "--"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=spec.env,
            cwd=str(spec.workspace), start_new_session=True, pass_fds=tuple(fds),
            close_fds=True)
    except BaseException:
        for fd in fds:
            os.close(fd)
        if cg is not None:
            cg.remove()
        raise
    gate = Gate(proc, cg, args_fd, seccomp_fd, stdin_pipe)
    try:
        for res, value in _rlimits(spec, cg):
            resource.prlimit(proc.pid, res, (value, value))
        if cg is not None:
            _wait_joined(proc, cg)
    except (OSError, ValueError) as exc:
        gate.abandon()
        raise SandboxUnavailable(f"cannot apply the resource limits: {exc}", hint=None) from exc
    except BaseException:
        gate.abandon()
        raise
    return gate


def start(spec: SandboxSpec, bwrap: str, *, stdin_pipe: bool = False,
          stderr: int | IO[bytes] | None = subprocess.PIPE) -> Gate:
    """A gate for one command, started now (waits for the spawner thread)."""
    try:
        return keyring.in_fresh_keyring(lambda: _start(spec, bwrap, stdin_pipe, stderr),
                                        lambda gate: gate.abandon())
    except BastionError as exc:
        raise SandboxUnavailable(exc.message, hint=None) from exc


# ---------------------------------------------------------------- prepared ahead

_Key = tuple[object, ...]
#: gates being prepared (or ready) for the next commands, oldest first, with what each was
#: made for: two, so a command issued right after another (several tool calls in one turn)
#: finds one ready instead of waiting for the next one's preparation (~2-3 ms) — once a
#: prepared gate has been used; before that one (a one-shot ``bastion exec`` would only pay
#: for making and killing a second one at exit)
_next: list[tuple[_Key, Future[Gate]]] = []
_next_lock = threading.Lock()
POOL = 2
_used = False


def _key(spec: SandboxSpec, bwrap: str) -> _Key:
    return (bwrap, str(spec.workspace), tuple(sorted(spec.env.items())), spec.limits,
            spec.block_unix_sockets)


def _discard(future: Future[Gate]) -> None:
    def done(f: Future[Gate]) -> None:
        with contextlib.suppress(BaseException):
            f.result().abandon()
    future.add_done_callback(done)


def _matching(key: _Key) -> list[Future[Gate]]:
    """The prepared gates made for ``key`` (oldest first); the others are discarded."""
    with _next_lock:
        mine = [f for k, f in _next if k == key]
        stale = [f for k, f in _next if k != key]
        _next[:] = [(key, f) for f in mine]
    for future in stale:
        _discard(future)
    return mine


def take(spec: SandboxSpec, bwrap: str) -> Gate:
    """A gate for a command with stdout/stderr pipes: a prepared one if it fits, else new."""
    global _used
    key = _key(spec, bwrap)
    _matching(key)
    with _next_lock:
        future = _next.pop(0)[1] if _next else None
    if future is not None:
        gate = None
        try:
            gate = future.result()
        except Exception:  # preparing failed: start one now, which reports why
            pass
        except BaseException:
            _discard(future)
            raise
        if gate is not None and gate.alive():
            _used = True
            return gate
        if gate is not None:
            gate.abandon()
    return start(spec, bwrap)


def prepare_next(spec: SandboxSpec, bwrap: str) -> None:
    """Keep :data:`POOL` gates for the next commands in preparation on the spawner thread while
    the agent is busy elsewhere."""
    key = _key(spec, bwrap)
    _matching(key)
    with _next_lock:
        while sum(1 for k, _ in _next if k == key) < (POOL if _used else 1):
            _next.append((key, keyring.submit_fresh(
                lambda: _start(spec, bwrap, False, subprocess.PIPE))))


@atexit.register
def discard_prepared() -> None:
    """Kill the prepared gates (they would exit on their own when this process ends)."""
    with _next_lock:
        pending = [f for _, f in _next]
        _next.clear()
    for future in pending:
        with contextlib.suppress(BaseException):
            future.result(timeout=5).abandon()
