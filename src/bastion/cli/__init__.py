"""Command-line interface. No business logic here: commands parse, call a package, print.

``entry`` (the console script) imports no Typer until a command needs it: ``bastion exec`` in
its common forms runs without it (cli/exec_run.py). ``app`` (the Typer app) and ``main`` (its
guarded dispatch) are loaded on first access.
"""

from __future__ import annotations

from typing import Any

from ._entry import entry

__all__ = ["app", "entry", "main"]


def __getattr__(name: str) -> Any:
    if name in ("app", "main"):
        from . import _app

        return getattr(_app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
