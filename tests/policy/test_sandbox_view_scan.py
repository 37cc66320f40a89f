"""``Policy.sandbox_view()`` (the fast scan) against a plain reference, on random trees.

The reference below is deliberately naive: ``os.walk`` and ``Path`` objects, every deny
pattern matched against every suffix of every path component by component with
``fnmatchcase``, protected sequences looked for at every position. It shares nothing with the
scanner but the compiled patterns' component tuples (``PathPattern.compile``) and the tables
of protected names.
"""

from __future__ import annotations

import os
import tempfile
from fnmatch import fnmatchcase
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.policy import Grant, Policy
from bastion.policy.defaults import (
    PROTECTED_NAMES,
    PROTECTED_SEQUENCES,
    deny_read_paths,
    protected_paths,
)
from bastion.policy.patterns import PathPattern
from bastion.policy.policy import SandboxView


# ---------------------------------------------------------------------------- the reference
def ref_match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """``pattern`` matches ``parts`` or a leading run of it (``**``: any number of parts)."""
    if not pattern:
        return True
    if pattern[0] == "**":
        return any(ref_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    if not parts:
        return False
    head = pattern[0]
    same = head == parts[0] or (any(c in "*?[" for c in head) and fnmatchcase(parts[0], head))
    return same and ref_match(pattern[1:], parts[1:])


def ref_hidden(patterns: list[PathPattern], path: Path) -> bool:
    parts = path.parts
    for pat in patterns:
        if pat.anchored is not None:
            if ref_match(pat.anchored, parts):
                return True
        elif any(ref_match(pat.floating, parts[i:]) for i in range(1, len(parts))):
            return True
    return False


def ref_protected(path: Path) -> bool:
    parts = [p.casefold() for p in path.parts]
    if parts[-1] in PROTECTED_NAMES:
        return True
    return any(tuple(parts[i:i + len(seq)]) == seq
               for seq in PROTECTED_SEQUENCES for i in range(1, len(parts)))


def ref_view(policy: Policy, scan_limit: int) -> SandboxView:
    patterns = policy._deny_patterns
    grants = policy.grants or []
    writable = tuple(g.path for g in grants if g.access == "write" and policy.mode != "restricted")
    read_only = tuple(g.path for g in grants if g.path not in writable)
    protected: list[Path] = []
    for root in writable:
        protected += protected_paths(root)
    assert policy.home is not None and policy.bastion_home is not None
    hidden = list(deny_read_paths(policy.home, policy.bastion_home))
    hidden += [Path(os.path.realpath("/" + p.source.lstrip("/"))) for p in patterns
               if p.source.startswith("/") and not any(c in p.source for c in "*?[")]

    def in_writable(p: Path) -> bool:
        return any(p == w or w in p.parents for w in writable)

    seen, complete = 0, True
    for root in dict.fromkeys(g.path for g in grants):
        for dirpath, dirnames, filenames in os.walk(root):
            keep = []
            for name in dirnames:
                p = Path(dirpath) / name
                if ref_hidden(patterns, p):
                    hidden.append(p)
                elif name == ".git":
                    protected += [p / "hooks", p / "config"]
                else:
                    if ref_protected(p) and in_writable(p):
                        protected.append(p)
                    keep.append(name)
            dirnames[:] = keep
            for name in filenames:
                p = Path(dirpath) / name
                if ref_hidden(patterns, p):
                    hidden.append(p)
                elif ref_protected(p) and in_writable(p):
                    protected.append(p)
            seen += len(filenames) + len(dirnames)
            if seen > scan_limit:
                complete = False
                break
    return SandboxView(read_only, writable, tuple(dict.fromkeys(protected)),
                       tuple(dict.fromkeys(hidden)), complete)


# ---------------------------------------------------------------------------- random trees
NAMES = ["src", "x", "sub", "secrets", "keys", "data.json", "a.txt", ".env", ".ENV", ".env.prod",
         "server.pem", "id_rsa", "id_rsa.pub", "deploy.key", ".git", ".GIT", "hooks", "Hooks",
         "config", ".vscode", ".Idea", ".bastion", ".github", "workflows", ".bashrc",
         ".gitmodules", ".config", "fish", "gcloud", ".ssh", ".mcp.json", "[x]", "a*b"]
EXTRA_DENY = ["secrets/", "*.json", "src/**/*.json", "./x/config", "x/*/hooks", "**/fish",
              "sub/**", "keys", "[a-c].txt", "**"]

rel_paths = st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5),
                     min_size=1, max_size=40)


