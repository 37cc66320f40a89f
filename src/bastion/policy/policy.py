"""The policy decision point consulted by every tool call.

This foundation version confines reads to the workspace; the permission-engine issue grows
it into grants, rules, modes and approvals behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bastion.errors import BastionError

from .paths import canonical, display_path, is_within


class PolicyDenied(BastionError):
    """A request the policy refuses; the message is shown to the model and the user."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass
class Policy:
    workspace: Path

    def __post_init__(self) -> None:
        self.workspace = Path(self.workspace).resolve()

    def resolve_read(self, raw: str) -> Path:
        """The canonical path for reading ``raw``, or :class:`PolicyDenied` saying why."""
        try:
            path = canonical(raw, self.workspace)
        except ValueError as exc:
            raise PolicyDenied(f"invalid path {raw!r}: {exc}", "path-syntax") from None
        if not is_within(path, self.workspace):
            raise PolicyDenied(
                f"access to {raw!r} denied: it resolves outside the workspace "
                "(only the workspace is granted)", "workspace-confinement")
        return path

    def show(self, path: Path) -> str:
        return display_path(path, self.workspace)
