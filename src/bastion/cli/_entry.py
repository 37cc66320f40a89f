"""The process entry point (the ``bastion`` console script and ``python -m bastion``).

``bastion exec`` in its common forms runs without importing Typer (cli/exec_run.py); every
other command, and every other form of ``exec``, goes through the Typer app (cli/_app.py).
Both end the same way (cli/_guard.py) and exit without the interpreter's teardown
(cli/_exit.py).
"""

from __future__ import annotations

import sys


def entry() -> None:
    from ._exit import run_entry

    run_entry(_dispatch)


def _dispatch() -> None:
    from .exec_run import parse

    fast = parse(sys.argv[1:])
    if fast is None:
        from ._app import main

        main()
        return
    from ._guard import _state, guarded
    from .exec_run import run_exec

    _state["debug"] = fast.debug
    guarded(lambda: run_exec(fast))
