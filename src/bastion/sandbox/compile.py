"""Compile the policy's file-system view and the sandbox settings into a :class:`SandboxSpec`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .launcher import MAX_HARDLINKS, SandboxUnavailable
from .spec import Limits, SandboxSpec, build_env

if TYPE_CHECKING:  # settings are read by attribute: importing the config package costs ~10 ms
    from bastion.config import SandboxSettings


def limits_from(settings: SandboxSettings) -> Limits:
    return Limits(cpu_seconds=settings.cpu_seconds, memory_mb=settings.memory_mb,
                  file_size_mb=settings.max_file_size_mb, open_files=settings.max_open_files,
                  max_processes=settings.max_processes,
                  max_files=getattr(settings, "max_files", None))


def compile_spec(policy: Any, settings: SandboxSettings, *,
                 hardlinks: Iterable[str | Path] = (),
                 env: dict[str, str] | None = None, view: Any = None) -> SandboxSpec:
    """The sandbox for ``policy`` (``Policy.sandbox_view()``), plus files to bind read-only.

    ``hardlinks``: regular files with several names found in the writable roots (from the
    pre-command snapshot); each is bound read-only so a write cannot reach the other name.
    ``view``: an already computed ``policy.sandbox_view()`` for this command (the scan walks
    every granted folder, so a caller that needs it too passes it instead of scanning twice).
    """
    workspace = Path(policy.workspace)
    if view is None and hasattr(policy, "sandbox_view"):
        view = policy.sandbox_view()
    read_only: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = (workspace,)
    protected: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    if view is None:  # a minimal policy: the workspace writable, nothing else granted
        pass
    else:
        if not view.complete:
            raise SandboxUnavailable(
                "the workspace is too large to scan for secrets and protected files; "
                "refusing to run commands in it", hint="narrow the granted folders")
        read_only, writable, protected, hidden = view
    links = [Path(p) for p in hardlinks]
    if len(links) > MAX_HARDLINKS:
        raise SandboxUnavailable(
            f"{len(links)} hard-linked files in the writable folders (more than "
            f"{MAX_HARDLINKS}); each would need its own read-only mount", hint=None)
    return SandboxSpec(
        workspace=workspace,
        read_only=[Path(p) for p in read_only],
        writable=[Path(p) for p in writable],
        protected=[Path(p) for p in protected],
        hidden=[Path(p) for p in hidden],
        read_only_files=links,
        limits=limits_from(settings),
        env=build_env(os.environ if env is None else env, workspace=workspace),
        landlock=getattr(settings, "landlock", True),
    )
