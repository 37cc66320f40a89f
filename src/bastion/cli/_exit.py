"""The process entry point: ``main()``, then an exit without tearing the interpreter down.

A normal exit, after the non-daemon threads are joined and the ``atexit`` handlers have run,
tears down every module and collects what is left: ~30 ms for the ~700 modules a run or an
``exec`` loads, on every command. Nothing Bastion needs happens in that phase (files,
databases and child processes are closed by the commands themselves; ``weakref.finalize``
and the sandbox's prepared gate exit through ``atexit``). So the entry point registers, as
the *first* ``atexit`` handler — run *last* — a step that flushes the standard streams and
ends the process with the exit status ``main()`` produced.

It arms itself only when no handler was registered before it (none would be skipped: e.g. a
coverage tool's), and only from the process entry point (the console script and
``python -m bastion``) — never when a program or a test calls :func:`main` itself. If a
standard stream cannot be flushed (a closed pipe), the normal exit takes over and reports it
as Python always does.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable

_status: list[int] = []


def _exit_status(code: object) -> int:
    """Python's own mapping of a ``SystemExit`` code to a process status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return 1  # the interpreter printed the message itself


def _finish() -> None:
    if not _status:  # main() never ended (an exec, an os._exit elsewhere): nothing to do
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return  # let the normal exit report it
    os._exit(_status[0])


def armable() -> bool:
    """No ``atexit`` handler exists yet, so ending the process last skips none."""
    count = getattr(atexit, "_ncallbacks", None)
    return count is not None and count() == 0


def run_entry(main: Callable[[], None]) -> None:
    """Run ``main`` as the process's entry point (see the module docstring)."""
    if armable():
        atexit.register(_finish)
    try:
        main()
    except SystemExit as exc:
        _status.append(_exit_status(exc.code))
        raise
    # anything else escaping main() (it should not) takes the normal exit: the interpreter
    # prints it and chooses the status (e.g. dies of SIGINT for a KeyboardInterrupt)
    _status.append(0)
