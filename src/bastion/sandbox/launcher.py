"""Run one command under bubblewrap (or, by explicit user choice, unsandboxed).

Layers, outermost first:
1. the environment is built from an allowlist before bwrap starts (``env=`` of bwrap itself);
2. rlimits and a per-command cgroup (processes, memory incl. the private /tmp, CPU time) are
   applied to the started child while it waits in a gate, before it execs bwrap, and it starts
   with a fresh, empty session keyring (``gate.py``); budgets are watched while it runs
   (``watch.py``) and a stop is reported with its reason;
3. bwrap: new user/pid/ipc/uts/cgroup/net namespaces, nested user namespaces disabled, a
   curated read-only view of the system, write grants bound read-write (``nosuid``), protected
   paths read-only, hidden paths masked, size-limited private /tmp, fresh /proc and /dev, no
   capabilities, ``--die-with-parent``, ``--new-session``;
4. seccomp: no AF_UNIX ``socket()``, no io_uring, no keyring calls, no set-uid/set-gid modes,
   no foreign syscall tables;
5. Landlock: writes only beneath the writable roots, abstract sockets and signals scoped.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroup, landlock, seccomp
from .errors import INSTALL_HINT, SandboxUnavailable
from .gate import command_cgroup, prepare_next, spawn
from .spec import SANDBOX_HOME, SandboxSpec
from .watch import POLL_S, Watch, stop_message

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
    #: why the sandbox stopped the command: "time", "cpu", "memory", "files" (None: it ended)
    stopped: str | None = None
    #: lines for the model and the user: the stop (if any) and limits hit along the way
    limit_notes: list[str] = field(default_factory=list)


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
    parts = [f"{bwrap} (user, pid, net, ipc, uts, cgroup namespaces, no nested user namespaces; "
             "seccomp: no AF_UNIX, keyring or set-uid)"]
    abi = landlock.abi_version()
    helper = "native helper" if landlock.native_helper() else "Python helper: no C compiler"
    parts.append(f"Landlock ABI {abi} ({helper})" if abi else "Landlock unavailable (bwrap only)")
    if cgroup.available():
        parts.append(cgroup.describe())
    elif os.geteuid() != 0:
        parts.append("process limit: RLIMIT_NPROC")
    else:
        return False, ("running as root without a writable pids cgroup: the process-count "
                       "limit cannot be enforced (RLIMIT_NPROC does not apply to root)")
    return True, "; ".join(parts)


def probe_sandbox() -> tuple[bool, str]:
    """Whether commands can run sandboxed here, and a one-line description (``bastion doctor``)."""
    return _probe()


def _quick_check() -> str | None:
    """What the launcher checks per process without starting anything (None: fine).

    The full probe (:func:`probe_sandbox`, one extra bwrap start) is for ``bastion doctor``;
    a command needs none: if bwrap cannot build the namespaces it fails before running
    anything and says so, which is just as closed.
    """
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) not found on PATH"
    if not seccomp.supported():
        return f"no seccomp filter for this CPU architecture ({os.uname().machine})"
    if not cgroup.available() and os.geteuid() == 0:
        return ("running as root without a writable pids cgroup: the process-count "
                "limit cannot be enforced (RLIMIT_NPROC does not apply to root)")
    return None


def ensure_available() -> str:
    """The bwrap binary to use; raises :class:`SandboxUnavailable` (fail closed)."""
    problem = _quick_check()
    bwrap = shutil.which("bwrap")
    if problem is not None or bwrap is None:
        raise SandboxUnavailable(f"sandbox unavailable: {problem or 'bwrap not found'}")
    return bwrap


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
    # --disable-userns: no nested user namespace (it needs an explicit --unshare-user)
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev"]
    size = [] if not spec.limits.memory_mb else \
        ["--size", str(spec.limits.memory_mb * 1024 * 1024)]
    args += [*size, "--tmpfs", "/tmp", "--dir", SANDBOX_HOME, "--dir", "/var",
             *size, "--tmpfs", "/var/tmp"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    system_roots = [Path(d) for d in SYSTEM_DIRS]
    if use_landlock and landlock.native_helper():
        args += landlock.helper_mounts()
    elif use_landlock:
        for prefix in landlock.interpreter_prefixes():
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
    empty = ""
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
                # an empty read-only *file* mount: bwrap creates the mount point as an empty
                # file (creating and unlinking one is ~100x cheaper than a directory on ext4
                # with discard); mkdir, creating beneath it and writing all fail
                placeholders.append(missing)
                empty = empty or _empty_file()
                args += ["--ro-bind", empty, str(missing)]
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


def _empty_file() -> str:
    """An empty, read-only regular file: the source of placeholder mounts."""
    from bastion.home import bastion_home

    path = bastion_home() / "lib" / "empty"
    if not path.is_file() or path.stat().st_size:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_name(f".empty.{os.getpid()}")
        tmp.write_bytes(b"")
        tmp.chmod(0o444)
        os.replace(tmp, path)
    return str(path)


def remove_placeholders(paths: list[Path]) -> None:
    """Remove the mount points bwrap created for missing protected paths (empty files only:
    anything else there now is not ours)."""
    for p in paths:
        for _ in range(50):  # EBUSY while the sandbox's mount namespace is still being freed
            try:
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode) and st.st_size == 0:
                    os.unlink(p)
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    break
                time.sleep(0.002)


# ---------------------------------------------------------------- running


def _kill_tree(proc: subprocess.Popen[bytes], cg: cgroup.CommandCgroup | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    if cg is not None:
        cg.kill_all()


def _collect(proc: subprocess.Popen[bytes], deadline: float, limit: int,
             cg: cgroup.CommandCgroup | None,
             watch: Watch | None = None) -> tuple[bytes, bytes, str | None, bool]:
    """Read stdout/stderr until both close or the deadline passes; keep at most ``limit`` each.

    Returns (stdout, stderr, stop reason or None, truncated); ``watch`` budgets are checked
    every :data:`POLL_S` seconds and stop the command like the deadline does.
    """
    assert proc.stdout is not None and proc.stderr is not None
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    truncated = False
    stopped: str | None = None
    poll = watch is not None and watch.active
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if stopped is None:
                reason = "time" if remaining <= 0 else (
                    watch.check() if poll and watch is not None else None)
                if reason is not None:
                    stopped = reason
                    _kill_tree(proc, cg)
                    # the pipes close once the tree is gone; don't wait on them forever
                    deadline = time.monotonic() + 2
                    continue
            if remaining <= 0:
                break
            wait = min(remaining, POLL_S) if poll and stopped is None else remaining
            for key, _ in sel.select(timeout=wait):
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
            stopped, truncated)


def _argv(command: str | list[str]) -> list[str]:
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


def _run(argv: list[str], *, env: dict[str, str], cwd: str, timeout_s: float,
         output_limit: int, spec: SandboxSpec | None, pass_fds: tuple[int, ...],
         cg: cgroup.CommandCgroup | None, sandboxed: bool,
         watch: Watch | None = None) -> CommandResult:
    start = time.monotonic()
    if spec is not None:
        proc = spawn(argv, spec, cg, pass_fds=pass_fds, stdin_pipe=False,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    else:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd,
                                start_new_session=True, pass_fds=pass_fds, close_fds=True)
    try:
        out, err, stopped, truncated = _collect(proc, start + timeout_s, output_limit, cg,
                                                watch)
        try:
            code = proc.wait(timeout=max(0.1, start + timeout_s - time.monotonic()))
        except subprocess.TimeoutExpired:
            stopped = stopped or "time"
            _kill_tree(proc, cg)
            code = proc.wait()
        if stopped is None and watch is not None:
            stopped = watch.final(code)
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
    result = CommandResult(
        exit_code=-9 if stopped else code, stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"), timed_out=stopped == "time",
        truncated=truncated, duration=time.monotonic() - start, sandboxed=sandboxed,
        stopped=stopped)
    if stopped is not None and spec is not None:
        whole = cg is not None and (cg.limits_memory if stopped == "memory" else True)
        result.limit_notes.append(stop_message(stopped, spec.limits, timeout_s, whole))
    if watch is not None:
        result.limit_notes += watch.notes()
    return result


def run_sandboxed(command: str | list[str], spec: SandboxSpec, timeout_s: float,
                  output_limit: int) -> CommandResult:
    """Run ``command`` (a shell string or an argv) inside the sandbox ``spec`` describes.

    Raises :class:`SandboxUnavailable` when the sandbox cannot be built — never runs the
    command without it.
    """
    bwrap = ensure_available()
    use_landlock = spec.landlock and landlock.abi_version() > 0
    cg = command_cgroup(spec)
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
        watch = Watch(spec.limits, cg, list(spec.writable))
        watch.start()
        try:
            result = _run([bwrap, *plan.args, "--", *inner], env=spec.env,
                          cwd=str(spec.workspace), timeout_s=timeout_s,
                          output_limit=output_limit, spec=spec, pass_fds=pass_fds, cg=cg,
                          sandboxed=True, watch=watch)
        finally:
            remove_placeholders([p for p in plan.placeholders if p not in existed])
        if result.exit_code != 0 and result.stderr.startswith("bwrap:"):
            note = "the sandbox could not be set up: " + result.stderr.strip()[:300]
            result.notes.append(note)
            result.limit_notes.append(note + f" ({INSTALL_HINT})")
        if use_landlock:
            result.notes.append(f"landlock ABI {landlock.abi_version()}")
        return result
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        if cg is not None:
            cg.remove()
            prepare_next(spec)


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
