"""``bastion trust [DIR]`` and ``bastion untrust [DIR]``."""

from __future__ import annotations

from pathlib import Path

import typer

from bastion import audit
from bastion.errors import BastionError
from bastion.home import bastion_home
from bastion.policy import TrustStore, project_files
from bastion.runtime import Runtime

from .output import err, out


def _dir(directory: Path) -> Path:
    resolved = directory.expanduser().resolve()
    if not resolved.is_dir():
        raise BastionError(f"{directory} is not a directory")
    return resolved


def trust(directory: Path = typer.Argument(Path("."), help="Project folder (default: cwd).")
          ) -> None:
    """Trust a project's own .bastion/ settings, agents and MCP servers (pinned by hash).

    Example: bastion trust ~/project
    """
    root = _dir(directory)
    files = project_files(root)
    if not files:
        raise BastionError(f"{root} has no .bastion/settings.json, agents or taskforces to trust")
    with Runtime.open():  # trusting widens what a project may do: always on the record
        digest = TrustStore(bastion_home()).trust(root)
        audit.record("user", "trust", {"directory": str(root), "digest": str(digest),
                                       "files": [str(f.relative_to(root)) for f in files]})
    for f in files:
        out.print(f"  {f.relative_to(root)}", markup=False)
    err.print(f"trusted {root} (digest {str(digest)[:16]}…); any change to these files makes "
              "it untrusted again", markup=False)


def untrust(directory: Path = typer.Argument(Path("."), help="Project folder (default: cwd).")
            ) -> None:
    """Withdraw trust: the project's settings can only tighten again.

    Example: bastion untrust ~/project
    """
    root = _dir(directory)
    with Runtime.open():
        removed = TrustStore(bastion_home()).untrust(root)
        audit.record("user", "untrust", {"directory": str(root), "was_trusted": removed})
    if removed:
        err.print(f"{root} is no longer trusted", markup=False)
    else:
        err.print(f"{root} was not trusted", markup=False)
