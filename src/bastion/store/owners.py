"""Which process owns a running session, so a crashed one (SIGKILL, power cut) is noticed.

Every open runtime holds an exclusive ``flock`` on its own ``owners/<id>.lock`` in the data
directory for as long as it lives; the kernel drops the lock when the process dies, however it
dies. A session still 'running' whose owner's lock can be taken was left by a dead process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

OWNERS_DIR = "owners"


class OwnerLock:
    """This process's liveness token (released and removed by :meth:`release`)."""

    def __init__(self, home: Path) -> None:
        folder = home / OWNERS_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        self.id = os.urandom(8).hex()  # no uuid import (it loads `platform`)
        self.path = folder / f"{self.id}.lock"
        self._fd: int | None = os.open(
            self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def owner_alive(home: Path, owner: str) -> bool:
    """True while the process that took ``owner``'s lock is alive (its lock is held)."""
    if not owner.isalnum():
        return False
    path = home / OWNERS_DIR / f"{owner}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: never declare a live session dead
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        path.unlink()  # the dead owner's token
    return False
