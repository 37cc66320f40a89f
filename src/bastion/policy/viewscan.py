"""The walk behind :meth:`Policy.sandbox_view`: nested secrets and protected paths in grants.

It runs before every sandboxed command, so it is written for speed while giving exactly the
answer of the plain walk it replaced (``os.walk`` top-down; for each entry: a secret →
hidden and not entered; a folder named ``.git`` → its ``hooks`` and ``config`` protected, not
entered; a protected path inside a writable grant → protected; then entered; the scan limit
counted per folder as before):

- ``os.scandir`` with plain strings; a ``Path`` is made only for an entry that is reported;
- deny patterns checked with :class:`ScanMatcher` (the entry's name against one set and one
  regex; anchored patterns only where they can still match);
- protected sequences (``.git/hooks``…) carried down incrementally: whether the folder is
  already under one, and its last few components, instead of re-reading every path.

The tests (``tests/policy/test_sandbox_view_scan.py``) compare it with a straightforward
reference on random trees.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .defaults import PROTECTED_NAMES, PROTECTED_SEQUENCES
from .patterns import ScanMatcher

_MAX_SEQ = max(len(s) for s in PROTECTED_SEQUENCES)
#: protected sequences by their last component: the only names that can complete one
_SEQ_BY_LAST: dict[str, tuple[tuple[str, ...], ...]] = {}
for _seq in PROTECTED_SEQUENCES:
    _SEQ_BY_LAST[_seq[-1]] = (*_SEQ_BY_LAST.get(_seq[-1], ()), _seq)


def _window_in(folded: tuple[str, ...]) -> bool:
    """Is a protected sequence anywhere in ``folded`` (casefolded parts) after the root?"""
    for seq in PROTECTED_SEQUENCES:
        n = len(seq)
        if any(folded[i:i + n] == seq for i in range(1, len(folded) - n + 1)):
            return True
    return False


@dataclass
class _Dir:
    """A folder to list, with what its entries inherit."""

    path: str
    parts: tuple[str, ...]
    #: inside a writable grant
    writable: bool
    #: a protected sequence already lies within ``parts``
    under_protected: bool
    #: the last ``_MAX_SEQ - 1`` components, casefolded
    tail: tuple[str, ...]
    #: anchored deny patterns that can still match below
    anchored: tuple[tuple[str, ...], ...] = field(default=())


@dataclass
class ViewScan:
    """Accumulates hidden and protected paths over the grant roots (in walk order)."""

    matcher: ScanMatcher
    writable: tuple[Path, ...]
    scan_limit: int
    hidden: list[Path] = field(default_factory=list)
    protected: list[Path] = field(default_factory=list)
    seen: int = 0
    complete: bool = True

    def scan(self, root: Path, root_hidden: bool) -> None:
        """Walk ``root`` (canonical). ``root_hidden``: a deny pattern matches the root itself
        (then every entry directly in it is hidden and nothing is entered)."""
        writable_strs = frozenset(str(w) for w in self.writable)
        parts = root.parts
        folded = tuple(p.casefold() for p in parts)
        top = _Dir(os.fspath(root), parts,
                   any(root == w or w in root.parents for w in self.writable),
                   _window_in(folded), folded[-(_MAX_SEQ - 1):] if _MAX_SEQ > 1 else (),
                   self.matcher.anchored_below(self.matcher.anchored, parts))
        stack = [top]
        while stack:
            d = stack.pop()
            below = self._list(d, root_hidden, writable_strs)
            if below is None:
                continue
            count, subdirs = below
            self.seen += count
            if self.seen > self.scan_limit:
                self.complete = False
                return
            stack.extend(reversed(subdirs))

    def _list(self, d: _Dir, root_hidden: bool,
              writable_strs: frozenset[str]) -> tuple[int, list[_Dir]] | None:
        try:
            with os.scandir(d.path) as it:
                entries = list(it)
        except OSError:
            return None  # as os.walk without onerror: an unreadable folder is skipped
        dirs: list[os.DirEntry[str]] = []
        files: list[os.DirEntry[str]] = []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(e)
        matcher, hidden, protected = self.matcher, self.hidden, self.protected
        depth = len(d.parts)
        subdirs: list[_Dir] = []
        kept = 0
        for e in dirs:
            name = e.name
            if root_hidden or matcher.entry_matches(d.anchored, d.parts, name):
                hidden.append(Path(e.path))
                continue
            if name == ".git":
                p = Path(e.path)
                protected += [p / "hooks", p / "config"]
                continue
            kept += 1
            folded = name.casefold()
            under = d.under_protected or self._completes(d, depth, folded)
            writable = d.writable or e.path in writable_strs
            if writable and (under or folded in PROTECTED_NAMES):
                protected.append(Path(e.path))
            if e.is_symlink():
                continue  # listed (and counted) but not entered, as os.walk(followlinks=False)
            parts = (*d.parts, name)
            anchored = d.anchored
            if anchored:
                anchored = matcher.anchored_below(anchored, parts)
            tail = (*d.tail, folded)[-(_MAX_SEQ - 1):] if _MAX_SEQ > 1 else ()
            subdirs.append(_Dir(e.path, parts, writable, under, tail, anchored))
        for e in files:
            name = e.name
            if root_hidden or matcher.entry_matches(d.anchored, d.parts, name):
                hidden.append(Path(e.path))
                continue
            if not (d.writable or e.path in writable_strs):
                continue
            folded = name.casefold()
            if folded in PROTECTED_NAMES or d.under_protected or \
                    self._completes(d, depth, folded):
                protected.append(Path(e.path))
        return len(files) + kept, subdirs

    @staticmethod
    def _completes(d: _Dir, depth: int, folded: str) -> bool:
        """Does the entry ``folded`` of ``d`` end a protected sequence (that starts after
        the root component)?"""
        for seq in _SEQ_BY_LAST.get(folded, ()):
            n = len(seq)
            if depth >= n and (n == 1 or d.tail[-(n - 1):] == seq[:-1]):
                return True
        return False
