"""The Landlock layer on its own, both helpers: writes only beneath the given roots, the command
still runs, a failure stops before the command (fail closed). Verdicts are files on disk."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bastion.sandbox import landlock
from helpers import require

from .conftest import Box

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("which", ["python", "native"])
def test_helper_confines_writes_outside_any_sandbox(tmp_path: Path, which: str) -> None:
    require(landlock.abi_version() > 0, "Landlock")
    if which == "native":
        require(shutil.which("cc") is not None, "a C compiler for the native Landlock helper")
        helper = landlock.native_helper()
        assert helper is not None
        cmd = [helper]
    else:
        cmd = [landlock.interpreter(), "-I", "-S", "-c", landlock.HELPER]
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    script = f"touch {allowed}/ok; touch {other}/no; echo ran"
    r = subprocess.run([*cmd, str(allowed), "--", "sh", "-c", script], capture_output=True,
                       text=True, timeout=30)
    assert "ran" in r.stdout, r.stderr
    assert (allowed / "ok").exists() and not (other / "no").exists()
    # no command given: refused before anything runs
    r = subprocess.run([*cmd, str(allowed), "--"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0


def test_sandbox_works_with_the_python_fallback(box: Box, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    require(landlock.abi_version() > 0, "Landlock")
    monkeypatch.setenv("BASTION_LANDLOCK_HELPER", "python")
    out = box.run("echo ok > made.txt; echo x > /tmp/t && echo tmp-ok")
    assert out.result is not None and "tmp-ok" in out.result.stdout
    assert (box.ws / "made.txt").read_text() == "ok\n"


def _native() -> str:
    require(landlock.abi_version() > 0, "Landlock")
    require(shutil.which("cc") is not None, "a C compiler for the native Landlock helper")
    helper = landlock.native_helper()
    assert helper is not None
    return helper


def test_native_helper_finds_and_runs_commands_like_execvp(tmp_path: Path) -> None:
    helper = _native()
    bin1, bin2, out = tmp_path / "bin1", tmp_path / "bin2", tmp_path / "out"
    for d in (bin1, bin2, out):
        d.mkdir()
    (bin1 / "tool").write_text("#!/bin/sh\necho not-executable\n")  # no x bit: skipped
    (bin2 / "tool").write_text("#!/bin/sh\necho tool-ran \"$@\"\n")
    (bin2 / "tool").chmod(0o755)
    (bin2 / "noshebang").write_text("echo script-ran \"$1\" > \"$2\"\n")  # ENOEXEC: via sh
    (bin2 / "noshebang").chmod(0o755)
    env = {"PATH": f"{bin1}:{bin2}:/usr/bin:/bin"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([helper, str(out), "--", *argv], capture_output=True, text=True,
                              timeout=30, env=env)

    r = run("tool", "a b", "")
    assert (r.returncode, r.stdout) == (0, "tool-ran a b \n"), r.stderr
    r = run("printf", "%s|", "x y", "--", "")
    assert r.stdout == "x y|--||"
    r = run("noshebang", "arg", str(out / "s"))
    assert r.returncode == 0 and (out / "s").read_text() == "script-ran arg\n", r.stderr
    r = run(str(bin2 / "noshebang"), "direct", str(out / "d"))
    assert r.returncode == 0 and (out / "d").read_text() == "script-ran direct\n", r.stderr
    r = run("no-such-command-here")
    assert r.returncode == 127 and "no-such-command-here" in r.stderr
    r = run(str(bin1 / "tool"))  # not executable, named directly
    assert r.returncode == 127 and "ermission" in r.stderr


def test_native_helper_rules_for_file_and_missing_roots(tmp_path: Path) -> None:
    helper = _native()
    log, other = tmp_path / "log.txt", tmp_path / "other"
    log.write_text("")
    other.mkdir()
    script = (f"echo appended >> {log}; echo x > {tmp_path}/new 2>/dev/null; "
              f"echo y > {other}/f 2>/dev/null; echo ran")
    r = subprocess.run([helper, str(log), str(tmp_path / "missing"), "--", "sh", "-c", script],
                       capture_output=True, text=True, timeout=30)
    assert "ran" in r.stdout, r.stderr
    assert log.read_text() == "appended\n"  # a file root: writable itself
    assert not (tmp_path / "new").exists() and not (other / "f").exists()  # nothing beside it


def test_native_helper_refuses_without_a_command(tmp_path: Path) -> None:
    helper = _native()
    for argv in ([helper], [helper, str(tmp_path)], [helper, str(tmp_path), "--"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert r.returncode == 126 and "landlock" in r.stderr, (argv, r)
