"""Folder grants: which folders the agent may read or write, and the most specific one holding a path.

The pseudo-filesystems ``/proc``, ``/sys`` and ``/dev`` are outside every grant unless a grant
lies inside them: granting ``/`` does not grant ``/proc/self/mem``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .paths import is_within

Access = Literal["read", "write"]
ACCESS_RANK: dict[str, int] = {"read": 0, "write": 1}
#: pseudo-filesystems: outside every grant unless a grant lies inside them
PSEUDO_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


@dataclass(frozen=True)
class Grant:
    """A folder granted to the agent, with its access and where the grant came from."""

    path: Path
    access: Access
    source: str


def pseudo_root(path: Path) -> Path | None:
    """The pseudo-filesystem root ``path`` lies in, if any."""
    for root in PSEUDO_ROOTS:
        if is_within(path, root):
            return root
    return None


def grant_for(grants: Iterable[Grant], path: Path) -> Grant | None:
    """The most specific grant holding ``path`` (pseudo-filesystems: only grants inside them)."""
    pseudo = pseudo_root(path)
    best: Grant | None = None
    for g in grants:
        if pseudo is not None and not is_within(g.path, pseudo):
            continue
        if is_within(path, g.path) and (best is None or len(g.path.parts) > len(best.path.parts)):
            best = g
    return best


def merge_grants(grants: Iterable[Grant]) -> list[Grant]:
    """One grant per (real) folder; the same folder granted twice gets the lesser access."""
    merged: dict[Path, Grant] = {}
    for g in grants:
        path = Path(os.path.realpath(g.path))
        seen = merged.get(path)
        if seen is None:
            merged[path] = Grant(path, g.access, g.source)
        elif ACCESS_RANK[g.access] < ACCESS_RANK[seen.access]:
            merged[path] = Grant(path, g.access, f"{g.source}; over {seen.source}")
    return list(merged.values())


def intersect_grants(held: list[Grant], wanted: list[Grant]) -> list[Grant]:
    """Grants giving, at every path, the lesser access of ``held`` and ``wanted``.

    Candidate roots are the wanted grants inside a held one and the held grants inside a
    wanted one; each gets the lesser of the two accesses in force there. The most specific
    candidate holding a path is then also the most specific grant of each side, so the
    result is the exact intersection.
    """

    def access_at(grants: list[Grant], path: Path) -> Grant | None:
        best: Grant | None = None
        for g in grants:
            if is_within(path, g.path) and (best is None or
                                            len(g.path.parts) > len(best.path.parts)):
                best = g
        return best

    wanted = [Grant(Path(os.path.realpath(g.path)), g.access, g.source) for g in wanted]
    out: dict[Path, Grant] = {}
    for g in [*wanted, *held]:
        h, w = access_at(held, g.path), access_at(wanted, g.path)
        if h is None or w is None or g.path in out:
            continue
        access: Access = w.access if ACCESS_RANK[w.access] < ACCESS_RANK[h.access] else h.access
        source = w.source if access == w.access else f"{w.source}; narrowed to {h.access} " \
            f"({h.source})"
        out[g.path] = Grant(g.path, access, source)
    return list(out.values())
