"""Landlock, the second layer: inside the sandbox, writes are allowed only beneath the writable
roots (plus the private /tmp and /dev), whatever the mounts say.

Landlock forbids mounting once a process is restricted, so it cannot be applied before bwrap
builds the mount namespace. bwrap therefore runs a small helper that restricts itself and then
``exec``s the command: a native one (``landlock_helper.c``, compiled once into
``BASTION_HOME/lib`` when a C compiler is present; a freestanding program of a few KiB that
starts in microseconds) or else :data:`HELPER`, executed by
the Python interpreter with ``-I -S`` (~50 ms, one interpreter start per command). The native
helper lives under ``BASTION_HOME``, which no command can write (it is masked in the sandbox),
and is bound read-only at :data:`NATIVE_PATH` inside.
If bwrap were misconfigured to bind something read-write by mistake, Landlock still refuses
the write. With ABI >= 6 it also scopes abstract Unix sockets and signals to the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

_SYS_CREATE_RULESET = 444  # same number on x86_64 and aarch64 (asm-generic table)
_CREATE_RULESET_VERSION = 1

#: the helper program; argv: ROOT... -- COMMAND [ARG...]
#:
#: Kept to what a bare ``python -I -S`` has already loaded plus the ``_ctypes`` extension (no
#: ``ctypes`` package, no ``struct``); the interpreter start itself remains most of what Landlock
#: adds to a command's spawn. Structures are packed with
#: ``int.to_bytes``; ``syscall`` is called through a minimal ``CFuncPtr`` returning ``long``
#: with errno capture. Any failure exits 126 *before* the command is executed (fail closed).
HELPER = r"""
import _ctypes as C, os, sys
class L(C._SimpleCData):
    _type_ = "l"
class F(C.CFuncPtr):
    _flags_ = C.FUNCFLAG_CDECL | C.FUNCFLAG_USE_ERRNO
    _restype_ = L
libc = C.dlopen(None)
sysc = F(C.dlsym(libc, "syscall"))
prctl = F(C.dlsym(libc, "prctl"))
def die(msg):
    sys.stderr.write("bastion sandbox: landlock: " + msg + "\n"); os._exit(126)
def u64(v):
    return v.to_bytes(8, "little")
sep = sys.argv.index("--")
roots, argv = sys.argv[1:sep], sys.argv[sep + 1:]
abi = sysc(444, None, 0, 1)
if abi < 1:
    die("not supported by this kernel")
FILE_W = (1 << 1) | ((1 << 14) if abi >= 3 else 0)
DIR_W = FILE_W | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) \
    | (1 << 11) | (1 << 12) | ((1 << 13) if abi >= 2 else 0)
if abi >= 6:
    attr = u64(DIR_W) + u64(0) + u64(3)
elif abi >= 4:
    attr = u64(DIR_W) + u64(0)
else:
    attr = u64(DIR_W)
rs = sysc(444, attr, len(attr), 0)
if rs < 0:
    die("create_ruleset failed (errno %d)" % C.get_errno())
for root in roots:
    try:
        fd = os.open(root, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        continue
    access = DIR_W if os.path.isdir(root) else FILE_W
    rule = u64(access) + fd.to_bytes(4, "little", signed=True)
    if sysc(445, rs, 1, rule, 0) < 0:
        die("add_rule %s failed (errno %d)" % (root, C.get_errno()))
    os.close(fd)
if prctl(38, 1, 0, 0, 0) != 0:
    die("no_new_privs failed")
if sysc(446, rs, 0) < 0:
    die("restrict_self failed (errno %d)" % C.get_errno())
os.close(rs)
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("%s: %s\n" % (argv[0], exc.strerror)); os._exit(127)
"""


@functools.cache
def abi_version() -> int:
    """The kernel's Landlock ABI (0: unavailable). Querying restricts nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        version = int(libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(version, 0)


def interpreter() -> str:
    """The real interpreter binary (not a venv symlink), so the helper needs no venv."""
    return os.path.realpath(sys.executable)


def interpreter_prefixes() -> list[str]:
    """Directories the interpreter needs to start (binary and standard library)."""
    return sorted({os.path.realpath(sys.base_prefix),
                   os.path.dirname(os.path.dirname(interpreter()))})


#: where the native helper appears inside the sandbox (a read-only bind on the private root)
NATIVE_PATH = "/.bastion-landlock"
_SOURCE = Path(__file__).with_name("landlock_helper.c")


def native_helper() -> str | None:
    """The compiled helper (built on first use), or None: use the Python helper."""
    if os.environ.get("BASTION_LANDLOCK_HELPER") == "python":
        return None
    key = os.environ.get("BASTION_HOME")
    known = _found.get(key)
    if known is not None and os.path.isfile(known):  # once per command: no home lookup
        return known
    from bastion.home import bastion_home

    home = str(bastion_home())
    found = _native_helper(home)
    if found is not None and not os.path.isfile(found):  # removed since: build it again
        _native_helper.cache_clear()
        found = _native_helper(home)
    if found is not None:
        _found[key] = found
    return found


#: the helper found for a ``BASTION_HOME`` value (None: the default data directory)
_found: dict[str | None, str] = {}


#: the helper binary this process built or found first (copied into other homes: no rebuild)
_built: dict[str, bytes] = {}


@functools.cache
def _native_helper(home: str) -> str | None:
    try:
        source = _SOURCE.read_bytes()
    except OSError:
        return None
    tag = hashlib.sha256(source + os.uname().machine.encode()).hexdigest()[:16]
    target = Path(home) / "lib" / f"landlock-helper-{tag}"
    if target.is_file() and os.access(target, os.X_OK):
        if tag not in _built:
            with contextlib.suppress(OSError):
                _built[tag] = target.read_bytes()
        return str(target)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        if tag in _built:
            tmp.write_bytes(_built[tag])
        elif not _compile(tmp):
            return None
        os.chmod(tmp, 0o500)
        _built.setdefault(tag, tmp.read_bytes())
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return None
    return str(target)


#: the helper has no C library (see landlock_helper.c): nothing of one may be pulled in, no
#: stack-protector canary (it would read thread-local storage nobody set up), no PIE relocations
_FREESTANDING = ["-O2", "-static", "-nostdlib", "-ffreestanding", "-fno-builtin",
                 "-fno-stack-protector", "-fno-pie", "-no-pie", "-fno-asynchronous-unwind-tables",
                 "-s"]


def _compile(out: Path) -> bool:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return False
    try:
        subprocess.run([cc, *_FREESTANDING, "-o", str(out), str(_SOURCE)], check=True,
                       capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def helper_mounts(native: str) -> list[str]:
    """bwrap arguments that make the ``native`` helper visible inside the sandbox."""
    return ["--ro-bind", native, NATIVE_PATH]


def wrap(roots: list[str], argv: list[str], native: str | None) -> list[str]:
    """``argv`` started through the helper: the ``native`` one (its path on the host, from the
    same :func:`native_helper` call that made the mount) or, without it, the Python one."""
    if native:
        return [NATIVE_PATH, *roots, "--", *argv]
    return [interpreter(), "-I", "-S", "-c", HELPER, *roots, "--", *argv]
