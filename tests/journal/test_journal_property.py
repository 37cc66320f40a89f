"""Property: any sequence of agent file operations, undone by session, restores the tree
byte for byte (content and modes), while files the user created meanwhile survive."""

from __future__ import annotations

import itertools
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.journal import Journal
from bastion.policy import Policy
from bastion.tools import ToolContext
from bastion.tools.edit import DeleteFile, EditFile, MoveFile, WriteFile
from bastion.tools.files import ReadFile

PATHS = ["a.txt", "b.txt", "d1/c.txt", "d1/d2/e.txt", "n1/f.txt", "n1/n2/g.txt", "n3/h.txt"]
DIRS = ["", "d1", "d1/d2", "n1", "n1/n2", "n3"]
TEXT = st.text(alphabet="abc\n", min_size=0, max_size=20)

OPS = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(PATHS), TEXT),
    st.tuples(st.just("edit"), st.sampled_from(PATHS), TEXT),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.just("")),
    st.tuples(st.just("move"), st.sampled_from(PATHS), st.sampled_from(PATHS)),
    st.tuples(st.just("mkdir"), st.sampled_from(["n1/n2/deep/x.txt", "n3/y/z.txt"]), TEXT),
    st.tuples(st.just("user"), st.sampled_from(DIRS), TEXT),
)
INITIAL = st.dictionaries(st.sampled_from(PATHS[:4]),
                          st.tuples(st.binary(max_size=30), st.sampled_from([0o600, 0o644, 0o755])),
                          max_size=4)


def snapshot(root: Path) -> dict[str, tuple[str, bytes, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        mode = stat.S_IMODE(p.lstat().st_mode)
        rel = p.relative_to(root).as_posix()
        out[rel] = ("dir", b"", mode) if p.is_dir() else ("file", p.read_bytes(), mode)
    return out


def run(tool: Any, ctx: ToolContext, **args: Any) -> None:
    tool.run(tool.parse(args), ctx)  # failures (missing files, clashes) are part of the game


_counter = itertools.count()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(initial=INITIAL, ops=st.lists(OPS, max_size=12))
def test_undo_session_restores_tree(journal: Journal, initial: dict[str, tuple[bytes, int]],
                                    ops: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        (ws / "d1" / "d2").mkdir(parents=True)
        os.chmod(ws / "d1", 0o750)
        for rel, (data, mode) in initial.items():
            (ws / rel).write_bytes(data)
            os.chmod(ws / rel, mode)
        before = snapshot(ws)
        session = f"prop{next(_counter)}"
        ctx = ToolContext(workspace=ws, policy=Policy(ws), session_id=session,
                          extras={"journal": journal})
        user_files: dict[str, bytes] = {}
        for n, (kind, a, b) in enumerate(ops):
            ctx.tool_call_id = f"c{n}"
            if kind == "write" or kind == "mkdir":
                run(WriteFile(), ctx, path=a, content=b)
            elif kind == "edit":
                run(ReadFile(), ctx, path=a)
                run(EditFile(), ctx, path=a, old_text="", new_text=b)  # empty: refused
                if (ws / a).is_file() and (ws / a).read_bytes()[:1]:
                    first = (ws / a).read_bytes()[:1].decode("utf-8", "replace")
                    run(EditFile(), ctx, path=a, old_text=first, new_text=b or "Z",
                        replace_all=True)
            elif kind == "delete":
                run(DeleteFile(), ctx, path=a)
            elif kind == "move":
                run(MoveFile(), ctx, source=a, destination=b)
            elif kind == "user" and (ws / a).is_dir():
                name = f"{a}/user{n}.txt".lstrip("/")
                (ws / name).write_text(b)
                user_files[name] = b.encode()
        journal.undo(journal.last_applied(10_000, session)) if journal.last_applied(
            1, session) else None
        after = snapshot(ws)
        for name, data in user_files.items():
            assert after.pop(name)[1] == data
        # folders the agent made that now hold the user's files stay; nothing else differs
        keep = {p.as_posix() for name in user_files for p in Path(name).parents if str(p) != "."}
        for rel in keep - set(before):
            assert after.pop(rel)[0] == "dir"
        assert after == before
