"""Placeholders a killed Bastion left in a workspace, found and removed by the next sandbox.

A sandbox makes an empty file for each missing protected name (``.git``, ``.bashrc``,
``.mcp.json``…; mounts.py) and removes them when the command ends. A Bastion killed in
between (SIGKILL, power cut) cannot: the empty files stayed in the user's folder — an empty
``.git`` *file* breaks every git command there. So each sandbox writes down, before it makes
any, which names it is about to make and the inode each will have (a *ledger*, one file per
sandbox under ``BASTION_HOME/lib/placeholders/``), and deletes its ledger after removing them.

Who may sweep: a ledger whose owner is alive must be left alone, and so must a leftover file a
live sandbox has mounted over (removing a mount point on the host detaches the mount inside the
sandbox, and the protected name becomes creatable there). Every sandbox therefore holds a
*shared* ``flock`` on ``lib/placeholders.lock`` from before it plans its mounts until its
placeholders are gone; a sandbox about to start first tries the lock *exclusively*, without
waiting, and only when it gets it — no sandbox of this data directory is running, so every
ledger left is a dead one — removes each listed file that is still an empty regular file with
the recorded inode, then the ledger. Otherwise the sweep waits for a later command. The kernel
drops a dead process's lock, whatever killed it.

Not covered: a leftover from one data directory mounted over by a sandbox of another
(``BASTION_HOME``) running in the same folder at the same time; a machine crash between
creating a fallback placeholder (another file system: not a link) and noting its inode.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import stat
from collections.abc import Iterable

LEDGERS = "placeholders"
LOCK = "placeholders.lock"
_serial = itertools.count()


class Claim:
    """One sandbox's hold on its placeholders: the shared lock and its ledger."""

    def __init__(self, lib: str, fd: int) -> None:
        self._lib = lib
        self._fd: int | None = fd
        self._ledger: str | None = None

    def note(self, entries: Iterable[tuple[str, int, int]]) -> None:
        """Write down ``(path, st_dev, st_ino)`` of placeholders about to be made (or just
        made, for those whose inode was not known before)."""
        lines = "".join(json.dumps([dev, ino, path]) + "\n" for path, dev, ino in entries)
        if not lines or self._fd is None:
            return
        if self._ledger is None:
            self._ledger = os.path.join(self._lib, LEDGERS,
                                        f"{os.getpid()}.{next(_serial)}.{os.urandom(4).hex()}")
        try:
            fd = os.open(self._ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
                         | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, lines.encode("utf-8", "surrogatepass"))
            finally:
                os.close(fd)
        except OSError:  # (a full disk): the command still runs; only a crash now would
            pass         # leave these placeholders behind, as it always did

    def release(self) -> None:
        """The placeholders are gone: forget the ledger and let a later sandbox sweep."""
        if self._ledger is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._ledger)
            self._ledger = None
        if self._fd is not None:
            os.close(self._fd)  # drops the shared lock
            self._fd = None


def claim(lib: str) -> Claim | None:
    """Sweep dead sandboxes' leftovers if no sandbox of this data directory is running, then
    hold the shared lock (``lib``: the folder of the empty file placeholders link to). None
    when the folder cannot be used: the placeholders are still made and removed, only a crash
    would leave them behind, as it did before."""
    try:
        os.makedirs(os.path.join(lib, LEDGERS), mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(lib, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
                     | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # a sandbox is running: nothing may be swept now
        else:
            sweep(os.path.join(lib, LEDGERS))
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only for a sweep in progress
    except OSError:  # no locks on this file system: no ledger either (nothing is swept)
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return Claim(lib, fd)


def sweep(folder: str) -> int:
    """Remove what every ledger in ``folder`` lists (call with the exclusive lock held).
    Returns the number of files removed."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        ledger = os.path.join(folder, name)
        try:
            with open(ledger, "rb") as fh:
                lines = fh.read().decode("utf-8", "surrogatepass").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for line in lines:
            removed += _remove_listed(line)
        with contextlib.suppress(OSError):
            os.unlink(ledger)
    return removed


def _remove_listed(line: str) -> int:
    try:
        dev, ino, path = json.loads(line)
        st = os.lstat(path)
    except (ValueError, TypeError, OSError):
        return 0  # a torn last line, or the name is gone already
    if not (stat.S_ISREG(st.st_mode) and st.st_size == 0
            and (st.st_dev, st.st_ino) == (dev, ino)):
        return 0  # not our empty file any more: someone else's now
    try:
        os.unlink(path)
    except OSError:
        return 0
    return 1
