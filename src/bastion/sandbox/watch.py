"""Whole-command budgets checked while a command runs, and how a stop is explained.

The launcher polls :class:`Watch` a few times a second while it collects the command's output:
CPU seconds of the whole cgroup (``cpuSeconds`` is a budget for the command, not per process),
the kernel's OOM-kill counter of the memory cgroup (one killed process stops the whole
command), and the number of new inodes on each writable root's file system (``maxFiles``;
``statvfs`` is O(1), so the check costs the same in a huge workspace). Each check is a few
small file reads. The inode count is file-system wide, so when it passes the budget the
writable roots are walked once to confirm (entries whose inode changed since the command
started); if other programs made the files, the baseline moves up instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cgroup import CommandCgroup
from .spec import Limits

#: how often budgets are checked while a command runs (seconds)
POLL_S = 0.1

#: why a command was stopped -> the setting that bounds it
SETTING = {"time": "timeout_s, or sandbox.defaultTimeoutS / sandbox.unattendedTimeoutS",
           "cpu": "sandbox.cpuSeconds", "memory": "sandbox.memoryMb", "files": "sandbox.maxFiles",
           "processes": "sandbox.maxProcesses"}


def _inodes_used(path: Path) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    if st.f_files == 0:  # this file system does not count inodes (e.g. btrfs)
        return None
    return st.f_files - st.f_ffree


@dataclass
class Watch:
    """Budgets for one command; :meth:`check` returns a stop reason or None."""

    limits: Limits
    cg: CommandCgroup | None
    roots: list[Path]
    #: Bastion's own entries in the roots (placeholder mount points): not the command's files
    ignore: frozenset[str] = frozenset()
    _inodes: dict[Path, int] = field(default_factory=dict)
    _oom_start: int = 0
    _start_ns: int = 0

    def start(self) -> None:
        self._start_ns = time.time_ns() - 1_000_000_000  # ctime granularity: one tick back
        seen: set[int] = set()
        if self.limits.max_files:
            for root in self.roots:
                with contextlib.suppress(OSError):
                    dev = os.stat(root).st_dev
                    if dev in seen:
                        continue
                    seen.add(dev)
                    used = _inodes_used(root)
                    if used is not None:
                        self._inodes[root] = used
        if self.cg is not None:
            self._oom_start = self.cg.oom_kills()

    @property
    def active(self) -> bool:
        return bool(self._inodes) or self.cg is not None

    def check(self) -> str | None:
        if self.cg is not None:
            usage = self.cg.usage()
            if usage.oom_kills > self._oom_start:
                return "memory"
            if (self.limits.cpu_seconds and usage.cpu_s is not None
                    and usage.cpu_s >= self.limits.cpu_seconds):
                return "cpu"
        budget = self.limits.max_files
        for root, start in self._inodes.items():
            used = _inodes_used(root)
            if budget and used is not None and used - start > budget:
                if self._count_new(budget) > budget:
                    return "files"
                self._inodes[root] = used  # someone else's files: move the baseline
        return None

    def _count_new(self, budget: int) -> int:
        """Entries under the writable roots changed since the start (stops past ``budget``)."""
        count = 0
        stack = [str(r) for r in self.roots]
        while stack and count <= budget:
            try:
                it = os.scandir(stack.pop())
            except OSError:
                continue
            with it:
                for entry in it:
                    if entry.path in self.ignore:
                        continue
                    with contextlib.suppress(OSError):
                        if entry.stat(follow_symlinks=False).st_ctime_ns >= self._start_ns:
                            count += 1
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
        return count

    def final(self, exit_code: int) -> str | None:
        """A stop the kernel made on its own (checked once after the command ended)."""
        if self.cg is not None and self.cg.oom_kills() > self._oom_start:
            return "memory"
        if exit_code in (-24, 128 + 24, 128 + 9) and self.limits.cpu_seconds and \
                self.cg is not None:
            cpu = self.cg.usage().cpu_s
            if cpu is not None and cpu >= self.limits.cpu_seconds - 0.5:
                return "cpu"
        if exit_code in (-24, 128 + 24):  # SIGXCPU: a process hit RLIMIT_CPU
            return "cpu"
        return None

    def notes(self) -> list[str]:
        """Limits that were hit without stopping the command (refused forks)."""
        if self.cg is None:
            return []
        refused = self.cg.usage().pids_refused
        if refused:
            return [f"process limit reached ({self.limits.max_processes} processes, "
                    f"{SETTING['processes']}): {refused} process creation(s) were refused"]
        return []


def stop_message(reason: str, limits: Limits, timeout_s: float, whole: bool) -> str:
    """One line for the model and the user: what stopped the command and which setting."""
    scope = "the command's processes together" if whole else "a process of the command"
    if reason == "time":
        what = f"wall-clock limit of {timeout_s:g} s reached"
    elif reason == "cpu":
        what = f"CPU budget of {limits.cpu_seconds} CPU seconds used up"
    elif reason == "memory":
        what = f"{scope} reached the memory limit of {limits.memory_mb} MB " \
            "(the sandbox's /tmp counts)"
    elif reason == "files":
        what = f"more than {limits.max_files} new files created"
    else:
        what = reason
    return f"stopped: {what} ({SETTING.get(reason, 'limit')}); " \
        "the command and all its processes were killed"
