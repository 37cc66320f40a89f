"""Run one command under bubblewrap (or, by explicit user choice, unsandboxed).

Layers, outermost first:
1. the environment is built from an allowlist before bwrap starts (``env=`` of bwrap itself);
2. resource limits (rlimits) and a per-command pids cgroup are applied to the started child
   while it waits in a gate, before it execs bwrap, so bwrap and everything below inherit
   them (see :func:`spawn`);
3. bwrap: new user/pid/ipc/uts/cgroup/net namespaces, a curated read-only view of the system,
   write grants bound read-write, protected paths read-only, hidden paths masked, private /tmp,
   fresh /proc and /dev, no capabilities, ``--die-with-parent``, ``--new-session``;
4. seccomp: no AF_UNIX ``socket()``, no io_uring, no foreign syscall tables;
5. Landlock: writes only beneath the writable roots, abstract sockets and signals scoped.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bastion.errors import BastionError

from . import cgroup, landlock, seccomp
from .spec import SANDBOX_HOME, SandboxSpec

INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap; " \
    "Fedora: dnf install bubblewrap) and enable unprivileged user namespaces " \
    "(sysctl kernel.unprivileged_userns_clone=1 / kernel.apparmor_restrict_unprivileged_userns=0)"

#: system directories the sandbox sees read-only; everything else is invisible unless granted
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix",
)
#: files under the system directories that hold host secrets (readable to root otherwise:
#: inside the user namespace the command keeps uid 0's file ownership)
SYSTEM_SECRETS: tuple[str, ...] = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
    "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private", "/etc/security/opasswd",
)
#: most hard-linked files a writable root may hold (each needs its own read-only mount)
MAX_HARDLINKS = 2000


class SandboxUnavailable(BastionError):
    """The sandbox cannot be built here; nothing runs (fail closed)."""

    def __init__(self, message: str, hint: str | None = INSTALL_HINT) -> None:
        super().__init__(message, hint)


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    duration: float = 0.0
    #: False only in ``sandbox.mode: "none"`` — the caller audits it
    sandboxed: bool = True
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- availability


@functools.cache
def _probe() -> tuple[bool, str]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bubblewrap (bwrap) not found on PATH"
    try:
        probe = subprocess.run(
            [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
             "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
             "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
             "/usr/bin/true"],
            capture_output=True, text=True, timeout=15, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"{bwrap} cannot run: {exc}"
    if probe.returncode != 0:
        return False, (f"{bwrap} cannot create namespaces: "
                       f"{probe.stderr.strip()[:160] or 'exit ' + str(probe.returncode)}")
    if not seccomp.supported():
        return False, f"no seccomp filter for this CPU architecture ({os.uname().machine})"
    parts = [f"{bwrap} (user, pid, net, ipc, uts, cgroup namespaces; seccomp: no AF_UNIX)"]
    abi = landlock.abi_version()
    parts.append(f"Landlock ABI {abi}" if abi else "Landlock unavailable (bwrap only)")
    if cgroup.available():
        parts.append("process limit: cgroup pids.max")
    elif os.geteuid() != 0:
        parts.append("process limit: RLIMIT_NPROC")
    else:
        return False, ("running as root without a writable pids cgroup: the process-count "
                       "limit cannot be enforced (RLIMIT_NPROC does not apply to root)")
    return True, "; ".join(parts)


def probe_sandbox() -> tuple[bool, str]:
    """Whether commands can run sandboxed here, and a one-line description (``bastion doctor``)."""
    return _probe()


def ensure_available() -> None:
    ok, detail = _probe()
    if not ok:
        raise SandboxUnavailable(f"sandbox unavailable: {detail}")


# ---------------------------------------------------------------- bwrap arguments


def _depth(p: Path) -> int:
    return len(p.parts)


def _first_missing(path: Path, roots: list[Path]) -> Path | None:
    """The first component of ``path`` that does not exist, if it lies inside a root."""
    current = path
    missing = None
    while not os.path.lexists(current):
        missing = current
        if current.parent == current:
            break
        current = current.parent
    if missing is None:
        return None
    return missing if _under_any(missing, roots) else None


def _under_any(path: Path, roots: list[Path]) -> bool:
    # whole-component comparison on strings ("/a/b" is under "/a", "/ab" is not); Path.parents
    # is correct too but dominated the spawn cost
    p = str(path).rstrip("/") + "/"
    return any(p.startswith(str(r).rstrip("/") + "/") for r in roots)


@dataclass
class _Plan:
    args: list[str]
    #: placeholder directories bwrap creates on the host for missing protected paths
    placeholders: list[Path]
    landlock_roots: list[str]


def build_args(spec: SandboxSpec, *, seccomp_fd: int | None, use_landlock: bool) -> _Plan:
    """The bwrap argument list for ``spec`` (without the command)."""
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", SANDBOX_HOME,
            "--dir", "/var", "--tmpfs", "/var/tmp"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    system_roots = [Path(d) for d in SYSTEM_DIRS]
    for prefix in landlock.interpreter_prefixes() if use_landlock else []:
        if not _under_any(Path(prefix), system_roots):
            args += ["--ro-bind", prefix, prefix]
    # grants: shallow first so a nested grant is mounted over its parent's
    mounts = [(p, "--ro-bind") for p in spec.read_only] + [(p, "--bind") for p in spec.writable]
    for path, flag in sorted(mounts, key=lambda m: (_depth(m[0]), str(m[0]))):
        if os.path.exists(path):
            args += [flag, str(path), str(path)]
    for f in spec.read_only_files:
        args += ["--ro-bind", str(f), str(f)]
    visible = [*system_roots, *spec.read_only, *spec.writable]
    # A repository's .git directory stays writable (git must work) but becomes a mount point,
    # which cannot be renamed or removed: the command cannot swap in a .git of its choosing.
    # Pinned first, so the read-only .git/hooks and .git/config mounts land on top of it.
    for root in spec.writable:
        git = root / ".git"
        if git.is_dir() and not git.is_symlink():
            args += ["--bind", str(git), str(git)]
    placeholders: list[Path] = []
    for p in sorted(spec.protected, key=lambda q: (_depth(q), str(q))):
        if not _under_any(p, spec.writable):
            continue  # outside the writable roots everything is read-only already
        if os.path.islink(p):
            raise SandboxUnavailable(
                f"protected path {p} is a symbolic link; refusing to run commands in this "
                "folder until it is replaced by a real file or folder", hint=None)
        if os.path.exists(p):
            if p.name == ".git" and p.is_dir():
                continue  # pinned above
            args += ["--ro-bind", str(p), str(p)]
        else:
            missing = _first_missing(p, spec.writable)
            if missing is not None and missing not in placeholders:
                placeholders.append(missing)
                args += ["--tmpfs", str(missing), "--remount-ro", str(missing)]
    for h in [*spec.hidden, *(Path(s) for s in SYSTEM_SECRETS)]:
        if not _under_any(h, visible) or not os.path.lexists(h) or os.path.islink(h):
            continue
        if os.path.isdir(h):
            args += ["--perms", "0000", "--tmpfs", str(h), "--remount-ro", str(h)]
        else:
            args += ["--ro-bind", "/dev/null", str(h)]
    args += ["--remount-ro", "/", "--chdir", str(spec.workspace)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    roots = [str(p) for p in spec.writable] + ["/tmp", "/var/tmp", "/dev"]
    return _Plan(args, placeholders, roots)


# ---------------------------------------------------------------- running


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


def _rlimits(spec: SandboxSpec, cg: cgroup.PidsCgroup | None) -> list[tuple[int, int]]:
    """(resource, value) pairs applied, soft = hard, to the command's first process."""
    lim = spec.limits
    out = [(resource.RLIMIT_CORE, 0)]
    if lim.cpu_seconds:
        out.append((resource.RLIMIT_CPU, lim.cpu_seconds))
    if lim.memory_mb:
        out.append((resource.RLIMIT_AS, lim.memory_mb * 1024 * 1024))
    if lim.file_size_mb:
        out.append((resource.RLIMIT_FSIZE, lim.file_size_mb * 1024 * 1024))
    if lim.open_files:
        out.append((resource.RLIMIT_NOFILE, lim.open_files))
    if cg is None and lim.max_processes and os.geteuid() != 0:
        # RLIMIT_NPROC counts all of this user's processes; leave room for the existing ones
        out.append((resource.RLIMIT_NPROC, _user_process_count() + lim.max_processes))
    return out


