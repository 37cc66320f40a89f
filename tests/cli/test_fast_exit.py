"""The entry point skips the interpreter's teardown but nothing else (cli/_exit.py).

Each case runs a fresh interpreter; verdicts are its exit status, its output, and files the
exit handlers write.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_bastion


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env={**os.environ, "COLUMNS": "200"})


_ENTRY = """
import atexit, sys
from bastion.cli._exit import run_entry
witness = open("teardown", "w")  # noqa: SIM115 - flushed only by the interpreter's teardown
witness.write("ran")
{before}
def main():
    atexit.register(lambda: open("handler", "w").write("ran"))
    print("output", end="")
    {body}
run_entry(main)
"""


@pytest.mark.parametrize(("body", "status"), [("pass", 0), ("sys.exit(3)", 3),
                                              ("sys.exit('refused')", 1), ("sys.exit(None)", 0)])
def test_status_output_and_later_handlers_survive_the_skipped_teardown(
        tmp_path: Path, body: str, status: int) -> None:
    proc = _python(_ENTRY.format(before="", body=body), tmp_path)
    assert proc.returncode == status, proc.stderr
    assert proc.stdout == "output"  # a buffered write is flushed
    assert (tmp_path / "handler").read_text() == "ran"  # atexit handlers all ran
    assert (tmp_path / "teardown").read_text() == ""  # the teardown itself was skipped
    if body == "sys.exit('refused')":
        assert proc.stderr.strip() == "refused"


def test_an_earlier_handler_keeps_the_normal_exit(tmp_path: Path) -> None:
    before = "atexit.register(lambda: open('earlier', 'w').write('ran'))"
    proc = _python(_ENTRY.format(before=before, body="sys.exit(4)"), tmp_path)
    assert proc.returncode == 4
    assert (tmp_path / "earlier").read_text() == "ran"
    assert (tmp_path / "teardown").read_text() == "ran"  # normal teardown


def test_an_escaping_exception_takes_the_normal_exit(tmp_path: Path) -> None:
    proc = _python(_ENTRY.format(before="", body="raise RuntimeError('bug')"), tmp_path)
    assert proc.returncode == 1 and "RuntimeError: bug" in proc.stderr
    assert (tmp_path / "teardown").read_text() == "ran"


def test_importing_the_cli_registers_no_exit_handler() -> None:
    """Otherwise the entry point would never arm (and must not skip such a handler)."""
    proc = subprocess.run([sys.executable, "-c", "import atexit, bastion.cli;"
                           "print(atexit._ncallbacks())"], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == "0", proc.stderr


def test_a_closed_pipe_is_reported_as_without_the_fast_exit(tmp_path: Path) -> None:
    """``bastion --help | head -c 1``: the normal exit reports the broken pipe as always."""
    results = []
    for launcher in ([sys.executable, "-m", "bastion"],
                     [sys.executable, "-c", "from bastion.cli import main; main()"]):
        proc = subprocess.Popen([*launcher, "--help"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.read(1)
        proc.stdout.close()
        results.append((proc.wait(timeout=60), b"Traceback" in proc.stderr.read()))
    assert results[0] == results[1]


@pytest.mark.parametrize("argv", [["--version"], ["config", "get", "nope.nope"],
                                  ["run", "--approve", "sometimes", "x"], ["scan", "/nonexistent"]])
def test_the_cli_exits_the_same_way_through_the_entry_point(argv: list[str]) -> None:
    fast = run_bastion(*argv)
    plain = subprocess.run([sys.executable, "-c", "from bastion.cli import main; main()",
                            *argv], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr), argv
