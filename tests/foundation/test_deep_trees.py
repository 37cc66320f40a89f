"""A folder chain deeper than Python's recursion limit (anyone can commit one; an MCP server
can make one in its state folder): every walk over such a tree finishes. Python 3.11's
``os.walk`` recurses per level and ended ``scan``, ``grep`` and deletion with RecursionError;
``fsutil.walk`` gives the same answers without recursion."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from bastion.fsutil import remove_tree, walk
from helpers import read_record, run_bastion, write_script

DEPTH = 1_400
TOKEN = "ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8"


@pytest.fixture(autouse=True)
def _remove_deep_trees(tmp_path: Path):  # type: ignore[no-untyped-def]
    """pytest's own clean-up of old temporary folders is recursive: leave nothing this deep."""
    yield
    for child in list(tmp_path.iterdir()):
        if child.is_dir() and not child.is_symlink():
            remove_tree(child)


def _deep_chain(root: Path, content: str) -> Path:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(DEPTH):
            os.mkdir("a", dir_fd=fd)
            inner = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("f.txt", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd)
        os.write(leaf, content.encode())
        os.close(leaf)
    finally:
        os.close(fd)
    return root / "/".join(["a"] * DEPTH) / "f.txt"


def test_walk_is_os_walk_without_recursion(tmp_path: Path) -> None:
    rng = random.Random(3)
    dirs = [tmp_path]
    for _ in range(120):
        parent = rng.choice(dirs)
        path = parent / f"{rng.choice('abcdef')}{rng.randint(0, 3)}"
        if os.path.lexists(path):
            continue
        roll = rng.random()
        if roll < 0.4:
            path.mkdir()
            dirs.append(path)
        elif roll < 0.5:
            path.symlink_to(rng.choice(dirs))
        else:
            path.write_text("x")
    for topdown in (True, False):
        assert list(walk(tmp_path, topdown=topdown)) == list(os.walk(tmp_path, topdown=topdown))
    deep = tmp_path / "deep"
    deep.mkdir()
    leaf = _deep_chain(deep, "x")
    assert sum(len(files) for _d, _s, files in walk(deep)) == 1
    assert next(d for d, _s, _f in walk(deep, topdown=False)) == str(leaf.parent)


def test_scan_grep_and_glob_reach_the_bottom(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _deep_chain(ws, f"token = '{TOKEN}'\nneedle\n")
    env = {"BASTION_HOME": str(tmp_path / "home"), "BASTION_PASSPHRASE": "test passphrase"}
    scanned = run_bastion("scan", ws, "--format", "json", env=env)
    assert scanned.returncode == 1, scanned.stderr
    assert "internal error" not in scanned.stderr.lower()
    assert any(f["rule_id"] == "github-pat" for f in json.loads(scanned.stdout))
    script = write_script(tmp_path / "s.jsonl", [
        {"content": "", "tool_calls": [{"name": "grep", "arguments": {"pattern": "needle"}},
                                       {"name": "glob", "arguments": {"pattern": "**/f.txt"}}]},
        {"content": "done"}])
    record = tmp_path / "rec.jsonl"
    done = run_bastion("run", "x", "-w", ws, "--provider", "replay", "--script", script,
                       "--record", record, "--approve", "never", env=env)
    assert done.returncode == 0, done.stderr
    results = [m["content"] for m in read_record(record)[-1]["messages"] if m["role"] == "tool"]
    assert "f.txt:2: needle" in results[0] and results[1].endswith("f.txt"), results


def test_deleting_a_deep_tree_finishes(tmp_path: Path) -> None:
    """``delete`` removes MCP servers' state folders, whose shape the server chooses."""
    from bastion.fsutil import empty_tree

    top = tmp_path / "state"
    top.mkdir()
    _deep_chain(top, "x")
    assert empty_tree(top) == 1  # the file; folders are removed, not counted
    assert list(top.iterdir()) == []


def test_remove_tree_removes_what_rmtree_cannot(tmp_path: Path) -> None:
    top = tmp_path / "project"
    top.mkdir()
    _deep_chain(top, "x")
    (top / "link").symlink_to(tmp_path)  # a link inside is removed, never followed
    remove_tree(top)
    assert not top.exists() and tmp_path.is_dir()
