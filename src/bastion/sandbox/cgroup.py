"""Process-count limit through a cgroup ``pids.max`` (v2 or the v1 ``pids`` hierarchy).

Why not RLIMIT_NPROC: the kernel does not enforce it for root (Bastion may run as root in
containers), and for other users it counts *every* process of the user, not the command's.
A per-command cgroup also gives a reliable list of every process to kill at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()


def _own_path(controller: str | None) -> str | None:
    """This process's cgroup path for ``controller`` (None: the v2 unified entry)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    return None


def _candidate_parents() -> list[Path]:
    parents: list[Path] = []
    if (_ROOT / "cgroup.controllers").exists():  # pure v2
        own = _own_path(None)
        if own is not None:
            parents.append(_ROOT / own.lstrip("/"))
    own_v1 = _own_path("pids")
    if own_v1 is not None and (_ROOT / "pids").is_dir():
        parents.append(_ROOT / "pids" / own_v1.lstrip("/"))
    return parents


class PidsCgroup:
    """A fresh child cgroup with ``pids.max``; the launcher moves the gate process into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.procs_file = str(path / "cgroup.procs")

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        for parent in _candidate_parents():
            path = parent / f"bastion-{os.getpid()}-{next(_counter)}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_pids))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup (the launcher's waiting gate process)."""
        fd = os.open(self.procs_file, os.O_WRONLY)
        try:
            os.write(fd, str(pid).encode())
        finally:
            os.close(fd)

    def join_self(self) -> None:
        """Called in the forked child (preexec): move this process into the cgroup."""
        fd = os.open(self.procs_file, os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)

    def pids(self) -> list[int]:
        try:
            text = Path(self.procs_file).read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill_all(self) -> None:
        kill_file = self.path / "cgroup.kill"  # v2 only
        if kill_file.exists():
            with contextlib.suppress(OSError):
                kill_file.write_text("1")
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            os.sched_yield()

    def remove(self) -> None:
        self.kill_all()
        for _ in range(200):
            try:
                self.path.rmdir()
                return
            except OSError:
                os.sched_yield()


def available() -> bool:
    cg = PidsCgroup.create(16)
    if cg is None:
        return False
    cg.remove()
    return True
