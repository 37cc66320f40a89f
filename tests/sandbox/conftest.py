"""Fixtures for the sandbox suite: a workspace with neighbours, and a runner built on it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.config.models import SandboxSettings
from bastion.policy import Grant, Policy
from bastion.tools.run_command import CommandOutcome, CommandRunner
from helpers import require


@pytest.fixture(autouse=True)
def _need_bwrap(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sandbox") is not None:
        require(shutil.which("bwrap") is not None, "bubblewrap (bwrap)")


@dataclass
class Box:
    base: Path
    ws: Path
    outside: Path
    sibling: Path
    home: Path
    policy: Policy
    settings: SandboxSettings
    runner: CommandRunner

    def run(self, command: str, timeout: float = 20, **limits: int) -> CommandOutcome:
        runner = self.runner
        if limits:
            runner = CommandRunner(self.policy, self.settings.model_copy(update=limits))
        out = runner.run(command, timeout, authorized=True)
        assert out.result is not None, out.error
        return out

    def output(self, command: str, **limits: int) -> str:
        out = self.run(command, **limits)
        assert out.result is not None
        return out.result.stdout + out.result.stderr


def make_box(base: Path, bastion_home: Path, *, extra: Callable[[Box], None] | None = None
             ) -> Box:
    ws, outside, sibling, home = (base / "ws", base / "outside", base / "ws-evil",
                                  base / "home")
    for d in (ws, outside, sibling, home):
        d.mkdir(parents=True, exist_ok=True)
    policy = Policy(ws, grants=[Grant(ws, "write", "test"), Grant(home, "read", "test")],
                    home=home, bastion_home=bastion_home, approve="never")
    settings = SandboxSettings(default_timeout_s=20, max_timeout_s=30, max_processes=64,
                               memory_mb=512, cpu_seconds=20)
    return Box(base, ws, outside, sibling, home, policy, settings,
               CommandRunner(policy, settings))


@pytest.fixture
def box(tmp_path: Path, bastion_home: Path) -> Iterator[Box]:
    b = make_box(tmp_path, bastion_home)
    yield b
    os.chdir("/")
