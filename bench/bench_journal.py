"""Per-write overhead of policy + journal vs a plain atomic write; undo time for 1,000 ops.

Run: ``.venv/bin/python bench/bench_journal.py`` (prints a table; not a timed test).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bastion.journal import Journal
from bastion.policy import Policy
from bastion.store import Database
from bastion.tools import ToolContext
from bastion.tools.edit import WriteFile


def plain_atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, path)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = root / "ws"
        ws.mkdir()
        db = Database(root / "bench.db", os.urandom(32))
        journal = Journal(db, root, os.urandom(32))
        ctx = ToolContext(workspace=ws, policy=Policy(ws), session_id="bench",
                          extras={"journal": journal})
        tool = WriteFile()
        print(f"{'case':<14}{'plain ms':>10}{'bastion ms':>12}{'ratio':>8}")
        for label, size, rounds in (("small (100 B)", 100, 200), ("1 MB", 1_000_000, 30)):
            plain, guarded = [], []
            for i in range(rounds):
                text = (f"{i:08d}" * (size // 8 + 1))[:size]  # new content every round
                t = time.perf_counter()
                plain_atomic_write(ws / "plain.txt", text.encode())
                plain.append(time.perf_counter() - t)
                args = tool.parse({"path": "guarded.txt", "content": text})
                t = time.perf_counter()
                result = tool.run(args, ctx)
                guarded.append(time.perf_counter() - t)
                assert not result.is_error, result.content
            p, g = median_ms(plain), median_ms(guarded)
            print(f"{label:<14}{p:>10.2f}{g:>12.2f}{g / p:>7.1f}x")

        n = 1000
        for i in range(n):
            tool.run(tool.parse({"path": f"many/f{i % 50}.txt", "content": f"v{i}"}), ctx)
        ops = journal.last_applied(n, "bench")
        t = time.perf_counter()
        journal.undo(ops)
        elapsed = time.perf_counter() - t
        print(f"undo of {len(ops)} operations: {elapsed:.2f} s "
              f"({elapsed / len(ops) * 1000:.2f} ms per operation)")
        db.close()


if __name__ == "__main__":
    main()
