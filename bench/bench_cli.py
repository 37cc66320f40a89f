"""CLI start-up: wall time of whole ``bastion`` processes against interpreter baselines.

In one run, interleaved (so machine load hits every figure alike), median of N rounds:
``python -c pass``, ``python -c "import typer, rich"`` (the floor for a Typer CLI),
``bastion --version``, ``bastion --help``, ``bastion config get offlineMode``, ``bastion scan``
of one small file, and a replay ``bastion run`` of one tool call (``read_file``; and one
sandboxed ``run_command`` of ``true``) in a fresh workspace with an initialised BASTION_HOME.
Goals (issue #16): --version/--help <= 100 ms, scan <= 150 ms, replay run <= 250 ms.

Usage: PYTHONPATH=$PWD/src .venv/bin/python bench/bench_cli.py [ROUNDS] [--before SRC]
``--before SRC`` adds every bastion case of another source tree (e.g. an
older commit's ``src`` from ``git archive``) to the same interleaved rounds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def _time(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    if argv[0] == "BEFORE":  # ["BEFORE", src, *argv]: run with that source tree first on the path
        env = {**env, "PYTHONPATH": argv[1]}
        argv = argv[2:]
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - t) * 1000
    if proc.returncode not in (0, 1):  # scan exits 1 when it finds something
        raise SystemExit(f"{argv}: exit {proc.returncode}: {proc.stderr.decode()[-400:]}")
    return elapsed


def main() -> None:
    args = sys.argv[1:]
    before = None
    if "--before" in args:
        i = args.index("--before")
        before = str(Path(args[i + 1]).resolve())
        del args[i:i + 2]
    rounds = int(args[0]) if args else 15
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = root / "ws"
        ws.mkdir()
        (ws / "notes.txt").write_text("hello\n" * 20)
        small = ws / "config.py"
        small.write_text("DEBUG = True\nAPI_KEY = 'sk-proj-" + "a1B2c3D4" * 6 + "'\n")
        script = root / "s.jsonl"
        script.write_text(json.dumps({"content": "", "tool_calls": [
            {"name": "read_file", "arguments": {"path": "notes.txt"}}]}) + "\n"
            + json.dumps({"content": "done"}) + "\n")
        command_script = root / "c.jsonl"
        command_script.write_text(json.dumps({"content": "", "tool_calls": [
            {"name": "run_command", "arguments": {"command": "true"}}]}) + "\n"
            + json.dumps({"content": "done"}) + "\n")
        # what an installed Bastion does: byte-code cached (pip compiles on install; an editable
        # checkout writes __pycache__ on first import) — PYTHONDONTWRITEBYTECODE would make
        # every run recompile ~130 of Bastion's modules (~140 ms) and measure that instead
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env = {**base_env, "BASTION_HOME": str(root / "home"),
               "BASTION_PASSPHRASE": os.environ.get("BASTION_PASSPHRASE", "bench passphrase"),
               "BASTION_TELEMETRY_DISABLED": "1",
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        bastion = [PY, "-m", "bastion"]
        cases = {
            "python -c pass": [PY, "-c", "pass"],
            'python -c "import typer, rich"': [PY, "-c", "import typer, rich"],
            "bastion --version": [*bastion, "--version"],
            "bastion --help": [*bastion, "--help"],
            "bastion config get offlineMode": [*bastion, "config", "get", "offlineMode"],
            "bastion scan (one small file)": [*bastion, "scan", str(small)],
            "bastion run (replay, one read_file)": [
                *bastion, "run", "read notes", "-w", str(ws), "--provider", "replay",
                "--script", str(script), "--approve", "never"],
            "bastion run (replay, one run_command)": [
                *bastion, "run", "run true", "-w", str(ws), "--provider", "replay",
                "--script", str(command_script), "--approve", "auto"],
        }
        if before is not None:
            for name in ("bastion --version", "bastion --help", "bastion config get offlineMode",
                         "bastion scan (one small file)", "bastion run (replay, one read_file)",
                         "bastion run (replay, one run_command)"):
                cases[f"before: {name}"] = ["BEFORE", before, *cases[name]]
        # first run initialises BASTION_HOME (vault, database) and every case writes its
        # byte-code once; not part of the figures
        _time(cases["bastion run (replay, one read_file)"], env, ws)
        for argv in cases.values():
            _time(argv, env, ws)
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(rounds):
            for name, argv in cases.items():
                samples[name].append(_time(argv, env, ws))
    base = statistics.median(samples['python -c "import typer, rich"'])
    print(f"{rounds} rounds, interleaved; median (min) wall time; ratio vs import typer, rich")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"  {name:48} {med:7.1f} ms ({min(values):6.1f})   {med / base:4.2f}x")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
