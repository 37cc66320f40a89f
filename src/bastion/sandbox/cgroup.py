"""Whole-command limits through a per-command cgroup: processes, memory, CPU time.

Why not rlimits alone: an rlimit binds each process separately (three processes could hold
three times ``memoryMb``), a tmpfs page belongs to no process at all, and the kernel does not
enforce ``RLIMIT_NPROC`` for root. A cgroup counts the command as a whole — every process and
the pages it writes into the sandbox's private ``/tmp`` (shmem is charged to the writer's
memory cgroup) — and gives a reliable list of every process to kill at the end.

Both layouts are handled: the unified v2 hierarchy (one directory: ``pids.max``,
``memory.max``, ``memory.swap.max``, ``memory.oom.group``, ``cpu.stat``) and v1 hierarchies
(one directory per controller: ``pids``, ``memory`` with ``memsw`` for swap, ``cpuacct``).
Which controllers are usable is found once per process (:func:`layout`); the pids controller
is required by the launcher when running as root, memory and CPU accounting are used when
present (``bastion doctor`` says which).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()
#: the controllers a command cgroup uses (v1 names; in v2 "cpuacct" is the always-present cpu.stat)
CONTROLLERS = ("pids", "memory", "cpuacct")


def _proc_cgroups() -> list[tuple[str, str]]:
    """(controllers, path) per line of /proc/self/cgroup; controllers "" is the v2 entry."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append((parts[1], parts[2]))
    return out


def _v1_mounts() -> dict[str, Path]:
    """controller -> mount point of its v1 hierarchy."""
    found: dict[str, Path] = {}
    try:
        text = Path("/proc/self/mounts").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup":
            for opt in fields[3].split(","):
                if opt in CONTROLLERS:
                    found.setdefault(opt, Path(fields[1]))
    return found


def _writable_dir(parent: Path, probe: str) -> bool:
    """Can a child cgroup with file ``probe`` be made under ``parent``? (tried, then removed)"""
    path = parent / f"bastion-probe-{os.getpid()}-{next(_counter)}"
    try:
        path.mkdir()
    except OSError:
        return False
    try:
        return (path / probe).exists() and os.access(path / "cgroup.procs", os.W_OK)
    finally:
        with contextlib.suppress(OSError):
            path.rmdir()


@functools.cache
def layout() -> dict[str, tuple[Path, str]]:
    """controller -> (parent directory for command cgroups, "v1"|"v2"); usable ones only."""
    found: dict[str, tuple[Path, str]] = {}
    entries = _proc_cgroups()
    v2_own = next((p for c, p in entries if c == ""), None)
    if v2_own is not None and (_ROOT / "cgroup.controllers").exists():
        parent = _ROOT / v2_own.lstrip("/")
        with contextlib.suppress(OSError):  # enabling fails where the parent holds processes
            available = (parent / "cgroup.controllers").read_text().split()
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            wanted = [c for c in ("pids", "memory") if c in available and c not in enabled]
            if wanted:
                (parent / "cgroup.subtree_control").write_text(
                    " ".join("+" + c for c in wanted))
        for controller, probe in (("pids", "pids.max"), ("memory", "memory.max"),
                                  ("cpuacct", "cpu.stat")):
            if _writable_dir(parent, probe):
                found[controller] = (parent, "v2")
        _remove_stale({p for p, _ in found.values()})
        return found
    mounts = _v1_mounts()
    for controller, probe in (("pids", "pids.max"), ("memory", "memory.limit_in_bytes"),
                              ("cpuacct", "cpuacct.usage")):
        own = next((p for c, p in entries if controller in c.split(",")), None)
        if own is None or controller not in mounts:
            continue
        parent = mounts[controller] / own.lstrip("/")
        if _writable_dir(parent, probe):
            found[controller] = (parent, "v1")
    _remove_stale({p for p, _ in found.values()})
    return found


def _remove_stale(parents: set[Path]) -> None:
    """Empty command cgroups left by Bastion processes that were killed (prepared ones)."""
    for parent in parents:
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                parts = entry.name.split("-")
                if len(parts) == 3 and parts[0] == "bastion" and parts[1].isdigit() and \
                        not os.path.exists(f"/proc/{parts[1]}"):
                    with contextlib.suppress(OSError):
                        os.rmdir(entry.path)  # fails (EBUSY) if anything still runs in it


@dataclass(frozen=True)
class Usage:
    """What the command's cgroup counted (``None``: not measured here)."""

    cpu_s: float | None
    oom_kills: int
    pids_refused: int


