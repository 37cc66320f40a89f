"""Sandbox benchmarks: spawn overhead of run_command('true') and snapshot+diff cost.

Run: .venv/bin/python bench/bench_sandbox.py  (prints ms and ratios; not a timed test)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bastion.config.models import SandboxSettings
from bastion.journal.snapshot import MemoryBlobStore, SnapshotCache, diff_snapshots, take_snapshot
from bastion.policy import Policy
from bastion.sandbox import build_env, compile_spec, run_sandboxed, run_unsandboxed


def _median_ms(fn, n: int = 30) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        policy = Policy(ws, bastion_home=Path(tmp) / "home")
        env = build_env(os.environ, workspace=ws)
        plain = _median_ms(lambda: run_unsandboxed("true", ws, env, 10, 10_000))
        spec = compile_spec(policy, SandboxSettings())
        full = _median_ms(lambda: run_sandboxed("true", spec, 10, 10_000))
        spec_nl = compile_spec(policy, SandboxSettings(landlock=False))
        bwrap_only = _median_ms(lambda: run_sandboxed("true", spec_nl, 10, 10_000))
        import subprocess

        bare = _median_ms(lambda: subprocess.run(
            ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc",
             "/proc", "true"], check=True))
        print(f"spawn 'true' bare bwrap (reference):        {bare:7.1f} ms")
        print(f"spawn 'true' unsandboxed (sh -c):           {plain:7.1f} ms")
        print(f"spawn 'true' bwrap+seccomp+cgroup:          {bwrap_only:7.1f} ms  "
              f"(x{bwrap_only / plain:.1f})")
        print(f"spawn 'true' bwrap+seccomp+cgroup+Landlock: {full:7.1f} ms  "
              f"(x{full / plain:.1f})")

        for i in range(100):
            d = ws / f"d{i:03}"
            d.mkdir()
            for j in range(100):
                (d / f"f{j:03}.txt").write_text(f"file {i} {j}\n" * 10)
        blobs, cache = MemoryBlobStore(), SnapshotCache()
        t = time.perf_counter()
        base = take_snapshot([ws], blobs, cache=cache)
        first = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        again = take_snapshot([ws], blobs, cache=cache)
        diff_snapshots(base, again)
        nochange = (time.perf_counter() - t) * 1000
        (ws / "d050" / "f050.txt").write_text("changed\n")
        t = time.perf_counter()
        after = take_snapshot([ws], blobs, cache=cache)
        changes = diff_snapshots(again, after)
        onechange = (time.perf_counter() - t) * 1000
        assert len(changes) == 1
        print(f"10,000 files: first snapshot (hash + store all): {first:7.1f} ms")
        print(f"10,000 files: snapshot+diff, no change:          {nochange:7.1f} ms")
        print(f"10,000 files: snapshot+diff, one changed file:   {onechange:7.1f} ms")


if __name__ == "__main__":
    main()
