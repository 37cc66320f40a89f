"""What ``run`` and ``chat`` take besides flags: the task from stdin, ``-c KEY=VALUE`` overrides.

Standard input is read only when it is not a terminal: as the task when no TASK (or ``-``) is
given, or appended to TASK as context when it is a pipe or a redirected file (``git diff |
bastion run "review this"``). It is capped at :data:`STDIN_LIMIT` bytes and must be UTF-8
text; either problem is a usage error, never a silent truncation. What is read becomes part of
the user message, which the privacy filter redacts before the model, the history or the audit
log see it.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import Any, BinaryIO

import typer

STDIN_LIMIT = 1024 * 1024  # 1 MiB


def _stdin_kind(stream: BinaryIO) -> str:
    """"tty", "pipe", "file" or "other" (a socket, /dev/null, a closed descriptor)."""
    try:
        if stream.isatty():
            return "tty"
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return "other"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _read_capped(stream: BinaryIO) -> str:
    data = stream.read(STDIN_LIMIT + 1)
    if len(data) > STDIN_LIMIT:
        raise typer.BadParameter(
            f"standard input is larger than {STDIN_LIMIT // 1024} KiB; save it in the workspace "
            "and ask the agent to read the file instead", param_hint="stdin")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise typer.BadParameter("standard input is not UTF-8 text", param_hint="stdin") from None


def task_from_input(task: str | None, stdin: BinaryIO | None = None) -> tuple[str, bool]:
    """The task to run and whether standard input contributed to it."""
    stream = stdin if stdin is not None else sys.stdin.buffer
    kind = _stdin_kind(stream)
    if task is None or task == "-":
        if kind == "tty":
            raise typer.BadParameter("give a TASK, or pipe the task on standard input",
                                     param_hint="TASK")
        text = _read_capped(stream).strip()
        if not text:
            raise typer.BadParameter("standard input was empty; give a TASK", param_hint="TASK")
        return text, True
    if kind not in ("pipe", "file"):
        return task, False
    context = _read_capped(stream).strip()
    if not context:
        return task, False
    return f"{task}\n\n<stdin>\n{context}\n</stdin>", True


def parse_overrides(pairs: list[str] | None) -> list[tuple[str, Any]]:
    """``-c KEY=VALUE`` pairs; VALUE is JSON, or a plain string when it is not JSON."""
    out: list[tuple[str, Any]] = []
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. -c agent.maxSteps=5)",
                                     param_hint="-c")
        out.append((key, parse_value(raw, "-c")))
    return out


def parse_value(raw: str, param_hint: str) -> Any:
    """A setting's value given on the command line: JSON, or a plain string when it is not
    JSON (``-c`` and ``config set``)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # a bare word is a string
    except RecursionError:
        raise typer.BadParameter("the value is nested too deeply to be a setting",
                                 param_hint=param_hint) from None


def settings_with_overrides(overrides: list[tuple[str, Any]]) -> Any:
    """The effective settings with ``overrides`` as the command-line layer: validated like the
    file, and refused when one would loosen a managed value (config/effective.py)."""
    from bastion.config import ManagedRefusal, command_line_settings, load_settings

    settings = load_settings()
    try:
        return command_line_settings(settings, overrides) if overrides else settings
    except ManagedRefusal as refused:  # a loosening override: audited, then refused
        from bastion.runtime import Runtime

        with Runtime.open() as rt:
            for r in refused.refusals:
                rt.audit.record("config", "refused", {**r.to_json(), "command": "-c"})
        raise
