"""``bastion exec [-w DIR] [--offline] -- CMD [ARG...]``: one command under the agent's sandbox.

The user typed the command, so no approval is asked; everything else is what ``run_command``
does — same sandbox spec compiled from the same policy, journaled (``bastion undo`` reverts
it), audited. The exit status is the command's. The common forms of ``exec`` skip Typer
altogether (cli/exec_run.py holds the body both paths run).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .exec_run import ExecArgs, run_exec


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
    raise typer.Exit(run_exec(ExecArgs(command, workspace, timeout)))


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
