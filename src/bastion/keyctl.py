"""The Linux kernel key retention service (``keyctl(2)``, ``add_key(2)``) through ctypes.

Used by the sandbox (a fresh session keyring per command) and the vault (the unlocked-key
cache in the login session's keyring). Every function fails soft (returns None/False) except
:func:`join_session_keyring`, whose caller decides.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable

#: machine -> (add_key, keyctl) syscall numbers
_NR = {"x86_64": (248, 250), "aarch64": (217, 219)}
KEY_SPEC_SESSION_KEYRING = -3
KEY_SPEC_USER_SESSION_KEYRING = -5
GET_KEYRING_ID = 0
JOIN_SESSION_KEYRING = 1
SETPERM = 5
SEARCH = 10
READ = 11
SET_TIMEOUT = 15
INVALIDATE = 21
#: possessor: view, read, write, search, setattr — nobody else, not even the same user
POSSESSOR_ONLY = 0x2F000000


@functools.cache
def _syscall() -> Callable[..., int] | None:
    if os.uname().machine not in _NR:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    fn = libc.syscall
    fn.restype = ctypes.c_long
    return fn  # type: ignore[no-any-return]


def available() -> bool:
    return _syscall() is not None


def _keyctl(*args: object) -> tuple[int, int]:
    """(result, errno) of ``keyctl(args...)``; (-1, ENOSYS) where there is no keyctl."""
    fn = _syscall()
    if fn is None:
        return -1, 38
    res = int(fn(_NR[os.uname().machine][1], *args))
    return res, (ctypes.get_errno() if res < 0 else 0)


def join_session_keyring() -> int:
    """Give the calling thread a new anonymous session keyring; 0 or the errno."""
    res, err = _keyctl(JOIN_SESSION_KEYRING, None)
    return 0 if res >= 0 else err


def session_keyring() -> int:
    """The keyring that stands for "this login session".

    A process started without a session keyring of its own (no ``pam_keyinit``: containers,
    cron, some terminals) uses the user's default session keyring; adding a key to
    ``KEY_SPEC_SESSION_KEYRING`` would instead create an anonymous keyring that dies with the
    process, so the user session keyring is named explicitly then.
    """
    ses, _ = _keyctl(GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    user_ses, _ = _keyctl(GET_KEYRING_ID, KEY_SPEC_USER_SESSION_KEYRING, 0)
    if ses < 0 or ses == user_ses:
        return KEY_SPEC_USER_SESSION_KEYRING
    return KEY_SPEC_SESSION_KEYRING


def add(description: str, payload: bytes, timeout_s: int) -> int | None:
    """Store a ``user`` key in the session keyring, possessor-only, expiring in ``timeout_s``."""
    fn = _syscall()
    if fn is None:
        return None
    key = int(fn(_NR[os.uname().machine][0], b"user", description.encode(), payload,
                 ctypes.c_size_t(len(payload)), session_keyring()))
    if key < 0:
        return None
    _keyctl(SETPERM, key, ctypes.c_uint32(POSSESSOR_ONLY))
    touch(key, timeout_s)
    return key


def find(description: str) -> int | None:
    res, _ = _keyctl(SEARCH, session_keyring(), b"user", description.encode(), 0)
    return res if res >= 0 else None


def read(key: int, limit: int = 4096) -> bytes | None:
    buf = ctypes.create_string_buffer(limit)
    res, _ = _keyctl(READ, key, buf, ctypes.c_size_t(limit))
    if res < 0 or res > limit:
        return None
    return buf.raw[:res]


def touch(key: int, timeout_s: int) -> None:
    """Restart the key's expiry: the cache is forgotten after ``timeout_s`` idle seconds."""
    _keyctl(SET_TIMEOUT, key, ctypes.c_uint(timeout_s))


def invalidate(key: int) -> bool:
    res, _ = _keyctl(INVALIDATE, key)
    return res >= 0
