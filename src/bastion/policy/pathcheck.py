"""Decisions on one canonical path (first step that answers wins):

1. deny-read defaults and ``permissions.denyRead`` → deny, for reading *and* writing
2. writes to protected paths (``.bastion/``, ``.git/hooks``, ``.git`` itself, shell rc files,
   …) → deny; so is replacing, moving or deleting a folder that holds a protected path, a
   secret or a granted folder
3. a path through a symlink inside a grant that resolves outside every grant → deny
4. restricted mode: every write → deny
5. user rules: deny → ask → allow, first match wins (strict mode ignores allow rules for writes)
6. grants: the most specific grant holding the path decides — reads proceed; writes proceed
   in a write grant (ask in strict mode) and are denied in a read-only grant
7. outside every grant (``/proc``, ``/sys``, ``/dev`` included unless granted) → ask

An "ask" about a path outside every grant is marked ``outside``: only a person at a terminal
can settle it (see :mod:`bastion.policy.approvals`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.fsutil import walk

from .decision import Decision
from .defaults import protected_match
from .grants import Access, Grant, pseudo_root
from .paths import is_within

if TYPE_CHECKING:
    from .patterns import PathPattern
    from .rules import Rule

#: entries looked at when a folder is about to be moved, replaced or deleted
CONTAINS_SCAN_LIMIT = 20_000


class PathDecisions:
    """Mixin of :class:`~bastion.policy.Policy`: decisions on file paths."""

    if TYPE_CHECKING:
        grants: list[Grant] | None
        rules: list[Rule]
        mode: str
        _deny_patterns: list[PathPattern]
        _git_dirs: list[Path]

        def grant_for(self, path: Path) -> Grant | None: ...

        def show(self, path: Path) -> str: ...

        def is_hidden(self, path: Path) -> bool: ...

    def is_outside(self, path: Path, lexical: Path | None = None) -> bool:
        """True when ``path`` (or a pseudo-filesystem path it was written as) is outside
        every grant."""
        if self.grant_for(path) is None:
            return True
        return lexical is not None and pseudo_root(lexical) is not None and \
            self.grant_for(lexical) is None

    def _decide_path(self, tool: str, path: Path, lexical: Path, access: Access) -> Decision:
        d = self._decide_path_verdict(tool, path, lexical, access)
        if d.verdict == "ask" and self.is_outside(path, lexical):
            return Decision("ask", d.rule, d.reason, outside=True)
        return d

    def _decide_path_verdict(self, tool: str, path: Path, lexical: Path,
                             access: Access) -> Decision:
        shown = self.show(path)
        for pat in self._deny_patterns:
            if pat.matches(path) or pat.matches(lexical):
                return Decision("deny", f"deny-read:{pat.source}",
                                f"{shown} may hold secrets ({pat.source} is never readable or "
                                "writable by the agent)")
        if access == "write":
            protected = self._protected(path, lexical)
            if protected is not None:
                return protected
        if lexical != path and self.grant_for(lexical) is not None and self.grant_for(path) is None:
            return Decision("deny", "symlink-escape",
                            f"{self.show(lexical)} goes through a symlink that leads outside the "
                            f"workspace and every granted folder (to {path})")
        if access == "write" and self.mode == "restricted":
            return Decision("deny", "mode:restricted", "restricted mode allows no changes")
        for verdict in ("deny", "ask", "allow"):
            for rule in self.rules:
                if rule.verdict != verdict or not rule.matches(tool, path):
                    continue
                if verdict == "allow" and access == "write" and self.mode == "strict":
                    continue  # strict mode: every mutating call asks
                return Decision(rule.verdict, rule.describe(), f"rule {rule.text} ({rule.source})")
        return self._by_grant(path, lexical, access)

    def _protected(self, path: Path, lexical: Path) -> Decision | None:
        hit = protected_match(path) or protected_match(lexical)
        if hit is None and any(is_within(path, d) for d in self._git_dirs):
            hit = "git dir"
        if hit is not None:
            return Decision("deny", f"protected:{hit}",
                            f"{self.show(path)} is protected ({hit}): agent configuration, git "
                            "hooks and config, editor/CI settings and shell start-up files are "
                            "read-only for the agent, even inside a writable folder")
        return self._folder_holds(path)

    def _by_grant(self, path: Path, lexical: Path, access: Access) -> Decision:
        shown = self.show(path)
        grant = None if self.is_outside(path, lexical) else self.grant_for(path)
        if grant is None:
            return Decision("ask", "outside-grants",
                            f"{shown} is outside the workspace and every granted folder",
                            outside=True)
        if access == "read":
            return Decision("allow", f"grant:{grant.access}:{grant.path}",
                            f"inside the granted folder {grant.path}")
        if grant.access == "read":
            return Decision("deny", f"grant:read:{grant.path}",
                            f"{shown} is in a read-only folder ({grant.path}, {grant.source})")
        if self.mode == "strict":
            return Decision("ask", "mode:strict", "strict mode asks before every change")
        return Decision("allow", f"grant:write:{grant.path}",
                        f"inside the writable folder {grant.path}")

    def _folder_holds(self, path: Path) -> Decision | None:
        """Deny replacing, moving or deleting a real folder that holds something protected.

        Renaming a folder renames everything in it: ``mv sub x`` takes ``sub/.git/hooks``
        along and would free ``sub/.git`` for a directory of the agent's choosing.
        """
        if not os.path.isdir(path) or os.path.islink(path):
            return None
        shown = self.show(path)

        def deny(what: str, rule: str) -> Decision:
            return Decision("deny", f"protected:{rule}",
                            f"{shown} is a folder holding {what}; it cannot be replaced, moved "
                            "or deleted by the agent")

        for g in self.grants or []:
            if is_within(g.path, path):
                return deny(f"the granted folder {g.path}", "grant-root")
        for d in self._git_dirs:
            if is_within(d, path):
                return deny(f"the git directory {d}", "git dir")
        seen = 0
        for dirpath, dirnames, filenames in walk(path):  # no recursion: any depth
            for name in [*dirnames, *filenames]:
                p = Path(dirpath) / name
                hit = protected_match(p)
                if hit is not None:
                    return deny(f"{self.show(p)} ({hit})", f"contains {hit}")
                if self.is_hidden(p):
                    return deny(f"{self.show(p)}, which may hold secrets", "contains secret")
            seen += len(dirnames) + len(filenames)
            if seen > CONTAINS_SCAN_LIMIT:
                return deny(f"more than {CONTAINS_SCAN_LIMIT} entries (too many to check)",
                            "scan-limit")
        return None
