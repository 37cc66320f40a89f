"""Crash-safe file replacement: the one way Bastion writes its own small files.

Write to a temporary file in the same directory, fsync it, then rename over the target, so a
crash leaves either the old file or the new one — never half of each. Files are owner-only.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
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


def owner_only_tree(root: Path) -> None:
    """Make every file below ``root`` 0600 and every folder 0700 (links are left alone)."""
    for dirpath, dirnames, filenames in os.walk(root):
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
