"""grep and read_file cover whole files: a match or a line past the first 2 MB is found, and
output that is cut says so (never an empty success)."""

from __future__ import annotations

from pathlib import Path

from bastion.agent.dispatch import dispatch
from bastion.providers import ToolCall
from bastion.tools import ToolContext, ToolRegistry, read_only_tools


def _run(ctx: ToolContext, name: str, **arguments: object) -> str:
    result = dispatch(ToolRegistry(read_only_tools()), ctx, ToolCall("c1", name, arguments))
    assert not result.is_error, result.content
    return result.content


def test_grep_and_read_file_reach_past_two_megabytes(ctx: ToolContext, workspace: Path) -> None:
    big = workspace / "big.log"
    filler = b"x" * 99 + b"\n"
    with big.open("wb") as fh:
        for _ in range(40_000):  # 4 MB of filler, then the needle
            fh.write(filler)
        fh.write(b"the needle is here\n")
    found = _run(ctx, "grep", pattern="needle", path="big.log")
    assert "big.log:40001: the needle is here" in found
    line = _run(ctx, "read_file", path="big.log", offset=40001, limit=1)
    assert line.strip() == "40001\tthe needle is here"
    past = _run(ctx, "read_file", path="big.log", offset=50000)
    assert "past the end" in past and "40001 lines" in past
    whole = _run(ctx, "read_file", path="big.log")
    assert "[output stops before line" in whole.splitlines()[-1]
