"""OS sandbox for commands: bubblewrap + seccomp + Landlock, limits, clean environment."""

from .launcher import (
    CommandResult,
    SandboxUnavailable,
    build_args,
    probe_sandbox,
    run_sandboxed,
    run_unsandboxed,
)
from .spec import Limits, SandboxSpec, build_env, is_credential_name

__all__ = [
    "CommandResult",
    "Limits",
    "SandboxSpec",
    "SandboxUnavailable",
    "build_args",
    "build_env",
    "is_credential_name",
    "probe_sandbox",
    "run_sandboxed",
    "run_unsandboxed",
]
