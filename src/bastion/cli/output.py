"""Terminal output helpers: answers on stdout, everything else (status, errors) on stderr."""

from __future__ import annotations

import json
import os
import re
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

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", style: str | None = None,
              markup: bool | None = None, **rest: Any) -> None:
        """Plain text (``markup=False``) in at most a simple colour is written directly —
        a tool-call line or an answer costs no rich import (~30 ms); anything else is rich's."""
        codes = _ansi(style)
        plain = markup is False or not objects
        if rest.keys() - {"highlight"} or not plain or codes is None \
                or not all(isinstance(o, str) for o in objects):
            self._rich_print(*objects, sep=sep, end=end, style=style,
                                         markup=markup, **rest)
            return
        stream = sys.stderr if self._options.get("stderr") else sys.stdout
        text = sep.join(objects)
        if _colour(stream):
            text = _TERMINAL_CONTROL.sub("", text)  # no escape sequences from model text
            if codes:
                text = f"\x1b[{codes}m{text}\x1b[0m"
        else:
            text = _RICH_CONTROL.sub("", text)
        stream.write(text + end)
        stream.flush()

    def _rich_print(self, *objects: Any, **options: Any) -> None:
        self.__getattr__("print")(*objects, **options)  # the rich Console's own print


_STYLE_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33",
                "blue": "34", "magenta": "35", "cyan": "36"}
#: what rich removes from printed text (bell, backspace, vertical tab, form feed, CR)
_RICH_CONTROL = re.compile("[\x07\x08\x0b\x0c\x0d]")
#: on a terminal also every other control character but tab and newline (ESC included)
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _ansi(style: str | None) -> str | None:
    """SGR codes for a simple style ("" for none); None when rich must render it."""
    if not style:
        return ""
    codes = [_STYLE_CODES.get(word) for word in style.split()]
    return None if None in codes else ";".join(c for c in codes if c)


def _colour(stream: Any) -> bool:
    """A terminal that takes colour (rich's rules: NO_COLOR, TERM=dumb, FORCE_COLOR)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


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

