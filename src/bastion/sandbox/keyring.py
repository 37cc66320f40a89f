"""A fresh, empty kernel session keyring for every command.

A process inherits its parent's session keyring, so a sandboxed command could otherwise reach
the keys of the login session — including Bastion's own unlocked-key cache. Two layers:
seccomp refuses ``keyctl``/``add_key``/``request_key`` inside the sandbox (``seccomp.py``), and
the command is started from a short-lived thread that has first joined a new anonymous session
keyring: keyrings are per-thread credentials, and ``vfork``/``clone`` copies the calling
thread's, so the command starts with an empty keyring of its own while Bastion keeps the
login session's.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from bastion import keyctl
from bastion.errors import BastionError

T = TypeVar("T")


def join_fresh_session_keyring() -> None:
    """Give the calling *thread* a new, empty anonymous session keyring.

    Raises :class:`BastionError` if the kernel has keyrings but refuses (fail closed); a
    kernel built without keyrings (``ENOSYS``) has nothing to leak.
    """
    if not keyctl.available():
        raise BastionError("cannot give the command a fresh session keyring on this system")
    err = keyctl.join_session_keyring()
    if err not in (0, errno.ENOSYS):
        raise BastionError("cannot give the command a fresh session keyring: "
                           f"{errno.errorcode.get(err, err)}")


_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bastion-spawn")
        return _spawner


def background(fn: Callable[[], object]) -> None:
    """Run ``fn`` later on the spawner thread (tearing down a finished command's cgroup)."""
    _executor().submit(fn)


def submit_fresh(start: Callable[[], T]) -> Future[T]:
    """Call ``start`` later on the spawner thread, after it joined a fresh keyring."""
    return _executor().submit(_fresh, start)


def _fresh(start: Callable[[], T]) -> T:
    join_fresh_session_keyring()  # a new keyring per command, in the spawner thread only
    return start()


def in_fresh_keyring(start: Callable[[], T], cleanup: Callable[[T], None]) -> T:
    """Call ``start`` (which starts the command) in a thread with a fresh session keyring.

    One long-lived spawner thread serves every command (starting a thread per command cost
    more than the rest of the hand-over); before each start it joins a new keyring. If the
    caller is interrupted (Ctrl-C) while waiting, what ``start`` started is handed to
    ``cleanup`` before the interrupt propagates.
    """
    future = _executor().submit(_fresh, start)
    try:
        return future.result()
    except BaseException:
        if not future.cancel():
            with contextlib.suppress(BaseException):
                value = future.result()
                cleanup(value)
        raise
