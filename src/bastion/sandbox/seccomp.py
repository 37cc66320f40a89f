"""A small classic-BPF seccomp filter handed to bwrap (``--seccomp FD``).

Refused inside the sandbox (``EPERM``):

- creating ``AF_UNIX`` sockets (``socket(2)``): a read-only bind mount does not stop
  ``connect()`` to a host socket, and seccomp cannot read the path a ``connect()`` names;
  ``socketpair(2)`` stays allowed (pipes between the command's own processes);
- ``io_uring_setup`` (io_uring can create sockets without the ``socket`` syscall) and
  ``openat2`` (its mode lives in a structure the filter cannot read);
- the kernel keyring (``keyctl``, ``add_key``, ``request_key``): the login session's keys —
  Bastion's unlocked-key cache among them — stay out of reach;
- setting the set-uid/set-gid bits (``chmod``/``fchmod``/``fchmodat``/``fchmodat2`` and
  ``open``/``openat``/``creat``/``mknod``/``mknodat`` with such a mode): a command cannot leave
  a set-uid program in the workspace for someone to run later outside the sandbox;
- x32/foreign-architecture system calls (another syscall table would bypass the numbers).
"""

from __future__ import annotations

import errno
import functools
import os
import struct
from dataclasses import dataclass

# classic BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

_AF_UNIX = 1
_X32_BIT = 0x40000000
_SUID_SGID = 0o6000

# offsets in struct seccomp_data: nr (int), arch (u32), ip (u64), args[6] (u64, little-endian)
_OFF_NR, _OFF_ARCH, _OFF_ARGS = 0, 4, 16


@dataclass(frozen=True)
class _Arch:
    """One architecture's audit value and system-call numbers."""

    audit: int
    socket: int
    #: refused outright
    denied: tuple[int, ...]
    #: syscall -> index of its mode argument (refused when the mode has S_ISUID/S_ISGID)
    mode_arg: dict[int, int]


_ARCHES: dict[str, _Arch] = {
    "x86_64": _Arch(0xC000003E, 41, (425, 437, 248, 249, 250),
                    {90: 1, 91: 1, 268: 2, 452: 2, 2: 2, 257: 3, 85: 1, 133: 1, 259: 2}),
    "aarch64": _Arch(0xC00000B7, 198, (425, 437, 217, 218, 219),
                     {52: 1, 53: 2, 452: 2, 56: 3, 33: 2}),
}


def supported() -> bool:
    return os.uname().machine in _ARCHES


# an instruction with symbolic jump targets (label names), resolved by _assemble
_Insn = tuple[int, str | None, str | None, int]


def _assemble(prog: list[_Insn | str]) -> bytes:
    """Resolve labels (plain strings in ``prog``) into relative jump offsets."""
    labels: dict[str, int] = {}
    code: list[_Insn] = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = []
    for i, (op, jt, jf, k) in enumerate(code):
        t = labels[jt] - i - 1 if jt else 0
        f = labels[jf] - i - 1 if jf else 0
        if not (0 <= t < 256 and 0 <= f < 256):
            raise ValueError("seccomp jump out of range")
        out.append(struct.pack("<HBBI", op, t, f, k))
    return b"".join(out)


@functools.cache
def unix_socket_filter() -> bytes:
    """The filter program as raw ``struct sock_filter`` array (what bwrap reads from the fd)."""
    arch = _ARCHES[os.uname().machine]
    deny = _RET_ERRNO | errno.EPERM
    prog: list[_Insn | str] = [
        (_LD_W_ABS, None, None, _OFF_ARCH),
        (_JEQ_K, "native", "deny", arch.audit),
        "native",
        (_LD_W_ABS, None, None, _OFF_NR),
        (_JGE_K, "deny", None, _X32_BIT),
        (_JEQ_K, "socket", None, arch.socket),
    ]
    prog += [(_JEQ_K, "deny", None, nr) for nr in arch.denied]
    by_arg: dict[int, list[int]] = {}
    for nr, idx in arch.mode_arg.items():
        by_arg.setdefault(idx, []).append(nr)
    prog += [(_JEQ_K, f"mode{idx}", None, nr)
             for idx, nrs in sorted(by_arg.items()) for nr in nrs]
    prog += [(_RET_K, None, None, _RET_ALLOW), "socket",
             (_LD_W_ABS, None, None, _OFF_ARGS),
             (_JEQ_K, "deny", "allow", _AF_UNIX)]
    for idx in sorted(by_arg):
        prog += [f"mode{idx}", (_LD_W_ABS, None, None, _OFF_ARGS + 8 * idx),
                 (_JSET_K, "deny", "allow", _SUID_SGID)]
    prog += ["allow", (_RET_K, None, None, _RET_ALLOW), "deny", (_RET_K, None, None, deny)]
    return _assemble(prog)
