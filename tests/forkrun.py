"""Run the real CLI ``main()`` many times, fast: forked children of the test process.

The CLI is imported once; each invocation runs in its own forked child (stdin /dev/null,
stdout+stderr to a file, its own session) so state never leaks between runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from pathlib import Path

#: a command that runs longer than this is reported as stuck (and killed)
STUCK_AFTER_S = 30.0


def _start(argv: list[str], home: Path, out_file: Path) -> int:
    """Fork a child that runs ``bastion argv`` through main(); returns its pid."""
    pid = os.fork()
    if pid != 0:
        return pid
    code = 99  # child: never returns into pytest
    try:
        fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.setsid()
        os.environ.update(BASTION_HOME=str(home), COLUMNS="200", TERM="dumb")
        import sys

        # pytest replaced the Python-level streams; point them at the redirected fds
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = ["bastion", *argv]
        from bastion.cli._app import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # main() let something through: show it
            import traceback

            traceback.print_exc()
            code = 98
    finally:
        for stream in ("stdout", "stderr"):
            with contextlib.suppress(Exception):
                getattr(__import__("sys"), stream).flush()
        os._exit(code)


def run_all(argvs: list[list[str]], home: Path, out_dir: Path,
            parallel: int = 3) -> list[tuple[int, str]]:
    """Run every argv (``parallel`` at a time); (exit status, output) in the same order."""
    results: list[tuple[int, str]] = [(-2, "")] * len(argvs)
    running: dict[int, tuple[int, Path, float]] = {}
    pending = list(enumerate(argvs))
    while pending or running:
        while pending and len(running) < parallel:
            index, argv = pending.pop(0)
            out_file = out_dir / f"out-{index}-{time.monotonic_ns()}.txt"
            running[_start(argv, home, out_file)] = (index, out_file, time.monotonic())
        for pid, (index, out_file, started) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                results[index] = (os.waitstatus_to_exitcode(status),
                                  out_file.read_text(errors="replace"))
                del running[pid]
            elif time.monotonic() - started > STUCK_AFTER_S:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                results[index] = (-1, out_file.read_text(errors="replace") + "\n(stuck)")
                del running[pid]
        select.select([], [], [], 0.02)
    return results
