"""Benchmark ``Policy.sandbox_view()`` — the per-command scan for nested secrets/protected paths.

    .venv/bin/python bench/bench_policy_view.py [--files 10000] [--rounds 7]

Builds a nested workspace of ``--files`` files (a few secrets and protected folders planted
deep), then times, interleaved in the same run, the scan as it was before the rewrite (kept
below as ``old_sandbox_view``, with the old pattern matcher, so the baseline does not move when
the matcher changes) and the current ``Policy.sandbox_view()``; prints medians and checks that
both return the same view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

from bastion.policy import Policy
from bastion.policy.defaults import (
    PROTECTED_NAMES,
    PROTECTED_SEQUENCES,
    deny_read_paths,
    protected_paths,
)
from bastion.policy.paths import is_within
from bastion.policy.patterns import PathPattern
from bastion.policy.policy import SandboxView

#: planted below the tree (relative paths); directories end with "/"
PLANTED = (
    "d003/s01/t02/.env", "d007/s04/t01/server.pem", "d011/s02/id_rsa.pub", "d015/.env.local",
    "d002/s03/t03/.vscode/", "d002/s03/t03/.vscode/settings.json", "d009/s01/.git/",
    "d009/s01/.git/HEAD", "d013/s02/t00/.bastion/", "d013/s02/t00/.bastion/agents.yaml",
    "d018/s03/.github/workflows/", "d018/s03/.github/workflows/ci.yml", "d004/s00/.bashrc",
    "d006/s02/t01/keys/", "d006/s02/t01/keys/deploy.key",
)


def make_tree(root: Path, files: int) -> None:
    """``files`` small files spread over dNNN/sNN/tNN folders, plus :data:`PLANTED`."""
    per_leaf = 25
    leaves = max(1, files // per_leaf)
    n = 0
    for i in range(leaves):
        leaf = root / f"d{i // 16:03}" / f"s{(i // 4) % 4:02}" / f"t{i % 4:02}"
        leaf.mkdir(parents=True, exist_ok=True)
        for j in range(per_leaf):
            if n >= files:
                break
            (leaf / f"f{j:02}.py").write_text("x = 1\n")
            n += 1
    for rel in PLANTED:
        target = root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("secret\n")


# ---------------------------------------------------------------------------- the old code
@lru_cache(maxsize=4096)
def _old_match_prefix(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    if not pattern:
        return True
    if not parts:
        return all(p == "**" for p in pattern)
    head = pattern[0]
    if head == "**":
        return any(_old_match_prefix(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    if head == parts[0] or (any(c in "*?[" for c in head) and fnmatchcase(parts[0], head)):
        return _old_match_prefix(pattern[1:], parts[1:])
    return False


def _old_matches(pat: PathPattern, path: Path) -> bool:
    parts = path.parts
    if pat.anchored is not None:
        return _old_match_prefix(pat.anchored, parts)
    return any(_old_match_prefix(pat.floating, parts[i:]) for i in range(1, len(parts)))


def _old_protected_match(path: Path) -> str | None:
    parts = tuple(p.casefold() for p in path.parts)
    if parts and parts[-1] in PROTECTED_NAMES:
        return path.name
    for seq in PROTECTED_SEQUENCES:
        n = len(seq)
        for i in range(1, len(parts) - n + 1):
            if parts[i:i + n] == seq:
                return "/".join(seq) + ("/" if n == 1 or seq[-1] != "config" else "")
    return None


def old_sandbox_view(policy: Policy, scan_limit: int = 50_000) -> SandboxView:
    """``Policy.sandbox_view()`` before the rewrite (os.walk + Path + per-pattern matching)."""
    patterns: list[PathPattern] = policy._deny_patterns

    def is_hidden(path: Path) -> bool:
        return any(_old_matches(p, path) for p in patterns)

    grants = policy.grants or []
    writable = tuple(g.path for g in grants if g.access == "write" and policy.mode != "restricted")
    read_only = tuple(g.path for g in grants if g.path not in writable)
    protected: list[Path] = []
    for root in writable:
        protected += protected_paths(root)
    assert policy.home is not None and policy.bastion_home is not None
    hidden: list[Path] = list(deny_read_paths(policy.home, policy.bastion_home))
    hidden += [Path(os.path.realpath("/" + p.source.lstrip("/"))) for p in patterns
               if p.source.startswith("/") and not any(c in p.source for c in "*?[")]
    seen = 0
    complete = True
    for root in dict.fromkeys(g.path for g in grants):
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            base = Path(dirpath)
            keep = []
            for name in dirnames:
                p = base / name
                if is_hidden(p):
                    hidden.append(p)
                elif name == ".git":
                    protected += [p / "hooks", p / "config"]
                else:
                    if _old_protected_match(p) and any(is_within(p, w) for w in writable):
                        protected.append(p)
                    keep.append(name)
            dirnames[:] = keep
            for name in filenames:
                p = base / name
                if is_hidden(p):
                    hidden.append(p)
                elif _old_protected_match(p) and any(is_within(p, w) for w in writable):
                    protected.append(p)
            seen += len(filenames) + len(dirnames)
            if seen > scan_limit:
                complete = False
                break
    return SandboxView(read_only, writable, tuple(dict.fromkeys(protected)),
                       tuple(dict.fromkeys(hidden)), complete)


# ---------------------------------------------------------------------------- measuring
def _time_ms(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ws = base / "ws"
        make_tree(ws, args.files)
        policy = Policy(ws, home=base / "home", bastion_home=base / "bastion-home",
                        deny_read=["secrets/", "d00*/s01/**/*.json"])
        old, new = old_sandbox_view(policy), policy.sandbox_view()
        same = (old.read_only_roots, old.writable_roots, old.protected_paths, old.hidden_paths,
                old.complete) == (new.read_only_roots, new.writable_roots, new.protected_paths,
                                  new.hidden_paths, new.complete)
        old_ms: list[float] = []
        new_ms: list[float] = []
        for _ in range(args.rounds):  # interleaved, so load changes hit both alike
            old_ms.append(_time_ms(old_sandbox_view, policy))
            new_ms.append(_time_ms(policy.sandbox_view))
        entries = sum(len(d) + len(f) for _, d, f in os.walk(ws))
        print(f"workspace: {args.files} files, {entries} entries; "
              f"{len(new.hidden_paths)} hidden, {len(new.protected_paths)} protected paths")
        print(f"same view as the old scan: {same}")
        o, n = statistics.median(old_ms), statistics.median(new_ms)
        print(f"sandbox_view() before: {o:8.1f} ms (median of {args.rounds}; "
              f"min {min(old_ms):.1f}, max {max(old_ms):.1f})")
        print(f"sandbox_view() after:  {n:8.1f} ms (median of {args.rounds}; "
              f"min {min(new_ms):.1f}, max {max(new_ms):.1f})  ×{o / n:.0f} faster")


if __name__ == "__main__":
    main()