def _build(ws: Path, paths: list[list[str]], links: list[tuple[int, int]]) -> list[Path]:
    made: list[Path] = [ws]
    for comps in paths:
        target = ws.joinpath(*comps)
        try:
            if comps[-1] in ("src", "x", "sub", "secrets", "keys", "hooks", "workflows"):
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("v")
        except OSError:  # a file where a folder is wanted, or the reverse: skip
            continue
        made.append(target)
    for src, dst in links:  # symlinks to folders, to files and dangling ones
        origin, goal = made[src % len(made)], made[dst % len(made)]
        link = (origin if origin.is_dir() else origin.parent) / f"link{src}-{dst}"
        try:
            link.symlink_to(goal if dst % 5 else ws / "missing")
        except OSError:
            continue
    return made


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(paths=rel_paths,
       links=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), max_size=4),
       extra=st.lists(st.sampled_from(EXTRA_DENY), max_size=3),
       ws_name=st.sampled_from(["ws", "ws.key", ".ssh"]),
       home_is_ws_parent=st.booleans(),
       nested=st.sampled_from([None, ("sub", "read"), ("x", "write"), ("src", "read")]),
       mode=st.sampled_from(["standard", "restricted"]),
       scan_limit=st.sampled_from([3, 20, 50_000]))
def test_scan_matches_reference(paths: list[list[str]], links: list[tuple[int, int]],
                                extra: list[str], ws_name: str, home_is_ws_parent: bool,
                                nested: tuple[str, str] | None, mode: str,
                                scan_limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        ws = base / ws_name
        ws.mkdir()
        _build(ws, paths, links)
        grants = [Grant(ws, "write", "test")]
        if nested is not None:
            (ws / nested[0]).mkdir(exist_ok=True)
            grants.append(Grant(ws / nested[0], "read" if nested[1] == "read" else "write", "n"))
        home = base if home_is_ws_parent else ws
        policy = Policy(ws, grants=grants, deny_read=extra, home=home,
                        bastion_home=base / "bh", mode=mode)  # type: ignore[arg-type]
        assert policy.sandbox_view(scan_limit) == ref_view(policy, scan_limit)
        # the per-path matcher (decisions, is_hidden) agrees with the reference as well
        for dirpath, dirnames, filenames in os.walk(ws):
            for name in [*dirnames, *filenames]:
                p = Path(dirpath) / name
                assert policy.is_hidden(p) == ref_hidden(policy._deny_patterns, p), p


def test_planted_deep_secrets_and_protected_paths(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for rel in ["a/b/c/.env", "a/b/.vscode/settings.json", "a/.git/HEAD", "a/b/c/d/k.pem",
                "a/b/.config/fish/config.fish", "a/b/.GIT/hooks/pre-commit"]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x")
    policy = Policy(ws, home=tmp_path / "home", bastion_home=tmp_path / "bh")
    view = policy.sandbox_view()
    assert view == ref_view(policy, 50_000)
    assert {ws / "a/b/c/.env", ws / "a/b/c/d/k.pem"} <= set(view.hidden_paths)
    assert {ws / "a/b/.vscode", ws / "a/b/.vscode/settings.json", ws / "a/.git/hooks",
            ws / "a/b/.config/fish/config.fish", ws / "a/b/.GIT/hooks/pre-commit"} \
        <= set(view.protected_paths)
