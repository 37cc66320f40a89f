"""A tiny classic-BPF seccomp filter handed to bwrap (``--seccomp FD``).

Why: a read-only bind mount does not stop ``connect()`` to a Unix socket, and host sockets can
live anywhere (``/run``, ``/tmp``, a home directory). seccomp cannot read the path a
``connect()`` names, so the filter refuses *creating* ``AF_UNIX`` sockets (``socket(2)``);
``socketpair(2)`` stays allowed (pipes between processes of the command itself). It also
refuses ``io_uring_setup`` (io_uring can create sockets without the ``socket`` syscall) and
x32/foreign-architecture system calls (another syscall table would bypass the numbers checked).
"""

from __future__ import annotations

import errno
import functools
import platform
import struct

# classic BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

_AF_UNIX = 1
_X32_BIT = 0x40000000

# offsets in struct seccomp_data: nr (int), arch (u32), ip (u64), args[6] (u64, little-endian)
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16

#: machine -> (AUDIT_ARCH_*, __NR_socket, __NR_io_uring_setup)
_ARCHES: dict[str, tuple[int, int, int]] = {
    "x86_64": (0xC000003E, 41, 425),
    "aarch64": (0xC00000B7, 198, 425),
}


def supported() -> bool:
    return platform.machine() in _ARCHES


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


@functools.cache
def unix_socket_filter() -> bytes:
    """The filter program as raw ``struct sock_filter`` array (what bwrap reads from the fd)."""
    arch, nr_socket, nr_uring = _ARCHES[platform.machine()]
    deny = _RET_ERRNO | errno.EPERM
    # Jump offsets are relative to the next instruction.
    prog = [
        _insn(_LD_W_ABS, 0, 0, _OFF_ARCH),       # 0 A = arch
        _insn(_JEQ_K, 1, 0, arch),               # 1 native? -> 3
        _insn(_RET_K, 0, 0, deny),               # 2 foreign arch: refuse
        _insn(_LD_W_ABS, 0, 0, _OFF_NR),         # 3 A = nr
        _insn(_JGE_K, 5, 0, _X32_BIT),           # 4 x32 -> 10
        _insn(_JEQ_K, 4, 0, nr_uring),           # 5 io_uring_setup -> 10
        _insn(_JEQ_K, 1, 0, nr_socket),          # 6 socket -> 8
        _insn(_RET_K, 0, 0, _RET_ALLOW),         # 7
        _insn(_LD_W_ABS, 0, 0, _OFF_ARG0),       # 8 A = domain (low 32 bits)
        _insn(_JEQ_K, 0, 1, _AF_UNIX),           # 9 AF_UNIX -> 10 else 11
        _insn(_RET_K, 0, 0, deny),               # 10
        _insn(_RET_K, 0, 0, _RET_ALLOW),         # 11
    ]
    return b"".join(prog)
