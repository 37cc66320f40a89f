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

import errno
import threading
from collections.abc import Callable
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


def in_fresh_keyring(start: Callable[[], T], cleanup: Callable[[T], None]) -> T:
    """Call ``start`` (which starts the command) in a thread with a fresh session keyring.

    If the caller is interrupted (Ctrl-C) while waiting, the thread is still waited for and
    what it started is handed to ``cleanup`` before the interrupt propagates.
    """
    box: dict[str, object] = {}

    def work() -> None:
        try:
            join_fresh_session_keyring()
            box["value"] = start()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name="bastion-spawn", daemon=True)
    thread.start()
    try:
        thread.join()
    except BaseException:
        while thread.is_alive():
            thread.join(0.05)
        if "value" in box:
            cleanup(box["value"])  # type: ignore[arg-type]
        raise
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
