"""``bastion exec`` without Typer: the body of the command, and a parser for its common forms.

``exec`` is the command a script or an agent runs many times in a row, so its start-up is
Typer's import and dispatch plus what the command needs (issue #15's 150 ms). :func:`parse`
reads the forms ``exec`` is written in — ``[--debug] exec [-w DIR|--workspace[=]DIR]
[--offline] [--timeout[=]SECONDS] [--] CMD [ARG...]`` — and answers ``None`` for anything
else (``--help``, an unknown or malformed option, a missing command, an unusual number), which
then goes through Typer exactly as before, so every message and exit status stays Typer's.
``tests/cli/test_exec_fast.py`` checks that both parsers give the same values for every form
this one accepts, and the same output for the same command.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

#: what ``--timeout`` takes here: plain decimal seconds (anything else is Typer's to judge)
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class ExecArgs:
    """What an ``exec`` invocation asks for, however it was parsed."""

    command: list[str]
    workspace: Path
    timeout: float | None
    debug: bool = False


def parse(argv: list[str]) -> ExecArgs | None:
    """``argv`` (without the program name) as an ``exec`` invocation, or ``None``."""
    if os.environ.get("_BASTION_COMPLETE"):  # shell completion is Typer's
        return None
    debug, i = False, 0
    while i < len(argv) and argv[i] == "--debug":
        debug, i = True, i + 1
    if i >= len(argv) or argv[i] != "exec":
        return None
    workspace, timeout, i = ".", None, i + 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg == "--offline":
            i += 1
            continue
        name, value, i = _option(argv, i)
        if name is None:
            if arg.startswith("-"):
                return None  # --help, an unknown option, a bundle of short flags: Typer's
            break  # the command: options end at the first argument (no interspersed args)
        if value is None or not value or value.startswith("-"):
            return None
        if name == "timeout":
            if not _SECONDS.fullmatch(value):
                return None
            timeout = float(value)
        else:
            workspace = value
    command = argv[i:]
    if not command:
        return None  # Typer says what is missing
    return ExecArgs(command, Path(workspace), timeout, debug)


def _option(argv: list[str], i: int) -> tuple[str | None, str | None, int]:
    """A value option at ``argv[i]``: its name, its value (``None`` when absent) and the next
    index; ``(None, None, i)`` when ``argv[i]`` is not one."""
    arg = argv[i]
    for name, spellings in (("workspace", ("-w", "--workspace")), ("timeout", ("--timeout",))):
        if arg in spellings:
            return name, (argv[i + 1] if i + 1 < len(argv) else None), i + 2
        long = spellings[-1] + "="
        if arg.startswith(long):
            return name, arg[len(long):], i + 1
    return None, None, i


def run_exec(args: ExecArgs) -> int:
    """Run ``args.command`` exactly as the agent's run_command would: sandboxed, journaled,
    audited. The command's output goes to ours; the result is the exit status to end with."""
    from bastion.errors import BastionError
    from bastion.home import check_workspace
    from bastion.journal import open_journal
    from bastion.policy import build_policy
    from bastion.runtime import Runtime
    from bastion.tools import CommandRunner

    ws = check_workspace(args.workspace)
    with Runtime.open() as rt:
        policy = build_policy(rt.settings, ws, bastion_home=rt.home, approve="never")
        runner = CommandRunner(policy, rt.settings.sandbox, journal=open_journal(rt))
        out = runner.run(args.command, args.timeout, authorized=True, tool="exec")
    if out.result is None:
        raise BastionError(out.error or "command not run")
    r = out.result
    sys.stdout.write(r.stdout)
    sys.stdout.flush()
    sys.stderr.write(r.stderr)
    if r.truncated:
        sys.stderr.write("bastion: output was cut at the output limit\n")
    if r.timed_out and not r.limit_notes:
        sys.stderr.write(f"bastion: timed out after {r.duration:.1f}s; killed\n")
    for note in r.limit_notes:
        sys.stderr.write(f"bastion: {note}\n")
    for v in out.violations:
        sys.stderr.write(f"bastion: {v}\n")
    if out.op_id:
        sys.stderr.write(f"bastion: {len(out.changes)} change(s) journaled as {out.op_id} "
                         "(bastion undo to revert)\n")
    code = r.exit_code
    return code if 0 <= code < 256 else 128 + (-code if code < 0 else 1)
