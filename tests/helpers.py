"""Helpers for tests: run the real CLI, write replay scripts, read records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend

PASSPHRASE = "correct horse battery staple"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip locally when a component is missing, but fail in CI where it must be installed."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but missing")
    pytest.skip(f"{what} not available")


def run_bastion(*args: str | os.PathLike[str], input: str | None = None,
                env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess with the test's environment."""
    full_env = dict(os.environ)
    full_env.pop("COLUMNS", None)
    full_env["COLUMNS"] = "200"
    if env:
        full_env.update(env)
    # no input: stdin is /dev/null, never the test runner's own (run reads a piped stdin)
    stdin = subprocess.DEVNULL if input is None else None
    return subprocess.run([sys.executable, "-m", "bastion", *map(str, args)], input=input,
                          stdin=stdin, capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=timeout)


def write_script(path: Path, turns: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in turns))
    return path


def read_record(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def all_bytes_under(folder: Path) -> bytes:
    chunks = []
    for p in folder.rglob("*"):
        if p.is_file():
            chunks.append(p.read_bytes())
    return b"\n".join(chunks)


class MemoryKeychain(KeyringBackend):
    """Stands in for an OS keychain (Secret Service, macOS Keychain) in-process."""

    priority = 10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


def recorded_call(argv: list[str], mp: pytest.MonkeyPatch, module: Any, name: str,
                  run: Any) -> tuple[Any, ...] | str:
    """The positional arguments ``module.name`` receives when ``run(argv)`` dispatches
    ``argv`` (the call is recorded, not made), or the name of the exception that ended the
    dispatch first. The fast-path tests compare Typer's reading of a command line with the
    Typer-free parser's this way."""
    seen: list[tuple[Any, ...]] = []

    def record(*args: Any) -> int:
        seen.append(args)
        return 0

    mp.setattr(module, name, record)
    try:
        run(argv)
    except BaseException as exc:  # the verdict is the kind of refusal
        if not seen:
            return type(exc).__name__
    return seen[0] if seen else "nothing"
