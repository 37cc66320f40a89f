"""``bastion exec`` without Typer (cli/exec_run.py) behaves exactly as through Typer.

The fast parser accepts a form only when it reads it the way Typer does; everything else falls
back to Typer. Verdicts: the values each parser hands the command (for generated argument
lists), and, end to end, the exit status and output of the console entry point next to those
of ``main()`` (always Typer), plus which modules the process imported.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.cli import exec_cmd
from bastion.cli._app import app
from bastion.cli.exec_run import ExecArgs, parse
from helpers import recorded_call, require, run_bastion


def _typer_reading(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> ExecArgs | str:
    """What Typer's dispatch hands the command for ``argv``, or how it refused."""
    got = recorded_call(argv, monkeypatch, exec_cmd, "run_exec",
                        lambda a: app(args=a, prog_name="bastion", standalone_mode=False))
    return got if isinstance(got, str) else got[0]


ACCEPTED = [
    ["exec", "--", "true"],
    ["exec", "true"],
    ["exec", "-w", "ws", "--", "sh", "-c", "echo hi"],
    ["exec", "--workspace", "ws", "ls", "-la"],
    ["exec", "--workspace=ws", "--offline", "--", "ls", "--", "-x"],
    ["exec", "--timeout", "2.5", "-w", "a", "-w", "b", "--", "sleep", "1"],
    ["exec", "--timeout=7", "--", "true"],
    ["--debug", "exec", "--", "false"],
    ["--debug", "--debug", "exec", "echo", "--help"],  # after the command: the command's
    ["exec", "-w", "dir with space", "--", "printf", "%s\\n", "é", ""],
    ["exec", "--", "--weird-program-name"],
]

REFUSED = [  # the fast parser leaves these to Typer (help, errors, unusual spellings)
    ["exec"], ["exec", "--"], ["exec", "--help"], ["exec", "-h", "true"],
    ["exec", "--timeout", "abc", "true"], ["exec", "--timeout", "-1", "true"],
    ["exec", "--timeout", "1e3", "true"], ["exec", "-w"], ["exec", "-wdir", "true"],
    ["exec", "--workspace", "--", "true"], ["exec", "-w", "", "true"],
    ["exec", "--unknown", "true"], ["exec", "--offline=1", "true"],
    ["--version", "exec", "true"], ["exec-x", "true"], ["run", "exec"], [],
]


@pytest.mark.parametrize("argv", ACCEPTED)
def test_accepted_forms_read_as_typer_reads_them(argv: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fast = parse(argv)
    assert fast is not None
    typer = _typer_reading(argv, monkeypatch)
    assert isinstance(typer, ExecArgs)
    assert (fast.command, fast.workspace, fast.timeout) == \
        (typer.command, typer.workspace, typer.timeout)
    assert fast.debug == ("--debug" in argv[:argv.index("exec")])


@pytest.mark.parametrize("argv", REFUSED)
def test_other_forms_are_left_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_BASTION_COMPLETE", "bash_complete")
    assert parse(["exec", "--", "true"]) is None


_TOKENS = ["exec", "--", "-w", "--workspace", "--workspace=w2", "--offline", "--timeout",
           "--timeout=3", "3", "0.5", "-1", "x1", "true", "-x", "--help", "--debug", "",
           "-", "a b", "--timeout=", "--workspace=", "-wq", "\udcff"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=7))
def test_generated_argument_lists_never_disagree(tokens: list[str]) -> None:
    argv = ["exec", *tokens] if tokens[:1] != ["--debug"] else tokens
    fast = parse(argv)
    if fast is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        typer = _typer_reading(argv, mp)
    assert isinstance(typer, ExecArgs), (argv, typer)
    assert (fast.command, fast.workspace, fast.timeout) == \
        (typer.command, typer.workspace, typer.timeout), argv


def _both(args: list[str], cwd: Path) -> tuple[Any, Any]:
    """The console entry point (fast path) and ``main()`` (Typer), same arguments."""
    env = {**os.environ, "COLUMNS": "200"}
    runs = []
    for code in ("from bastion.cli import entry; entry()",
                 "from bastion.cli import main; main()"):
        runs.append(subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                                   text=True, env=env, cwd=cwd, timeout=120,
                                   stdin=subprocess.DEVNULL))
    return runs[0], runs[1]


def _same(a: subprocess.CompletedProcess[str], b: subprocess.CompletedProcess[str]) -> None:
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)
    # the journal names each operation by its own id
    strip = [line for line in a.stderr.splitlines() if "journaled as" not in line]
    assert strip == [line for line in b.stderr.splitlines() if "journaled as" not in line]


def test_entry_and_typer_end_the_same(workspace: Path, tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    for args in (["exec", "-w", str(workspace), "--", "sh", "-c",
                  "echo out; echo err >&2; echo made > f.txt; exit 3"],
                 ["exec", "-w", str(tmp_path / "missing"), "--", "true"],
                 ["exec", "-w", str(workspace), "--", "no-such-program-here"],
                 ["exec", "--timeout", "abc", "--", "true"],
                 ["exec"]):
        fast, typer = _both(args, tmp_path)
        _same(fast, typer)
    assert (workspace / "f.txt").read_text() == "made\n"


def test_exec_starts_without_typer(workspace: Path, tmp_path: Path) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "bastion", "exec", "-w",
                           str(workspace), "--", "true"], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "bastion.sandbox.launcher" in imported  # the command did run here
    assert not {"typer", "click", "rich", "pydantic"} & imported


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_typer_free_exec_cleanly(workspace: Path, signum: int) -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap")
    before = sorted(os.listdir(workspace))
    marker = f"sleep 7{signum}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bastion", "exec", "-w", str(workspace), "--", "sh", "-c",
         f"echo started > started.txt; {marker}"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (workspace / "started.txt").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert f"interrupted ({signal.Signals(signum).name})" in err
    assert "internal error" not in err.lower() and "Traceback" not in err
    ps = subprocess.run(["pgrep", "-f", f"started.txt; {marker}"], capture_output=True,
                        text=True)
    assert ps.stdout.strip() == "", f"left running: {ps.stdout}"
    # no placeholder left; what the command wrote is journaled, so undo takes it back
    assert sorted(os.listdir(workspace)) == sorted([*before, "started.txt"])
    assert run_bastion("audit", "verify").returncode == 0
    changes = run_bastion("changes", "--json")
    paths = [c["path"] for op in json.loads(changes.stdout) for c in op["changes"]]
    assert str(workspace / "started.txt") in paths, paths
