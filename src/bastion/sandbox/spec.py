"""What a sandboxed command may see and do: a pure description, compiled to bwrap arguments later.

Nothing here touches the system, so the spec can be built, printed and tested on its own.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: variable names that never enter the sandbox, whatever the allowlist says (matched upper-cased)
CREDENTIAL_PATTERNS: tuple[str, ...] = (
    "*KEY*", "*TOKEN*", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*CREDENTIAL*", "*PASSPHRASE*",
    "*AUTH*", "*COOKIE*", "*SESSION*",
)
#: variables passed through from Bastion's environment when set (exact names or globs)
ENV_ALLOWLIST: tuple[str, ...] = (
    "PATH", "LANG", "LANGUAGE", "LC_*", "TERM", "TZ", "COLORTERM", "NO_COLOR", "FORCE_COLOR",
    "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_INPUT", "CI",
)
#: the sandbox has its own private home (an empty, writable directory in the private /tmp)
SANDBOX_HOME = "/tmp/home"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def is_credential_name(name: str) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pat) for pat in CREDENTIAL_PATTERNS)


def build_env(source: Mapping[str, str], extra: Mapping[str, str] | None = None,
              workspace: Path | None = None) -> dict[str, str]:
    """The command's whole environment: allowlisted names only, never a credential-like name.

    This is the ``env=`` of the bwrap process itself — ``--clearenv`` inside would still leave
    the parent's variables readable in ``/proc/1/environ`` (bwrap's helper process).
    """
    env: dict[str, str] = {}
    for name, value in source.items():
        if is_credential_name(name):
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in ENV_ALLOWLIST):
            env[name] = value
    for name, value in (extra or {}).items():
        if not is_credential_name(name):
            env[name] = value
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOME"] = SANDBOX_HOME
    env["TMPDIR"] = "/tmp"
    env["USER"] = env["LOGNAME"] = "sandbox"
    env["SHELL"] = "/bin/sh"
    env["BASTION_SANDBOX"] = "1"
    if workspace is not None:
        env["PWD"] = str(workspace)
    return env


@dataclass(frozen=True)
class Limits:
    """Per-command resource limits; ``None`` leaves one unset."""

    cpu_seconds: int | None = 300
    memory_mb: int | None = 2048
    file_size_mb: int | None = 1024
    open_files: int | None = 1024
    max_processes: int | None = 256
    #: new files (inodes) the command may create in the writable folders' file systems
    max_files: int | None = 50_000


@dataclass
class SandboxSpec:
    """Everything the launcher needs; all paths absolute and canonical.

    - ``read_only``: visible, read-only (system directories and read grants)
    - ``writable``: bound read-write (write grants; the workspace when it is granted)
    - ``protected``: read-only inside writable roots, even when missing (the first missing
      component is covered by an empty read-only mount so it cannot be created)
    - ``hidden``: deny-read paths and BASTION_HOME; an empty read-only tmpfs (directory) or an
      empty file (file) is mounted over them
    - ``read_only_files``: files inside writable roots that must not be written through,
      e.g. hard links whose other name lies outside the grant
    """

    workspace: Path
    read_only: list[Path] = field(default_factory=list)
    writable: list[Path] = field(default_factory=list)
    protected: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)
    read_only_files: list[Path] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    env: dict[str, str] = field(default_factory=lambda: build_env(os.environ))
    #: second layer: Landlock restricting writes to ``writable`` (+ /tmp, /dev)
    landlock: bool = True
    #: seccomp: refuse creating AF_UNIX sockets (host sockets stay unreachable wherever they are)
    block_unix_sockets: bool = True

    def visible_roots(self) -> list[Path]:
        return [*self.read_only, *self.writable]
