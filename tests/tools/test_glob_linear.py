"""The glob tool: linear time whatever the pattern, and Path.glob's answers.

``Path.glob`` chains one recursive walk per ``**`` (``**/**/**/**/*`` took a second on a
30-deep folder chain, and every further ``**`` multiplies it); the tool now walks once and
matches each path with one RE2 expression (tools/globbing.py).
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bastion.policy import Policy
from bastion.tools import ToolContext
from bastion.tools.files import SKIP_DIRS, Glob
from bastion.tools.globbing import GlobError, compile_glob, walk_entries

NAMES = ["a", "b", "src", "x.py", "y.txt", ".hidden", "ab", "a.py", "node_modules", "deep"]
COMPONENTS = ["*", "**", "?", "a", "src", "*.py", "[ab]", "[!a]*", ".*", "?b", "x.*", "deep",
              "*.txt", "a*"]


def _tree(root: Path, rng: random.Random) -> None:
    dirs = [root]
    for _ in range(60):
        parent = rng.choice(dirs)
        name = rng.choice(NAMES)
        path = parent / name
        if path.exists():
            continue
        if rng.random() < 0.4:
            path.mkdir()
            dirs.append(path)
        else:
            path.write_text("x")


def _ours(root: Path, pattern: str) -> set[str]:
    compiled = compile_glob(pattern)
    return {rel for rel, is_dir, is_link in walk_entries(str(root), SKIP_DIRS)
            if compiled.matches(rel, is_dir, is_link)}


def _pathlib(root: Path, pattern: str) -> set[str]:
    out = set()
    for match in root.glob(pattern):
        rel = match.relative_to(root)
        if not any(part in SKIP_DIRS for part in rel.parts):
            out.add(rel.as_posix() if rel.parts else "")
    return out


@pytest.mark.parametrize("seed", range(12))
def test_same_matches_as_path_glob(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    _tree(tmp_path, rng)
    for _ in range(40):
        pattern = "/".join(rng.choice(COMPONENTS) for _ in range(rng.randint(1, 4)))
        assert _ours(tmp_path, pattern) == _pathlib(tmp_path, pattern), pattern


def test_bad_patterns_are_refused() -> None:
    for bad in ("", "/etc/*", "a/../b", "..", "./."):
        with pytest.raises(GlobError):
            compile_glob(bad)


def test_many_double_stars_on_a_deep_tree_finish(tmp_path: Path) -> None:
    """Twelve ``**`` over a 40-deep chain: Path.glob would visit ~40^12 combinations; the tool
    answers in one walk (run in a child with a timeout, so a regression fails, not hangs)."""
    deep = tmp_path / "ws"
    path = deep
    for i in range(40):
        path = path / f"d{i}"
    path.mkdir(parents=True)
    (path / "leaf.py").write_text("x")
    code = textwrap.dedent(f"""
        from pathlib import Path
        from bastion.policy import Policy
        from bastion.tools import ToolContext
        from bastion.tools.files import Glob, GlobArgs
        ws = Path({str(deep)!r})
        tool = Glob()
        ctx = ToolContext(ws, Policy(ws, approve="never", interactive=False,
                                     bastion_home=Path({str(tmp_path / "home")!r})))
        result = tool.run(GlobArgs(pattern="/".join(["**"] * 12) + "/*.py"), ctx)
        print(result.content)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("leaf.py"), proc.stdout


def test_tool_lists_matches_sorted_and_skips_ignored_folders(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "src" / "pkg").mkdir(parents=True)
    (ws / "node_modules" / "m").mkdir(parents=True)
    for rel in ("src/a.py", "src/pkg/b.py", "node_modules/m/c.py", "top.py"):
        (ws / rel).write_text("x")
    ctx = ToolContext(ws, Policy(ws, approve="never", interactive=False,
                                 bastion_home=tmp_path / "home"))
    result = Glob().run(Glob.Args(pattern="**/*.py"), ctx)
    assert result.content.splitlines() == ["src/a.py", "src/pkg/b.py", "top.py"], result.content


def test_names_that_are_not_utf8_match_like_path_glob(tmp_path: Path) -> None:
    import os

    for raw in (b"bad\xffname.txt", b"bad\xfename.txt", b"ok.txt", "é.txt".encode()):
        with open(os.path.join(os.fsencode(tmp_path), raw), "wb") as fh:
            fh.write(b"x")
    for pattern in ("*.txt", "bad?name.txt", "bad\udcffname.txt", "?.txt", "[!o]*"):
        assert _ours(tmp_path, pattern) == _pathlib(tmp_path, pattern), pattern
