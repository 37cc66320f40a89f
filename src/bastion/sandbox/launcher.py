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
import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroup, gate, keyring, landlock, seccomp
from .errors import INSTALL_HINT, SandboxUnavailable
from .mounts import build_args, claim_placeholders, create_placeholders, remove_placeholders
from .spec import Limits, SandboxSpec
from .watch import POLL_S, Watch, stop_message

#: most hard-linked files a writable root may hold (each needs its own read-only mount)
MAX_HARDLINKS = 2000


@dataclass
class CommandResult:
    """How a command ended: status, output, and which limit stopped it."""

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


def _quick_check(bwrap: str | None) -> str | None:
    """What the launcher checks per process without starting anything (None: fine).

    The full probe (:func:`probe_sandbox`, one extra bwrap start) is for ``bastion doctor``;
    a command needs none: if bwrap cannot build the namespaces it fails before running
    anything and says so, which is just as closed.
    """
    if bwrap is None:
        return "bubblewrap (bwrap) not found on PATH"
    if not seccomp.supported():
        return f"no seccomp filter for this CPU architecture ({os.uname().machine})"
    if not cgroup.available() and os.geteuid() == 0:
        return ("running as root without a writable pids cgroup: the process-count "
                "limit cannot be enforced (RLIMIT_NPROC does not apply to root)")
    return None


def ensure_available() -> str:
    """The bwrap binary to use; raises :class:`SandboxUnavailable` (fail closed).

    Looked up once per ``PATH`` value while the binary stays where it was found (a bwrap that
    disappears later makes the gate's ``exec`` fail: nothing runs).
    """
    path = os.environ.get("PATH")
    known = _found.get(path)
    if known is not None and os.path.isfile(known):
        return known
    bwrap = shutil.which("bwrap")
    problem = _quick_check(bwrap)
    if problem is not None or bwrap is None:
        raise SandboxUnavailable(f"sandbox unavailable: {problem or 'bwrap not found'}")
    _found[path] = bwrap
    return bwrap


#: bwrap found and checked, by ``PATH`` value
_found: dict[str | None, str] = {}


# ---------------------------------------------------------------- bwrap arguments


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
    next_check = time.monotonic() + POLL_S
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if stopped is None:
                due = poll and time.monotonic() >= next_check  # budgets: every POLL_S
                if due:
                    next_check = time.monotonic() + POLL_S
                reason = "time" if remaining <= 0 else (
                    watch.check() if due and watch is not None else None)
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


def _run(start_proc: Callable[[], subprocess.Popen[bytes]], *, timeout_s: float,
         output_limit: int, limits: Limits | None, cg: cgroup.CommandCgroup | None,
         sandboxed: bool, watch: Watch | None = None) -> CommandResult:
    start = time.monotonic()
    proc = start_proc()
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
    if stopped is not None and limits is not None:
        whole = cg is not None and (cg.limits_memory if stopped == "memory" else True)
        result.limit_notes.append(stop_message(stopped, limits, timeout_s, whole))
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
    g = gate.take(spec, bwrap)  # prepared ahead: limits, cgroup, keyring already in place
    released = False
    made: list[str] = []
    claim = None
    try:
        claim = claim_placeholders()  # before the plan: a killed run's leftovers are gone
        plan = build_args(spec, seccomp_fd=g.seccomp_fd, use_landlock=use_landlock)
        inner = _argv(command)
        if use_landlock:
            inner = landlock.wrap(plan.landlock_roots, inner, plan.landlock_helper)
        watch = Watch(spec.limits, g.cg, list(spec.writable),
                      frozenset(plan.placeholders))
        made = create_placeholders(plan.placeholders, plan.empty, claim)  # missing in the plan
        watch.start()

        def release() -> subprocess.Popen[bytes]:
            nonlocal released
            released = True
            return g.release(plan.args, inner)

        result = _run(release, timeout_s=timeout_s, output_limit=output_limit,
                      limits=spec.limits, cg=g.cg, sandboxed=True, watch=watch)
        if result.exit_code != 0 and result.stderr.startswith("bwrap:"):
            note = "the sandbox could not be set up: " + result.stderr.strip()[:300]
            result.notes.append(note)
            result.limit_notes.append(note + f" ({INSTALL_HINT})")
        if use_landlock:
            result.notes.append(f"landlock ABI {landlock.abi_version()}")
        return result
    finally:
        remove_placeholders(made, claim)  # the command has ended (_run) or never started
        if not released:
            g.abandon()
        else:
            g.close_fds()
        gate.prepare_next(spec, bwrap)  # first in the spawner thread's queue
        if released and g.cg is not None:  # every process in it is dead already (_run)
            keyring.background(g.cg.remove)


def run_unsandboxed(command: str | list[str], workspace: Path, env: dict[str, str],
                    timeout_s: float, output_limit: int) -> CommandResult:
    """``sandbox.mode: "none"`` — the user's explicit choice. Warns on every command."""
    sys.stderr.write("bastion: WARNING: running a command WITHOUT a sandbox "
                     "(settings: sandbox.mode = \"none\")\n")
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(_argv(command), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                cwd=str(workspace), start_new_session=True, close_fds=True)

    result = _run(start, timeout_s=timeout_s, output_limit=output_limit, limits=None, cg=None,
                  sandboxed=False)
    result.notes.append("UNSANDBOXED (sandbox.mode = none)")
    return result
