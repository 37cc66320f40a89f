"""The one gate's cost: a tool call through the dispatcher vs the same work without a policy.

Interleaved rounds, median per call, in one process:

- ``read_file`` of a small file: plain ``open().read()`` (floor) vs ``dispatch(read_file)``
  (declare → authorize → settle → one record → read),
- ``policy.decide`` alone for the same path,
- ``move_file`` declaring two paths: the gate's ``authorize`` for both (one record).

Usage: PYTHONPATH=src .venv/bin/python bench/bench_gate.py [CALLS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bastion.agent.dispatch import dispatch
from bastion.policy import Policy, Request
from bastion.providers import ToolCall
from bastion.tools import ToolContext, ToolRegistry, read_only_tools


def _per_call(fn: object, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        (ws / "src").mkdir(parents=True)
        (ws / "src" / "a.py").write_text("print('x')\n" * 20)
        policy = Policy(ws, bastion_home=Path(tmp) / "home")
        ctx = ToolContext(ws, policy)
        registry = ToolRegistry(read_only_tools())
        call = ToolCall("c", "read_file", {"path": "src/a.py"})
        cases = {
            "open+read (floor)": lambda: (ws / "src" / "a.py").read_text(),
            "policy.decide": lambda: policy.decide("read_file", "src/a.py"),
            "authorize 2 paths": lambda: policy.authorize(
                "move_file", [Request("src/a.py", "write", name="source"),
                              Request("src/b.py", "write", name="destination")]),
            "dispatch(read_file)": lambda: dispatch(registry, ctx, call),
        }
        results: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(7):
            for name, fn in cases.items():
                results[name].append(_per_call(fn, calls // 7))
        floor = statistics.median(results["open+read (floor)"])
        for name, samples in results.items():
            med = statistics.median(samples)
            print(f"{name:22} {med:8.1f} µs/call  {med / floor:6.1f}× floor")


if __name__ == "__main__":
    main()
