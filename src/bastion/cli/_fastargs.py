"""The common forms of a few hot commands, read without Typer.

``bastion exec`` (run many times in a row by scripts and agents) and ``bastion scan`` (whose
throughput is measured end to end) would otherwise spend ~35 ms importing Typer and
dispatching through it before doing anything. :func:`parse` reads the plain forms those
commands are written in — ``[--debug] NAME`` then the command's own flags and value options
(``-w DIR``, ``--workspace DIR``, ``--workspace=DIR``) and its arguments — and answers
``None`` for anything else: ``--help``, an unknown or malformed option, an option value that
starts with ``-``, a missing or extra argument, shell completion. Those go through Typer
exactly as before, so every message and exit status stays Typer's.

A :class:`Command` describes one command's options here; Typer's declaration (cli/exec_cmd.py,
cli/scan.py) describes them there. ``tests/cli/test_exec_fast.py`` and ``test_scan_fast.py`` keep the two
descriptions from drifting: for listed forms and generated argument lists, whenever this
parser accepts, both must hand the command the same values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Command:
    """One command's options as this parser reads them."""

    name: str
    #: spelling -> option name, for options that take a value (``-w`` / ``--workspace``)
    values: dict[str, str] = field(default_factory=dict)
    #: spelling -> option name, for flags (``--offline``)
    flags: dict[str, str] = field(default_factory=dict)
    #: True: the first argument ends the options and everything after it is the arguments
    #: (``exec CMD ARG...``); False: options and arguments may mix (Click's default)
    rest: bool = False
    #: how many arguments the command takes: (at least, at most)
    arguments: tuple[int, int] = (0, 1)


@dataclass
class Parsed:
    """An accepted invocation: the options given (last one wins) and the arguments."""

    debug: bool = False
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    arguments: list[str] = field(default_factory=list)


def parse(argv: list[str], command: Command) -> Parsed | None:
    """``argv`` (without the program name) as an invocation of ``command``, or ``None``."""
    if os.environ.get("_BASTION_COMPLETE"):  # shell completion is Typer's
        return None
    out, i = Parsed(), 0
    while i < len(argv) and argv[i] == "--debug":
        out.debug, i = True, i + 1
    if i >= len(argv) or argv[i] != command.name:
        return None
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.arguments += argv[i + 1:]
            break
        if arg in command.flags:
            out.flags.add(command.flags[arg])
            i += 1
            continue
        name, value, i = _value_option(argv, i, command)
        if name is not None:
            if not value or value.startswith("-"):
                return None  # missing, empty or flag-like: Typer's to judge
            out.options[name] = value
            continue
        if arg.startswith("-") and arg != "-":
            return None  # --help, an unknown option, a bundle of short flags: Typer's
        if command.rest:
            out.arguments += argv[i:]
            break
        out.arguments.append(arg)
        i += 1
    least, most = command.arguments
    return out if least <= len(out.arguments) <= most else None


def _value_option(argv: list[str], i: int, command: Command
                  ) -> tuple[str | None, str | None, int]:
    """The value option at ``argv[i]``: its name, its value (``None`` when absent) and the
    next index; ``(None, None, i)`` when ``argv[i]`` is not one."""
    arg = argv[i]
    name = command.values.get(arg)
    if name is not None:
        return name, (argv[i + 1] if i + 1 < len(argv) else None), i + 2
    if arg.startswith("--") and "=" in arg:
        spelling, value = arg.split("=", 1)
        name = command.values.get(spelling)
        if name is not None:
            return name, value, i + 1
    return None, None, i
