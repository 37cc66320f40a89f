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
