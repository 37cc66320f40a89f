"""``bastion exec [-w DIR] [--offline] -- CMD [ARG...]``: one command under the agent's sandbox.

The user typed the command, so no approval is asked; everything else is what ``run_command``
does — same sandbox spec compiled from the same policy, journaled (``bastion undo`` reverts
it), audited. The exit status is the command's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bastion.errors import BastionError
from bastion.home import check_workspace
from bastion.journal import open_journal
from bastion.policy import build_policy
from bastion.runtime import Runtime
from bastion.tools import CommandRunner


def exec_command(
    command: list[str] = typer.Argument(..., help="The command and its arguments (after --)."),
    workspace: Path = typer.Option(Path("."), "-w", "--workspace", help="Workspace folder."),
    offline: bool = typer.Option(False, "--offline",
                                 help="No network (commands never have network access "
                                      "in the sandbox; accepted for symmetry with run)."),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Wall-clock limit (seconds); default sandbox.unattendedTimeoutS "
                                "(30 s) capped by sandbox.defaultTimeoutS."),
) -> None:
    """Run CMD exactly as the agent's run_command would: sandboxed, journaled, audited.

    Example: bastion exec -w ~/project -- pytest -q
    """
    del offline  # the sandbox has no network namespace route at all
    ws = check_workspace(workspace)
    with Runtime.open() as rt:
        policy = build_policy(rt.settings, ws, bastion_home=rt.home, approve="never")
        runner = CommandRunner(policy, rt.settings.sandbox, journal=open_journal(rt))
        out = runner.run(command, timeout, authorized=True, tool="exec")
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
    raise typer.Exit(code if 0 <= code < 256 else 128 + (-code if code < 0 else 1))


def lock() -> None:
    """Forget the unlocked master key cached for this login session (vault.keyCacheS).

    Example: bastion lock
    """
    from bastion.home import bastion_home
    from bastion.vault import forget_cached_key

    home = bastion_home()
    if forget_cached_key(home):
        sys.stdout.write(f"locked: the cached key for {home} is forgotten; the next command "
                         "asks for the passphrase\n")
    else:
        sys.stdout.write(f"nothing to forget: no unlocked key is cached for {home}\n")
