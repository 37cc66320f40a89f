"""``bastion scan`` without Typer (cli/_fastargs.py + cli/scan_run.py) behaves exactly as
through Typer: the same values for every form the fast parser accepts (listed and generated),
and the same status, stdout and stderr end to end for the console entry point and ``main()``
(always Typer); the fast path imports no Typer, Click or rich."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.cli import scan as scan_cmd
from bastion.cli._app import app
from bastion.cli._entry import _fast_command
from helpers import recorded_call

Reading = tuple[str, str, bool, Path | None]


def _typer_reading(argv: list[str], mp: pytest.MonkeyPatch) -> Reading | str:
    got = recorded_call(argv, mp, scan_cmd, "run_scan",
                        lambda a: app(args=a, prog_name="bastion", standalone_mode=False))
    return got if isinstance(got, str) else cast(Reading, got)


def _fast_reading(argv: list[str], mp: pytest.MonkeyPatch) -> Reading | None:
    import bastion.cli.scan_run as scan_run

    def run(a: list[str]) -> None:
        found = _fast_command(a)
        if found is None:
            raise LookupError("not a fast form")
        found[0]()

    got = recorded_call(argv, mp, scan_run, "run_scan", run)
    return None if isinstance(got, str) else cast(Reading, got)


ACCEPTED = [
    ["scan"], ["scan", "-"], ["scan", "src"], ["scan", "src", "--format", "json"],
    ["scan", "--format=json", "src"], ["scan", "--batch"], ["scan", "--rules", "r.toml", "x"],
    ["scan", "--rules=r.toml", "--format", "TEXT", "--", "-odd-name"], ["--debug", "scan", "a"],
    ["scan", "--format", "yaml", "a"],  # run_scan refuses it, as through Typer
]
REFUSED = [
    ["scan", "--help"], ["scan", "a", "b"], ["scan", "--format"], ["scan", "--format", ""],
    ["scan", "--batch=1"], ["scan", "--unknown"], ["scan", "-x"], ["redact", "a"],
    ["scan", "--rules", "--format", "json"],
]


@pytest.mark.parametrize("argv", ACCEPTED)
def test_accepted_forms_read_as_typer_reads_them(argv: list[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        fast = _fast_reading(argv, mp)
    with pytest.MonkeyPatch.context() as mp:
        typer = _typer_reading(argv, mp)
    assert fast is not None and fast == typer


@pytest.mark.parametrize("argv", REFUSED)
def test_other_forms_are_left_to_typer(argv: list[str]) -> None:
    assert _fast_command(argv) is None


_TOKENS = ["--format", "json", "text", "--format=json", "--batch", "--rules", "r.toml",
           "--rules=x", "a", "-", "--", "-x", "--help", "", "--debug", "a b"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=6))
def test_generated_argument_lists_never_disagree(tokens: list[str]) -> None:
    argv = ["scan", *tokens]
    with pytest.MonkeyPatch.context() as mp:
        fast = _fast_reading(argv, mp)
    if fast is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        assert fast == _typer_reading(argv, mp), argv


def _both(args: list[str], cwd: Path, stdin: str = "") -> tuple[Any, Any]:
    runs = []
    for code in ("from bastion.cli import entry; entry()",
                 "from bastion.cli import main; main()"):
        runs.append(subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                                   text=True, cwd=cwd, timeout=120, input=stdin,
                                   env={**os.environ, "COLUMNS": "200"}))
    return runs[0], runs[1]


def test_entry_and_typer_end_the_same(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.env").write_text("DB_PASSWORD=Vq8wLz2Kp5nR\n")
    (tree / "sub" / "b.py").write_text("print('nothing here')\n")
    (tree / "bin.dat").write_bytes(b"\x00\x01\x02" * 50)
    (tree / "u16.txt").write_bytes("token = ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8\n"
                                   .encode("utf-16"))
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "bad.toml").write_text("[[rules]\n")
    batch = json.dumps({"id": 1, "text": "password = 'Hm3xQ9vLw2Zk'"}) + "\nnot json\n"
    cases: list[tuple[list[str], str]] = [
        (["scan", str(tree)], ""), (["scan", str(tree), "--format", "json"], ""),
        (["scan", str(tree / "a.env")], ""), (["scan", str(tree / "bin.dat")], ""),
        (["scan"], "api_key = 'zR4kW9qL2mX7vB3nT8pYc6Hd'\n"), (["scan", "--batch"], batch),
        (["scan", str(tmp_path / "missing")], ""), (["scan", str(tmp_path / "fifo")], ""),
        (["scan", "--format", "yaml", str(tree)], ""),
        (["scan", "--rules", str(tmp_path / "bad.toml"), str(tree)], ""),
        (["scan", "--batch", str(tree)], ""), (["scan", "--help"], ""),
    ]
    for args, stdin in cases:
        fast, typer = _both(args, tmp_path, stdin)
        assert (fast.returncode, fast.stdout, fast.stderr) == \
            (typer.returncode, typer.stdout, typer.stderr), args
        assert "Traceback" not in fast.stderr


def test_scan_starts_with_the_privacy_package_only(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("nothing\n")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "bastion", "scan",
                           str(tmp_path)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "bastion.privacy.dense" in imported  # (the scanner was loaded)
    assert not {"typer", "click", "rich", "pydantic", "bastion.runtime", "bastion.store",
                "bastion.vault", "bastion.sandbox", "bastion.policy"} & imported
