"""``bastion completion bash|zsh|fish``: print the shell's completion script.

The script calls ``bastion`` back with ``_BASTION_COMPLETE=complete_<shell>`` set; the root
group answers from the lazy command table (cli/lazy.py), so completing a command name imports
no command module, and completing below a command imports only that one.
"""

from __future__ import annotations

import typer

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_BASTION_COMPLETE"


def completion(shell: str = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Example: bastion completion bash > ~/.local/share/bash-completion/completions/bastion
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}",
                                 param_hint="SHELL")
    # Typer keeps its (Click-compatible) completion machinery in these modules
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script

    completion_init()
    print(get_completion_script(prog_name="bastion", complete_var=COMPLETE_VAR, shell=shell))