class CommandCgroup:
    """One fresh cgroup per command (one directory per v1 hierarchy, or one v2 directory)."""

    def __init__(self, dirs: dict[str, tuple[Path, str]]) -> None:
        self.dirs = dirs
        self.paths = sorted({p for p, _ in dirs.values()})
        self.procs_files = [str(p / "cgroup.procs") for p in self.paths]

    @property
    def limits_memory(self) -> bool:
        return "memory" in self.dirs

    @property
    def measures_cpu(self) -> bool:
        return "cpuacct" in self.dirs

    @property
    def limits_pids(self) -> bool:
        return "pids" in self.dirs

    @classmethod
    def create(cls, max_pids: int | None, memory_mb: int | None) -> CommandCgroup | None:
        """A configured cgroup, or None when no controller is usable here."""
        parents = layout()
        if not parents:
            return None
        made: dict[Path, Path] = {}
        dirs: dict[str, tuple[Path, str]] = {}
        name = f"bastion-{os.getpid()}-{next(_counter)}"
        try:
            for controller, (parent, version) in parents.items():
                if parent not in made:
                    path = parent / name
                    path.mkdir()
                    made[parent] = path
                dirs[controller] = (made[parent], version)
            cg = cls(dirs)
            cg._configure(max_pids, memory_mb)
        except OSError:
            for path in made.values():
                with contextlib.suppress(OSError):
                    path.rmdir()
            return None
        return cg

    def _configure(self, max_pids: int | None, memory_mb: int | None) -> None:
        if "pids" in self.dirs and max_pids:
            _write(self.dirs["pids"][0] / "pids.max", str(max_pids))
        if "memory" in self.dirs and memory_mb:
            path, version = self.dirs["memory"]
            limit = str(memory_mb * 1024 * 1024)
            if version == "v2":
                _write(path / "memory.max", limit)
                with contextlib.suppress(OSError):  # absent without swap accounting
                    _write(path / "memory.swap.max", "0")
                with contextlib.suppress(OSError):
                    _write(path / "memory.oom.group", "1")
            else:
                _write(path / "memory.limit_in_bytes", limit)
                with contextlib.suppress(OSError):  # memsw: memory + swap, so swap is 0
                    _write(path / "memory.memsw.limit_in_bytes", limit)

    def join_files(self) -> list[str]:
        """The files a process writes ``0`` into to move *itself* into this cgroup.

        v1: the ``tasks`` file — moving the calling thread (a single-threaded process: all of
        it) skips the global thread-group lock whose writer waits for an RCU grace period
        (``cgroup.procs`` took 5-15 ms per command here, ``tasks`` with ``0`` ~0.1 ms);
        v2: ``cgroup.procs``.
        """
        return [str(path / ("tasks" if version == "v1" else "cgroup.procs"))
                for path, version in {p: v for p, v in self.dirs.values()}.items()]

    def usage(self) -> Usage:
        return Usage(self._cpu_s(), self.oom_kills(), self._pids_refused())

    def _cpu_s(self) -> float | None:
        if "cpuacct" not in self.dirs:
            return None
        path, version = self.dirs["cpuacct"]
        try:
            if version == "v1":
                return int(_read(path / "cpuacct.usage")) / 1e9
            return _field(_read(path / "cpu.stat"), "usage_usec") / 1e6
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        if "memory" not in self.dirs:
            return 0
        path, version = self.dirs["memory"]
        name = "memory.events" if version == "v2" else "memory.oom_control"
        try:
            return _field(_read(path / name), "oom_kill")
        except (OSError, ValueError):
            return 0

    def _pids_refused(self) -> int:
        if "pids" not in self.dirs:
            return 0
        try:
            return _field(_read(self.dirs["pids"][0] / "pids.events"), "max")
        except (OSError, ValueError):
            return 0

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in _read(procs).split())
        return sorted(found)

    def kill_all(self) -> None:
        for path, version in {p: v for p, v in self.dirs.values()}.items():
            if version == "v2":  # cgroup.kill (Linux 5.14+)
                with contextlib.suppress(OSError):
                    _write(path / "cgroup.kill", "1")
        for _ in _attempts(2.0):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Kill what is left and remove the directories (EBUSY until the last exit is done)."""
        self.kill_all()
        for path in self.paths:
            for _ in _attempts(2.0):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    continue


def _attempts(limit_s: float) -> Iterator[int]:
    """Retry counter: yields the CPU between tries, then sleeps 1 ms, for at most ``limit_s``
    (a killed process can take a while to leave its cgroup on a loaded machine)."""
    deadline = time.monotonic() + limit_s
    n = 0
    while True:
        yield n
        n += 1
        if time.monotonic() > deadline:
            return
        if n < 20:
            os.sched_yield()
        else:
            time.sleep(0.001)


def _read(path: Path | str) -> str:
    """A small control file (three system calls: no buffered text file around it)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = [os.read(fd, 65536)]
        while chunks[-1]:  # to the end (a long process list comes in several reads)
            chunks.append(os.read(fd, 65536))
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _field(text: str, key: str) -> int:
    """The integer after ``key`` in a "key value" per line file; 0 when absent."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def available() -> bool:
    return "pids" in layout()


def describe() -> str:
    """One line for ``bastion doctor``: which whole-command limits this machine enforces."""
    found = layout()
    if not found:
        return "no writable cgroup: per-process rlimits only"
    version = next(iter(found.values()))[1]
    names = {"pids": "processes", "memory": "memory", "cpuacct": "CPU time"}
    parts = [names[c] for c in CONTROLLERS if c in found]
    missing = [names[c] for c in CONTROLLERS if c not in found]
    text = f"cgroup {version}: {', '.join(parts)} per command"
    if missing:
        text += f" ({', '.join(missing)}: per process only)"
    return text
