"""Crash-safe file replacement: the one way Bastion writes its own small files.

Write to a temporary file in the same directory, fsync it, then rename over the target, so a
crash leaves either the old file or the new one — never half of each. Files are owner-only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, doc: Any, *, sort_keys: bool = False, mode: int = 0o600) -> None:
    """Replace ``path`` with ``doc`` as indented JSON, atomically and durably."""
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=sort_keys) + "\n", mode=mode)


def atomic_create_json(path: Path, doc: Any, *, mode: int = 0o600) -> None:
    """Create ``path`` with ``doc`` atomically; FileExistsError if it already exists.

    The content is written and synced under a temporary name, then hard-linked to ``path``:
    another process can never see half a file, and two creators can never both win.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


#: the lock file (in the data directory) that serialises first-run initialisation
INIT_LOCK = "init.lock"


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600) for the ``with`` block.

    Released by the kernel when the process dies, so a killed holder never blocks others.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


#: held shared by every open runtime; key rotation needs it exclusively
RUNTIME_LOCK = "runtime.lock"


def acquire_lock(path: Path, *, shared: bool, timeout_s: float | None = None) -> int | None:
    """Take a ``flock`` on ``path`` and return its fd (close it to release).

    With ``timeout_s``, gives up after that long and returns None.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    if timeout_s is None:
        fcntl.flock(fd, op)
        return fd
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


Walked = tuple[str, list[str], list[str]]


def walk(top: str | os.PathLike[str], *, topdown: bool = True,
         followlinks: bool = False) -> Iterator[Walked]:
    """``os.walk`` without recursion: the same ``(dirpath, dirnames, filenames)`` in the same
    order (pruning ``dirnames`` works top-down; unreadable folders are skipped). Python 3.11's
    ``os.walk`` recurses once per level, so a tree deeper than ~1,000 folders — which anyone
    can put in a repository — ended ``scan``, ``grep`` or ``delete`` with a RecursionError."""
    root = os.fspath(top)
    if topdown:
        stack = [root]
        while stack:
            path = stack.pop()
            listed = _listing(path, followlinks)
            if listed is None:
                continue
            dirs, files, _ = listed
            yield path, dirs, files
            for name in reversed(dirs):  # dirnames as the caller left them
                child = os.path.join(path, name)
                if followlinks or not os.path.islink(child):
                    stack.append(child)
        return
    pending: list[tuple[str, Walked | None]] = [(root, None)]
    while pending:
        path, done = pending.pop()
        if done is not None:
            yield done
            continue
        listed = _listing(path, followlinks)
        if listed is None:
            continue
        dirs, files, into = listed
        pending.append((path, (path, dirs, files)))  # after everything below it
        pending.extend((child, None) for child in reversed(into))


def regular_files(root: str | os.PathLike[str], skip_dirs: Collection[str]) -> Iterator[Path]:
    """The regular files under ``root``, sorted folder by folder, links not followed and
    folders named in ``skip_dirs`` not entered (``bastion scan``, ``grep``, ``glob``)."""
    for dirpath, dirnames, filenames in walk(root):  # no recursion: any depth
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file():
                yield path


def _listing(path: str, followlinks: bool) -> tuple[list[str], list[str], list[str]] | None:
    """``(dirnames, filenames, folders to enter bottom-up)`` as ``os.walk`` sorts them."""
    dirs: list[str] = []
    files: list[str] = []
    into: list[str] = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                (dirs if is_dir else files).append(entry.name)
                if is_dir:
                    try:
                        if followlinks or not entry.is_symlink():
                            into.append(entry.path)
                    except OSError:
                        pass
    except OSError:
        return None
    return dirs, files, into


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove the folder ``path`` and everything in it. ``shutil.rmtree`` first: it holds a
    descriptor per level, so a folder swapped for a link meanwhile is never followed. A tree
    too deep for that (Python's recursion limit, or one descriptor per level) is removed
    bottom-up by :func:`empty_tree`, where unlinking never follows the last component; a tree
    whose paths exceed the system's limit (made with ``mkdirat``) ends in an ``OSError``."""
    try:
        shutil.rmtree(path)
        return
    except RecursionError:
        pass
    except OSError as exc:
        if exc.errno != errno.EMFILE:
            raise
    empty_tree(path)
    os.rmdir(path)


def empty_tree(path: str | os.PathLike[str]) -> int:
    """Remove everything below the folder ``path`` (not the folder itself), bottom-up and
    without recursion, never following a link; returns how many non-folders it removed."""
    count = 0
    for dirpath, dirnames, filenames in walk(path, topdown=False):
        for name in filenames:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(dirpath, name))
            count += 1
        for name in dirnames:
            child = os.path.join(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                if os.path.islink(child):
                    os.unlink(child)
                    count += 1
                else:
                    os.rmdir(child)
    return count


def owner_only_tree(root: Path) -> None:
    """Make every file below ``root`` 0600 and every folder 0700 (links are left alone)."""
    for dirpath, dirnames, filenames in walk(root):
        for name in dirnames:
            _chmod_nofollow(os.path.join(dirpath, name), 0o700)
        for name in filenames:
            _chmod_nofollow(os.path.join(dirpath, name), 0o600)
    _chmod_nofollow(str(root), 0o700)


def _chmod_nofollow(path: str, mode: int) -> None:
    try:
        st = os.lstat(path)
        if not os.path.islink(path) and st.st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except (OSError, NotImplementedError):
        pass


def read_up_to(fd: int, limit: int, size: int | None = None) -> bytes:
    """Up to ``limit`` bytes of the regular file open at ``fd``, from its current offset.

    The first read asks for the size ``fstat`` reports (``size`` if the caller has it) plus
    one: asking for ``limit`` at once allocated that much for every file (a 64 MB buffer per
    file for ``bastion scan``, ~25 µs each). A file that grew meanwhile, or reports no size
    (``/proc``), is read on up to ``limit``.
    """
    if size is None:
        size = os.fstat(fd).st_size
    request = min(size, limit - 1) + 1 if size > 0 else limit
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        n = min(request, limit - total)
        chunk = os.read(fd, n)
        chunks.append(chunk)
        total += len(chunk)
        if len(chunk) < n:  # the end of the file
            break
        request = limit - total  # it grew, or has no size: read on
    return b"".join(chunks)
