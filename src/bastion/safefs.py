"""File operations without a check-then-use gap.

The policy decides on a canonical path (no symlinks in it). These helpers then reach that
path by opening each directory component relative to its parent's file descriptor with
``O_NOFOLLOW | O_DIRECTORY``, starting from ``/``. If anything on the way was replaced by a
symlink after the decision, the open fails (``ELOOP``/``ENOTDIR``) instead of following it, so
a race cannot redirect a write outside the grant. Files are opened with ``O_NOFOLLOW`` too,
and written atomically: a temporary file in the same directory fd, ``fsync``, ``rename``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bastion.errors import BastionError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePathError(BastionError):
    """The path changed under us (a symlink appeared) or is not a plain file/directory."""


def _read_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)  # only at import time, before any threads exist
    os.umask(old)
    return old


UMASK = _read_umask()
DEFAULT_FILE_MODE = 0o666 & ~UMASK
DEFAULT_DIR_MODE = 0o777 & ~UMASK


def _components(path: Path) -> list[str]:
    if not path.is_absolute():
        raise UnsafePathError(f"{path}: not an absolute path")
    parts = list(path.parts[1:])
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(f"{path}: not a canonical path")
    return parts


def open_dir(path: Path, *, create: bool = False, created: list[Path] | None = None) -> int:
    """An fd for directory ``path``, never following a symlink on the way.

    With ``create``, missing directories are made (``created`` collects them, outermost first).
    """
    fd = os.open("/", _DIR_FLAGS)
    current = Path("/")
    try:
        for name in _components(path):
            current = current / name
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(name, 0o777, dir_fd=fd)  # the umask applies
                    if created is not None:
                        created.append(current)
                except FileExistsError:
                    pass
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePathError(
                        f"{current} is a symlink or not a directory (it may have changed after "
                        "the permission check); refusing to follow it") from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def parent_dir(path: Path, *, create: bool = False,
               created: list[Path] | None = None) -> Iterator[int]:
    fd = open_dir(path.parent, create=create, created=created)
    try:
        yield fd
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Entry:
    """What is at a name right now (``kind`` "missing" when nothing)."""

    kind: str  # "file", "dir", "symlink", "other", "missing"
    mode: int | None = None
    nlink: int = 0
    size: int = 0


MISSING = Entry("missing")


def entry_at(dirfd: int, name: str) -> Entry:
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return MISSING
    if stat.S_ISREG(st.st_mode):
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        kind = "dir"
    elif stat.S_ISLNK(st.st_mode):
        kind = "symlink"
    else:
        kind = "other"
    return Entry(kind, stat.S_IMODE(st.st_mode), st.st_nlink, st.st_size)


class NotRegularFile(OSError):
    """A FIFO, device or socket where a file was expected: refused, never waited on."""


def open_regular(path: str | os.PathLike[str], *, follow: bool = False) -> BinaryIO:
    """``path`` opened for reading if it is a regular file. Opened non-blocking and checked
    with ``fstat`` on the descriptor, so a FIFO (``mkfifo`` by a command, or swapped in after
    a check) is refused instead of blocking the agent until a writer appears; a symlink is
    refused too unless ``follow``."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
    fd = os.open(path, flags if follow else flags | os.O_NOFOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file (FIFO, device or socket)",
                                 os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_at(dirfd: int, name: str) -> bytes:
    """The bytes of regular file ``name`` in ``dirfd`` (refusing symlinks and specials)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=dirfd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{name} is a symlink; refusing to follow it") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePathError(f"{name} is not a regular file")
        return fh.read()


def write_atomic_at(dirfd: int, name: str, data: bytes, mode: int) -> None:
    """Replace ``name`` with ``data`` atomically (temp file, fsync, rename), with ``mode``."""
    tmp = f".{name[:100]}.bastion-{os.urandom(6).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dirfd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dirfd)
        raise
    fsync_dir(dirfd)


def fsync_dir(dirfd: int) -> None:
    with contextlib.suppress(OSError):  # some file systems refuse fsync on directories
        os.fsync(dirfd)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
