"""Terminal output helpers: answers on stdout, everything else (status, errors) on stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A rich ``Console`` made on first use: importing rich.console costs more than a
    ``bastion --version`` should (cli/lazy.py)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


out: Console = _LazyConsole(highlight=False, soft_wrap=True)  # type: ignore[assignment]
err: Console = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)  # type: ignore[assignment]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def confirm(yes: bool, question: str, *, nothing: str = "nothing was changed") -> None:
    """Go on when ``--yes`` was given or the user agrees; without a terminal, explain --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        from bastion.errors import BastionError

        raise BastionError("confirmation needed and there is no terminal to ask",
                           hint=f"add --yes to confirm; {nothing}")
    import typer

    if not typer.confirm(question, default=False):
        raise typer.Abort()


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}", markup=True)


def note(message: str) -> None:
    err.print(message, markup=False, style="dim")


def new_passphrase(env: str, what: str, *, prompt: str, nothing: str) -> str:
    """A passphrase for ``what`` (e.g. "--encrypt"): from ``env``, or typed twice at a terminal
    (at least 8 characters). Without either, one clear error saying ``nothing`` happened."""
    from bastion.errors import BastionError

    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise BastionError(f"{what} needs a passphrase",
                           hint=f"set {env} or run in a terminal to type it")
    import getpass

    first = getpass.getpass(prompt)
    if len(first) < 8:
        raise BastionError(f"passphrase too short (at least 8 characters); {nothing}")
    if getpass.getpass("Repeat passphrase: ") != first:
        raise BastionError(f"the passphrases do not match; {nothing}")
    return first

