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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase, translate
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
        if len(self.floating) == 1:
            # a name pattern (the only kind ``compile`` makes): does any component match it?
            match = _name_test(self.floating[0])
            return any(match(part) for part in parts[1:])
        # A floating pattern may start at any component.
        return any(_match_prefix(self.floating, parts[i:]) for i in range(1, len(parts)))


@lru_cache(maxsize=1024)
def _name_test(pattern: str) -> Callable[[str], bool]:
    """A test for one path component against one pattern component (``fnmatchcase`` rules)."""
    if _has_glob(pattern):
        return _regex_test([pattern])
    return pattern.__eq__


def _regex_test(globs: list[str]) -> Callable[[str], bool]:
    """One compiled regex that matches a name when ``fnmatchcase`` matches any of ``globs``."""
    match = re.compile("|".join(f"(?:{translate(g)})" for g in globs)).match
    return lambda name: match(name) is not None


def _component_matches(pattern: str, part: str) -> bool:
    """One pattern component against one path component, exactly as :func:`_match_prefix`."""
    return pattern == part or (_has_glob(pattern) and fnmatchcase(part, pattern))


class ScanMatcher:
    """Deny patterns prepared for a top-down walk that stops at every match.

    In such a walk no proper ancestor of an entry matched (the walk would not have gone
    below it), and neither did the walk's root or anything above it (callers check the root
    with :meth:`PathPattern.matches` first). An entry then matches a pattern exactly when:

    - a name pattern (``*.pem``, ``.env``): its *name* matches — one set lookup for the
      literal names and one combined regex for the globs, instead of a match per component
      per pattern;
    - an anchored pattern: it matches the entry's own components; only patterns whose
      components up to the first ``**`` agree with the directory being listed are tried
      (:meth:`anchored_below`), and a pattern not ending in ``**`` must match the name.
    """

    def __init__(self, patterns: Iterable[PathPattern]) -> None:
        names: set[str] = set()
        globs: list[str] = []
        anchored: list[tuple[str, ...]] = []
        self._other: list[PathPattern] = []
        for pat in patterns:
            if pat.anchored is not None:
                anchored.append(pat.anchored)
            elif len(pat.floating) == 1 and not _has_glob(pat.floating[0]):
                names.add(pat.floating[0])
            elif len(pat.floating) == 1:
                globs.append(pat.floating[0])
            else:  # not made by ``compile``: keep the general matcher
                self._other.append(pat)
        self._names = frozenset(names)
        self._glob_test = _regex_test(globs) if globs else None
        self.anchored = tuple(dict.fromkeys(anchored))

    def name_matches(self, name: str) -> bool:
        """Does a name pattern match ``name``?"""
        return name in self._names or (self._glob_test is not None and self._glob_test(name))

    @staticmethod
    def anchored_below(anchored: Iterable[tuple[str, ...]],
                       parts: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
        """The ``anchored`` patterns that could match something at or below ``parts``.

        Components before a pattern's first ``**`` pair up one to one with the path's, so
        each of them must match the path's component at the same position.
        """
        keep: list[tuple[str, ...]] = []
        for pat in anchored:
            for i in range(min(len(pat), len(parts))):
                if pat[i] == "**":
                    keep.append(pat)
                    break
                if not _component_matches(pat[i], parts[i]):
                    break
            else:
                keep.append(pat)
        return tuple(keep)

    def entry_matches(self, anchored: tuple[tuple[str, ...], ...], parent: tuple[str, ...],
                      name: str) -> bool:
        """Does a pattern match the entry ``name`` of the directory ``parent`` (its parts)?

        ``anchored`` is :meth:`anchored_below` of ``parent``; see the class docstring for what
        the walk must guarantee.
        """
        if name in self._names or (self._glob_test is not None and self._glob_test(name)):
            return True
        if anchored:
            parts = (*parent, name)
            for pat in anchored:
                last = pat[-1]
                if last != "**" and not _component_matches(last, name):
                    continue
                if _match_prefix(pat, parts):
                    return True
        if self._other:
            path = Path(*parent, name)
            return any(p.matches(path) for p in self._other)
        return False


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
