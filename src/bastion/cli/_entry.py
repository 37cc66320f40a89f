"""The process entry point (the ``bastion`` console script and ``python -m bastion``).

``bastion exec`` and ``bastion scan`` in their common forms run without importing Typer
(cli/_fastargs.py reads them; cli/exec_run.py and cli/scan_run.py do the work); every other
command, and every other form of those two, goes through the Typer app (cli/_app.py). Both
paths end the same way (cli/_guard.py) and exit without the interpreter's teardown
(cli/_exit.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def entry() -> None:
    from ._exit import run_entry

    run_entry(_dispatch)


def _dispatch() -> None:
    argv = sys.argv[1:]
    fast = _fast_command(argv)
    if fast is None:
        from ._app import main

        main()
        return
    from ._guard import _state, guarded

    body, _state["debug"] = fast
    guarded(body)


def _fast_command(argv: list[str]) -> tuple[Callable[[], int], bool] | None:
    """The body of a Typer-free command for ``argv`` and whether ``--debug`` was given, or
    None (Typer's)."""
    name = next((a for a in argv if a != "--debug"), None)
    if name == "exec":
        from .exec_run import parse, run_exec

        got = parse(argv)
        return None if got is None else ((lambda: run_exec(got)), got.debug)
    if name == "scan":
        from .scan_run import parse as parse_scan
        from .scan_run import run_scan

        args = parse_scan(argv)
        return None if args is None else ((lambda: run_scan(*args[0])), args[1])
    return None
