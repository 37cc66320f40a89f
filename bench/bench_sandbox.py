"""Sandbox benchmarks: spawn overhead of 'true' and snapshot+diff cost.

In one run: ``sh -c true``, bare bubblewrap, bubblewrap with the sandbox's mount set alone, the
sandbox alone (``run_sandboxed``: without Landlock, with the native Landlock helper, with the
Python helper — each after an untimed think-time pause in which the next command's gate is
prepared, and back to back without one), and ``bastion exec -- true`` end to end (a fresh
process each time, the master key unlocked from the session keyring cache after the first
call).

Run: .venv/bin/python bench/bench_sandbox.py  (prints ms and ratios; not a timed test)

The spawn variants are sampled *interleaved* (one of each per round), so a change in machine
load during the run affects them alike; ratios are against bare bubblewrap, the floor any
bwrap-based sandbox pays: the ratio of the medians, and the median of each round's ratio to
that round's bare sample ("paired", which load drifting during a run affects less).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bastion.config.models import SandboxSettings
from bastion.journal.snapshot import MemoryBlobStore, SnapshotCache, diff_snapshots, take_snapshot
from bastion.policy import Policy
from bastion.sandbox import compile_spec, landlock, run_sandboxed

try:
    from bastion.sandbox.mounts import build_args, remove_placeholders
except ImportError:  # code before issue #15's mounts module (same-run before/after comparisons)
    from bastion.sandbox.launcher import (  # type: ignore[attr-defined,no-redef]
        build_args,
        remove_placeholders,
    )
try:
    from bastion.sandbox.mounts import create_placeholders
except ImportError:  # older code: bubblewrap creates each placeholder itself
    def create_placeholders(paths: list[Path], source: str | None) -> list[Path]:
        return list(paths)

BARE_BWRAP = ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc",
              "/proc", "true"]


#: untimed pause before every sample except the "back to back" ones: the agent's think time
#: between two commands, in which the sandbox prepares the next command's gate (limits,
#: cgroup, keyring). Every variant gets it, so an idle CPU's slower wake-up costs them alike.
THINK_S = 0.05


def _interleaved(fns: dict[str, Callable[[], object]], rounds: int,
                 no_pause: frozenset[str] = frozenset()
                 ) -> dict[str, tuple[float, float, float, list[float]]]:
    """name -> (median, min, max, samples in round order) ms; each sample after an untimed
    :data:`THINK_S` pause, except for names in ``no_pause`` (run right after the previous
    sample)."""
    for fn in fns.values():
        fn()  # warm up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if name not in no_pause:
                time.sleep(THINK_S)
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: (statistics.median(v), min(v), max(v), v) for name, v in times.items()}


def _ms(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        policy = Policy(ws, bastion_home=Path(tmp) / "home")
        os.environ["BASTION_HOME"] = str(Path(tmp) / "home")
        spec = compile_spec(policy, SandboxSettings())
        spec_nl = compile_spec(policy, SandboxSettings(landlock=False))
        native = landlock.native_helper() is not None

        def python_helper() -> object:
            os.environ["BASTION_LANDLOCK_HELPER"] = "python"
            try:
                return run_sandboxed(["true"], spec, 10, 10_000)
            finally:
                del os.environ["BASTION_LANDLOCK_HELPER"]

        plan = build_args(spec_nl, seccomp_fd=None, use_landlock=False)

        def our_bwrap() -> None:  # the same mounts, without Bastion's own work around them
            made = create_placeholders(plan.placeholders, getattr(plan, "empty", None))
            subprocess.run(["bwrap", *plan.args, "--", "true"], check=True, env=spec_nl.env)
            remove_placeholders(made)

        # an installed Bastion has byte-code (install.sh compiles it); PYTHONDONTWRITEBYTECODE
        # would make every exec recompile ~250 modules and measure that instead
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
               "BASTION_PASSPHRASE": "bench passphrase 1234",
               "BASTION_TELEMETRY_DISABLED": "1",
               # as bench_cli: a headless machine without a keychain, said the way keyring
               # reads it (otherwise keyring's backend discovery costs ~110 ms per process)
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        exec_cmd = [sys.executable, "-m", "bastion", "exec", "-w", str(ws), "--", "true"]
        subprocess.run(exec_cmd, check=True, env=env, capture_output=True)  # first run: init
        load = os.getloadavg()
        res = _interleaved({
            "sh": lambda: subprocess.run(["sh", "-c", "true"], check=True),
            "bare": lambda: subprocess.run(BARE_BWRAP, check=True),
            "ours": our_bwrap,
            "nl": lambda: run_sandboxed(["true"], spec_nl, 10, 10_000),
            "ll": lambda: run_sandboxed(["true"], spec, 10, 10_000),
            "llsh": lambda: run_sandboxed("true", spec, 10, 10_000),
            "llb2b": lambda: run_sandboxed(["true"], spec, 10, 10_000),
            "llpy": python_helper,
            "exec": lambda: subprocess.run(exec_cmd, check=True, env=env, capture_output=True),
        }, rounds, no_pause=frozenset({"llb2b"}))
        bare = res["bare"][0]
        print(f"load average before/after: {load[0]:.2f}/{os.getloadavg()[0]:.2f}, {rounds} "
              "interleaved rounds, median [min-max] ms; ratio of the medians, and (paired) "
              "the median of each round's ratio to that round's bare bwrap sample, which "
              "load drifting during the run affects less")

        def line(label: str, key: str, extra: str = "") -> None:
            med, lo, hi, samples = res[key]
            paired = statistics.median(t / b for t, b in zip(samples, res["bare"][3],
                                                                strict=True))
            print(f"{label:58}{med:7.1f} [{lo:.1f}-{hi:.1f}]  x{med / bare:.2f} bare bwrap "
                  f"(paired x{paired:.2f}){extra}")

        line("spawn 'true' unsandboxed (sh -c):", "sh")
        line("spawn 'true' bare bwrap (reference):", "bare")
        line(f"bwrap with the sandbox's mount set ({len(plan.placeholders)} placeholders):",
             "ours")
        line("run_sandboxed(['true']), no Landlock (prepared):", "nl")
        line("run_sandboxed(['true']) + Landlock " + ("(native)" if native else "(python!)") +
             " (prepared):", "ll", "  (goal <= 2)")
        line("... + Landlock, the shell string 'true' (sh -c true):", "llsh")
        line("... + Landlock, back to back (no think time):", "llb2b")
        line("... + Landlock (python helper, prepared):", "llpy")
        line("'bastion exec -- true' end to end (cached key):", "exec", "  (goal 150 ms)")

        for i in range(100):
            d = ws / f"d{i:03}"
            d.mkdir()
            for j in range(100):
                (d / f"f{j:03}.txt").write_text(f"file {i} {j}\n" * 10)
        blobs, cache = MemoryBlobStore(), SnapshotCache()
        t = time.perf_counter()
        base = take_snapshot([ws], blobs, cache=cache)
        first = (time.perf_counter() - t) * 1000
        nochange_t, onechange_t = [], []
        for k in range(5):
            t = time.perf_counter()
            again = take_snapshot([ws], blobs, cache=cache)
            assert not diff_snapshots(base, again)
            nochange_t.append((time.perf_counter() - t) * 1000)
            (ws / "d050" / "f050.txt").write_text(f"changed {k}\n")
            t = time.perf_counter()
            after = take_snapshot([ws], blobs, cache=cache)
            changes = diff_snapshots(again, after)
            onechange_t.append((time.perf_counter() - t) * 1000)
            assert len(changes) == 1
            base = after
        print(f"10,000 files: first snapshot (hash + store all): {first:7.1f} ms")
        print(f"10,000 files: snapshot+diff, no change:          "
              f"{statistics.median(nochange_t):7.1f} ms")
        print(f"10,000 files: snapshot+diff, one changed file:   "
              f"{statistics.median(onechange_t):7.1f} ms")
        print(f"10,000 files: policy.sandbox_view() scan:        "
              f"{_ms(policy.sandbox_view):7.1f} ms  (policy code; once per command)")


if __name__ == "__main__":
    main()
