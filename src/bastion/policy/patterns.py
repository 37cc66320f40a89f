"""Gitignore-style path patterns with anchors, matched against canonical absolute paths.

Syntax (the specifier inside ``Read(...)``, ``Write(...)`` rules and ``permissions.denyRead``):

- ``//abs/path`` or ``/abs/path`` — an absolute path.
- ``~/x`` — relative to the user's home directory.
- ``./x`` — relative to the workspace (the project root for project settings).
- ``x/y`` (a slash inside) — also relative to the workspace, like gitignore.
- ``name`` or ``*.pem`` (no slash) — a file or directory name at any depth, anywhere.
- ``*`` and ``?`` and ``[abc]`` match within one component; ``**`` matches any number of them.
- A pattern that matches a directory also matches everything below it (a trailing ``/`` is
  accepted and means the same).

Matching is by whole path components of resolved paths (never a string prefix), so
``./app`` does not match ``/ws/app-secrets``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

_GLOB_CHARS = frozenset("*?[")


class PatternError(ValueError):
    """A pattern that cannot be understood (empty, or with a NUL byte)."""


def _has_glob(part: str) -> bool:
    return any(c in _GLOB_CHARS for c in part)


@dataclass(frozen=True)
class PathPattern:
    """One compiled pattern: either anchored (absolute components) or a floating name pattern."""

    source: str
    #: absolute components to match from the root, or None for a floating pattern
    anchored: tuple[str, ...] | None
    #: components of a floating pattern (matched against every suffix of the path)
    floating: tuple[str, ...] = ()

    @classmethod
    def compile(cls, pattern: str, workspace: Path, home: Path | None = None) -> PathPattern:
        raw = pattern.strip()
        if not raw or "\x00" in raw:
            raise PatternError(f"invalid path pattern {pattern!r}")
        home = home or Path(os.path.expanduser("~"))
        body = raw.rstrip("/") or "/"
        if body.startswith("/"):
            base, rest = Path("/"), body.lstrip("/")
        elif body == "~" or body.startswith("~/"):
            base, rest = home, body[2:]
        elif body == "." or body.startswith("./"):
            base, rest = workspace, body[2:]
        elif "/" in body:
            base, rest = workspace, body
        else:
            return cls(raw, None, (body,))
        parts = [p for p in rest.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise PatternError(f"'..' is not allowed in path pattern {pattern!r}")
        # The literal prefix is resolved like the paths it is compared with, so a pattern
        # written through a symlinked folder (e.g. /tmp on macOS) still matches.
        literal: list[str] = []
        for part in parts:
            if _has_glob(part):
                break
            literal.append(part)
        resolved = Path(os.path.realpath(base.joinpath(*literal)))
        tail = parts[len(literal):]
        return cls(raw, tuple(resolved.parts) + tuple(tail))

    def matches(self, path: Path) -> bool:
        """True when ``path`` (canonical, absolute) or one of its ancestors matches."""
        parts = path.parts
        if self.anchored is not None:
            return _match_prefix(self.anchored, parts)
        # A floating pattern may start at any component.
        return any(_match_prefix(self.floating, parts[i:]) for i in range(1, len(parts)))


@lru_cache(maxsize=4096)
def _match_prefix(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Does ``pattern`` match ``parts`` or a leading run of it (an ancestor directory)?"""
    if not pattern:
        return True  # pattern exhausted: this is the matched path or something below it
    if not parts:
        return all(p == "**" for p in pattern)
    head = pattern[0]
    if head == "**":
        return any(_match_prefix(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    if head == parts[0] or (_has_glob(head) and fnmatchcase(parts[0], head)):
        return _match_prefix(pattern[1:], parts[1:])
    return False
