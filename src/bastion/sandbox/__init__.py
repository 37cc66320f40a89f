"""OS sandbox for commands: bubblewrap + seccomp + Landlock, limits, clean environment."""

from .compile import compile_spec, limits_from
from .errors import INSTALL_HINT
from .launcher import (
    CommandResult,
    SandboxUnavailable,
    build_args,
    probe_sandbox,
    run_sandboxed,
    run_unsandboxed,
)
from .mounts import is_placeholder, sweep_placeholders
from .process import start_sandboxed
from .spec import Limits, SandboxSpec, build_env, is_credential_name

__all__ = [
    "INSTALL_HINT",
    "CommandResult",
    "Limits",
    "SandboxSpec",
    "SandboxUnavailable",
    "build_args",
    "build_env",
    "compile_spec",
    "is_credential_name",
    "is_placeholder",
    "limits_from",
    "probe_sandbox",
    "run_sandboxed",
    "run_unsandboxed",
    "start_sandboxed",
    "sweep_placeholders",
]
