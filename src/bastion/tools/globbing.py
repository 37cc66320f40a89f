"""The ``glob`` tool's matcher: one walk of the tree and one RE2 match per path.

``Path.glob`` chains one recursive selector per ``**``, so ``**/**/**/**/*`` visits every
directory once per combination of levels: on a 30-deep folder chain four ``**`` took a second
and each more multiplies that — a pattern the model chooses could stall a run. Here the pattern
becomes one RE2 expression over workspace-relative paths (linear in the path, whatever the
pattern), and the tree is walked once, without following links and without entering the
folders the tool never reports (``SKIP_DIRS``). The answers are ``Path.glob``'s (checked on
random trees in ``tests/tools/test_glob_linear.py``) except that a match is found through its
real location only, never through a link to a folder.

Semantics kept from ``Path.glob``: components match one name each; ``*`` and ``?`` never cross
``/``; ``[...]`` / ``[!...]`` are character classes; ``**`` matches zero or more folders, and a
trailing ``**`` matches folders only (the folder it starts from included); names starting with a
dot are matched like any other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2

from bastion.fsutil import walk

#: names that are not UTF-8 arrive with each undecodable byte as a lone surrogate (PEP 383),
#: which RE2 cannot take: each becomes a private-use character of its own, in the pattern and
#: in the paths alike, so ``?`` and ``*`` still see one character per byte, as fnmatch does
_SURROGATES = {0xDC80 + i: 0xF780 + i for i in range(128)}


def _matchable(text: str) -> str:
    return text if text.isascii() else text.translate(_SURROGATES)


class GlobError(ValueError):
    """A pattern that cannot be used (empty, absolute, or containing ``..``)."""


@dataclass(frozen=True)
class GlobPattern:
    regex: Any
    #: a trailing ``**``: only folders match
    dirs_only: bool

    def matches(self, relative: str, is_dir: bool, is_link: bool = False) -> bool:
        if self.dirs_only and (not is_dir or is_link):  # "**" never lists linked folders
            return False
        if not relative and not self.dirs_only:  # the folder searched is no match of "*"
            return False
        return self.regex.fullmatch(_matchable(relative)) is not None


def _class(component: str, i: int) -> tuple[str, int] | None:
    """The RE2 class for the ``[...]`` starting at ``component[i]``, and where it ends."""
    j = i + 1
    if j < len(component) and component[j] in "!^":
        j += 1
    if j < len(component) and component[j] == "]":
        j += 1
    while j < len(component) and component[j] != "]":
        j += 1
    if j >= len(component):
        return None  # no closing bracket: a literal "["
    body = component[i + 1:j]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    escaped = body.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    escaped = escaped.replace("^", "\\^")
    # a class never matches the separator, negated or not (one name per component)
    return (f"[^/{escaped}]" if negate else f"[{escaped}]"), j + 1


def _component(component: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(component):
        ch = component[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and (cls := _class(component, i)) is not None:
            out.append(cls[0])
            i = cls[1]
            continue
        else:
            out.append(re2.escape(ch))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> GlobPattern:
    """The pattern as one RE2 expression over ``/``-separated workspace-relative paths."""
    if not pattern or pattern.startswith("/"):
        raise GlobError("glob patterns must be relative to the workspace and not empty")
    parts = [p for p in _matchable(pattern).split("/") if p not in ("", ".")]
    if ".." in parts:
        raise GlobError("glob patterns must be relative to the workspace and contain no '..'")
    if not parts:
        raise GlobError("glob pattern matches nothing")
    collapsed: list[str] = []
    for part in parts:  # "**/**" is "**"
        if not (part == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(part)
    dirs_only = collapsed[-1] == "**"
    body = [_component(part) if part != "**" else "(?:[^/]+/)*"
            for part in (collapsed[:-1] if dirs_only else collapsed)]
    expression = "".join(piece if piece.endswith("*") and piece.startswith("(?:[^/]+/)")
                         else piece + "/" for piece in body)
    if dirs_only:  # "src/**": src itself or any folder below it; "**": every folder
        expression = (expression[:-1] + "(?:/[^/]+)*") if expression.endswith("/") \
            else expression + "(?:[^/]+(?:/[^/]+)*)?"
    else:
        expression = expression[:-1]  # no separator after the last component
    options = re2.Options()
    options.log_errors = False
    return GlobPattern(re2.compile(expression, options), dirs_only)


def walk_entries(root: str, skip_dirs: frozenset[str] | set[str]) -> Iterator[tuple[str, bool, bool]]:
    """``(relative path, is folder, is link)`` for everything under ``root`` (itself as
    ``""``), not following links, not entering ``skip_dirs`` (:func:`bastion.fsutil.walk`)."""
    yield "", True, False
    for dirpath, dirnames, filenames in walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip_dirs]
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel + "/"
        for name in dirnames:  # a link to a folder is listed as one, and not entered
            yield prefix + name, True, os.path.islink(os.path.join(dirpath, name))
        for name in filenames:
            if name not in skip_dirs:
                yield prefix + name, False, False
