"""``bastion exec`` without Typer: the command's body, and its options for the Typer-free parser.

``exec`` is the command a script or an agent runs many times in a row, so its start-up is
Typer's import and dispatch plus what the command needs (issue #15's 150 ms). The console entry
point reads its common forms — ``[--debug] exec [-w DIR|--workspace[=]DIR] [--offline]
[--timeout[=]SECONDS] [--] CMD [ARG...]`` — with cli/_fastargs.py (:data:`EXEC`); anything else
(a timeout that is not plain decimal seconds included) goes through Typer (cli/exec_cmd.py),
which calls the same :func:`run_exec`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ._fastargs import Command
from ._fastargs import parse as parse_args

EXEC = Command("exec", values={"-w": "workspace", "--workspace": "workspace",
                               "--timeout": "timeout"},
               flags={"--offline": "offline"}, rest=True, arguments=(1, 1 << 30))
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
    got = parse_args(argv, EXEC)
    if got is None:
        return None
    timeout = got.options.get("timeout")
    if timeout is not None and not _SECONDS.fullmatch(timeout):
        return None
    return ExecArgs(got.arguments, Path(got.options.get("workspace", ".")),
                    None if timeout is None else float(timeout), got.debug)


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
