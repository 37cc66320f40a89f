"""The one exception family the CLI turns into a single clear line.

Every layer raises a subclass of :class:`BastionError` for conditions the user can act on;
the message says what happened and, where possible, ``hint`` says how to fix it.
"""

from __future__ import annotations


class BastionError(Exception):
    """A user-facing error: printed as one line (plus an optional hint), exit status non-zero."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message
