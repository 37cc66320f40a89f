"""The sandbox view: the policy's grants and protections compiled for an OS sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .defaults import PROTECTED_NAMES, PROTECTED_SEQUENCES, deny_read_paths, protected_paths
from .patterns import PathPattern, ScanMatcher
from .rules import READ_TOOLS, WRITE_TOOLS
from .viewscan import ViewScan

if TYPE_CHECKING:
    from .grants import Grant
    from .rules import Rule

SCAN_LIMIT = 50_000


@dataclass
class SandboxView:
    """The file-system view a sandbox must enforce to agree with :class:`Policy`.

    Unpacks as ``(read_only_roots, writable_roots, protected_paths, hidden_paths)``:
    bind ``read_only_roots`` read-only, ``writable_roots`` read-write, then ``protected_paths``
    read-only on top (mask the missing ones so they cannot be created) and hide
    ``hidden_paths`` (empty tmpfs for directories, an empty file for files). ``complete`` is
    False when the scan for nested secrets/protected paths hit its limit — fail closed then.
    """

    read_only_roots: tuple[Path, ...]
    writable_roots: tuple[Path, ...]
    protected_paths: tuple[Path, ...]
    hidden_paths: tuple[Path, ...]
    complete: bool = True
    protected_names: frozenset[str] = PROTECTED_NAMES
    protected_sequences: tuple[tuple[str, ...], ...] = PROTECTED_SEQUENCES

    def __iter__(self) -> Iterator[tuple[Path, ...]]:
        return iter((self.read_only_roots, self.writable_roots, self.protected_paths,
                     self.hidden_paths))


def env_bastion_home() -> Path:
    env = os.environ.get("BASTION_HOME")
    if env:
        return Path(os.path.realpath(os.path.expanduser(env)))
    import platformdirs

    return Path(os.path.realpath(platformdirs.user_data_dir("bastion")))


class SandboxViews:
    """Mixin of :class:`~bastion.policy.Policy`: ``sandbox_view``."""

    if TYPE_CHECKING:
        grants: list[Grant] | None
        rules: list[Rule]
        mode: str
        home: Path | None
        bastion_home: Path | None
        _deny_patterns: list[PathPattern]

        def is_hidden(self, path: Path) -> bool: ...

    def sandbox_view(self, scan_limit: int = SCAN_LIMIT) -> SandboxView:
        """The grants and protections compiled for an OS sandbox (see :class:`SandboxView`)."""
        grants = self.grants or []
        writable = tuple(g.path for g in grants
                         if g.access == "write" and self.mode != "restricted")
        read_only = tuple(g.path for g in grants if g.path not in writable)
        protected: list[Path] = []
        for root in writable:
            protected += protected_paths(root)
        hidden: list[Path] = [p for p in deny_read_paths(self.home or Path.home(),
                                                         self.bastion_home or env_bastion_home())]
        # A command reads and writes through no gate: path rules that deny a file tool must
        # hold for it too. ``Read(...)`` denials hide like denyRead; ``Write(...)``-family
        # denials are mounted read-only.
        read_denied = [*self._deny_patterns, *_denied_patterns(self.rules, READ_TOOLS)]
        write_denied = _denied_patterns(self.rules, WRITE_TOOLS)
        # literal absolute entries (BASTION_HOME, user additions) hide as they are
        hidden += _literal_paths(read_denied)
        protected += _literal_paths(write_denied)
        # One walk per grant root (nested grants are walked again; duplicates dropped below).
        scan = ViewScan(_scan_matcher(tuple(read_denied)), writable, scan_limit)
        roots = tuple(dict.fromkeys(g.path for g in grants))
        for root in roots:
            scan.scan(root, self.is_hidden(root))
        protected += scan.protected
        hidden += scan.hidden
        complete = scan.complete
        if write_denied and writable:
            # what a write rule matches (and is not hidden anyway) becomes read-only
            wscan = ViewScan(_scan_matcher(tuple(write_denied)), writable, scan_limit)
            for root in writable:
                wscan.scan(root, False)
            protected += wscan.hidden
            complete = complete and wscan.complete
        return SandboxView(read_only, writable, tuple(dict.fromkeys(protected)),
                           tuple(dict.fromkeys(hidden)), complete)


def _denied_patterns(rules: list[Rule], tools: frozenset[str]) -> list[PathPattern]:
    """The path patterns of ``deny`` rules that apply to any of ``tools``."""
    return [r.path_pattern for r in rules
            if r.verdict == "deny" and r.path_pattern is not None
            and any(r.applies_to(t) for t in tools)]


def _literal_paths(patterns: list[PathPattern]) -> list[Path]:
    """Absolute patterns without wildcards, as canonical paths."""
    return [Path(os.path.realpath("/" + p.source.lstrip("/"))) for p in patterns
            if p.source.startswith("/") and not any(c in p.source for c in "*?[")]


@lru_cache(maxsize=64)
def _scan_matcher(patterns: tuple[PathPattern, ...]) -> ScanMatcher:
    """The deny patterns compiled for :class:`ViewScan` (policies share equal pattern lists)."""
    return ScanMatcher(patterns)