def _confine(pid: int, limits: list[tuple[int, int]], cg: cgroup.PidsCgroup | None) -> None:
    """Apply ``limits`` and the cgroup to the (still waiting) gate process ``pid``."""
    for res, value in limits:
        resource.prlimit(pid, res, (value, value))
    if cg is not None:
        cg.add(pid)


def spawn(argv: list[str], spec: SandboxSpec, cg: cgroup.PidsCgroup | None, *,
          pass_fds: tuple[int, ...], stdin_pipe: bool, stdout: int | IO[bytes] | None,
          stderr: int | IO[bytes] | None) -> subprocess.Popen[bytes]:
    """Start ``argv`` (bwrap ...) with the spec's rlimits and cgroup, without a fork hook.

    The command's stdin is a pipe (``stdin_pipe``) or ``/dev/null``. Raises
    :class:`SandboxUnavailable` (after killing the gate) if a limit cannot be applied.
    """
    limits = _rlimits(spec, cg)
    proc = subprocess.Popen(
        [GATE_SHELL, "-c", _GATE if stdin_pipe else _GATE_DEVNULL, "bastion-gate", *argv],
        stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=spec.env,
        cwd=str(spec.workspace), start_new_session=True, pass_fds=pass_fds, close_fds=True)
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
        # killed before its stdin closes: the gate never execs bwrap
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        raise
    return proc


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def _kill_tree(proc: subprocess.Popen[bytes], cg: cgroup.PidsCgroup | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    if cg is not None:
        cg.kill_all()


def _collect(proc: subprocess.Popen[bytes], deadline: float, limit: int,
             cg: cgroup.PidsCgroup | None) -> tuple[bytes, bytes, bool, bool]:
    """Read stdout/stderr until both close or the deadline passes; keep at most ``limit`` each."""
    assert proc.stdout is not None and proc.stderr is not None
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    truncated = timed_out = False
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not timed_out:
                timed_out = True
                _kill_tree(proc, cg)
                # the pipes close once the tree is gone; don't wait on them forever
                deadline = time.monotonic() + 2
                continue
            if remaining <= 0:
                break
            for key, _ in sel.select(timeout=remaining):
                fd = int(key.fd)
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    continue
                buf = bufs[fd]
                room = limit - len(buf)
                if room > 0:
                    buf += chunk[:room]
                if len(chunk) > max(room, 0):
                    truncated = True  # keep draining so the command never blocks on a pipe
    finally:
        sel.close()
    return (bytes(bufs[proc.stdout.fileno()]), bytes(bufs[proc.stderr.fileno()]),
            timed_out, truncated)


def _argv(command: str | list[str]) -> list[str]:
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


def _run(argv: list[str], *, env: dict[str, str], cwd: str, timeout_s: float,
         output_limit: int, spec: SandboxSpec | None, pass_fds: tuple[int, ...],
         cg: cgroup.PidsCgroup | None, sandboxed: bool) -> CommandResult:
    start = time.monotonic()
    if spec is not None:
        proc = spawn(argv, spec, cg, pass_fds=pass_fds, stdin_pipe=False,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    else:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd,
                                start_new_session=True, pass_fds=pass_fds, close_fds=True)
    try:
        out, err, timed_out, truncated = _collect(proc, start + timeout_s, output_limit, cg)
        try:
            code = proc.wait(timeout=max(0.1, start + timeout_s - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(proc, cg)
            code = proc.wait()
    except BaseException:  # Ctrl-C or any failure: nothing may outlive us
        _kill_tree(proc, cg)
        proc.wait()
        raise
    finally:
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        if cg is not None:
            cg.kill_all()
        elif not sandboxed:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # background jobs of an unsandboxed command
    return CommandResult(
        exit_code=-9 if timed_out else code, stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"), timed_out=timed_out, truncated=truncated,
        duration=time.monotonic() - start, sandboxed=sandboxed)


def run_sandboxed(command: str | list[str], spec: SandboxSpec, timeout_s: float,
                  output_limit: int) -> CommandResult:
    """Run ``command`` (a shell string or an argv) inside the sandbox ``spec`` describes.

    Raises :class:`SandboxUnavailable` when the sandbox cannot be built — never runs the
    command without it.
    """
    ensure_available()
    bwrap = shutil.which("bwrap")
    assert bwrap is not None
    use_landlock = spec.landlock and landlock.abi_version() > 0
    cg = cgroup.PidsCgroup.create(spec.limits.max_processes) \
        if spec.limits.max_processes else None
    if cg is None and spec.limits.max_processes and os.geteuid() == 0:
        raise SandboxUnavailable("cannot create a pids cgroup to bound the process count")
    read_fd = write_fd = -1
    try:
        pass_fds: tuple[int, ...] = ()
        if spec.block_unix_sockets:
            read_fd, write_fd = os.pipe()
            os.write(write_fd, seccomp.unix_socket_filter())  # 96 bytes: never blocks
            os.close(write_fd)
            write_fd = -1
            pass_fds = (read_fd,)
        plan = build_args(spec, seccomp_fd=read_fd if pass_fds else None,
                          use_landlock=use_landlock)
        inner = _argv(command)
        if use_landlock:
            inner = landlock.wrap(plan.landlock_roots, inner)
        existed = {p for p in plan.placeholders if os.path.lexists(p)}
        try:
            result = _run([bwrap, *plan.args, "--", *inner], env=spec.env,
                          cwd=str(spec.workspace), timeout_s=timeout_s,
                          output_limit=output_limit, spec=spec, pass_fds=pass_fds, cg=cg,
                          sandboxed=True)
        finally:
            for p in plan.placeholders:  # mount points bwrap had to create on the host
                if p not in existed:
                    with contextlib.suppress(OSError):
                        p.rmdir()
        if result.exit_code != 0 and result.stderr.startswith("bwrap:"):
            result.notes.append("the sandbox could not be set up: " + result.stderr.strip())
        if use_landlock:
            result.notes.append(f"landlock ABI {landlock.abi_version()}")
        return result
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        if cg is not None:
            cg.remove()


def run_unsandboxed(command: str | list[str], workspace: Path, env: dict[str, str],
                    timeout_s: float, output_limit: int) -> CommandResult:
    """``sandbox.mode: "none"`` — the user's explicit choice. Warns on every command."""
    sys.stderr.write("bastion: WARNING: running a command WITHOUT a sandbox "
                     "(settings: sandbox.mode = \"none\")\n")
    result = _run(_argv(command), env=env, cwd=str(workspace), timeout_s=timeout_s,
                  output_limit=output_limit, spec=None, pass_fds=(), cg=None,
                  sandboxed=False)
    result.notes.append("UNSANDBOXED (sandbox.mode = none)")
    return result
