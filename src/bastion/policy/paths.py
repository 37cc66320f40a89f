"""Path canonicalisation: the one place that decides whether a path is inside a folder.

Comparison is by path components of fully resolved real paths — never by string prefix — so
``/work/app-secrets`` is not inside ``/work/app`` and a symlink is judged by where it points.
"""

from __future__ import annotations

import os
from pathlib import Path


def canonical(path: str | os.PathLike[str], base: Path) -> Path:
    """The absolute real path of ``path`` (relative paths are taken from ``base``).

    Symlinks are resolved as far as the path exists; the missing tail is normalised
    lexically, which is safe because a missing component cannot be a link.
    """
    raw = os.fspath(path)
    if "\x00" in raw:
        raise ValueError("path contains a NUL byte")
    expanded = os.path.expanduser(raw) if raw.startswith("~") else raw
    joined = Path(expanded) if os.path.isabs(expanded) else base / expanded
    return Path(os.path.realpath(joined))


def is_within(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or below it, comparing whole components."""
    inner, outer = path.parts, folder.parts
    return len(inner) >= len(outer) and inner[:len(outer)] == outer


def display_path(path: Path, workspace: Path) -> str:
    """Workspace-relative form for messages to the model, absolute otherwise."""
    if is_within(path, workspace):
        rel = path.relative_to(workspace).as_posix()
        return rel or "."
    return str(path)
