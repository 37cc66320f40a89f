"""The sandbox's mount set: a spec compiled into bubblewrap options.

Every command pays for each mount bubblewrap makes (a bind, a remount, a read of
``/proc/self/mountinfo``: ~70 us of CPU each) and for each placeholder mount point, so this
module stats every path once per command and keeps the list as short as the policy allows;
nothing is cached across commands (the tree may change between them).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import landlock, leftovers
from .errors import SandboxUnavailable
from .spec import SANDBOX_HOME, SandboxSpec

#: system directories the sandbox sees read-only; everything else is invisible unless granted
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix",
)
#: files under the system directories that hold host secrets (readable to root otherwise:
#: inside the user namespace the command keeps uid 0's file ownership)
SYSTEM_SECRETS: tuple[str, ...] = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
    "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private", "/etc/security/opasswd",
)


_SYSTEM_PREFIXES = tuple(d + "/" for d in SYSTEM_DIRS)


@dataclass
class Plan:
    """bubblewrap's options for one command, and the placeholders they need."""

    args: list[str]
    #: missing protected paths: :func:`create_placeholders` makes them mount points
    placeholders: list[str]
    landlock_roots: list[str]
    #: the native Landlock helper mounted in the sandbox (host path), None: the Python one
    landlock_helper: str | None = None
    #: the empty file mounted over the placeholders (None: there are none)
    empty: str | None = None


class _Stats:
    """``lstat`` results for one plan: each path is asked once."""

    def __init__(self) -> None:
        self._seen: dict[str, int | None] = {}

    def mode(self, path: str) -> int | None:
        if path not in self._seen:
            try:
                self._seen[path] = os.lstat(path).st_mode
            except OSError:
                self._seen[path] = None
        return self._seen[path]


def _under_any(path: str, roots: tuple[str, ...]) -> bool:
    """Whole-component prefix test on strings ("/a/b" is under "/a", "/ab" is not); ``roots``
    from :func:`_prefixes`."""
    return (path.rstrip("/") + "/").startswith(roots)


def _prefixes(paths: list[Path]) -> tuple[str, ...]:
    return tuple(str(r).rstrip("/") + "/" for r in paths)


def _first_missing(path: str, roots: tuple[str, ...], st: _Stats) -> tuple[str, bool] | None:
    """What keeps a missing ``path`` from being created, if it lies inside a root: its first
    missing component (``False``: a placeholder is needed), or an existing ancestor that is
    not a folder (``True``: nothing can be created beneath it while it stays what it is — e.g.
    a file a killed Bastion left as a placeholder, or the user's own file of that name; a
    symbolic link is followed, as before)."""
    current, missing = path, None
    while st.mode(current) is None:
        missing = current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if missing is None or not _under_any(missing, roots):
        return None
    mode = st.mode(current)
    if mode is not None and not (stat.S_ISDIR(mode) or stat.S_ISLNK(mode)) \
            and _under_any(current, roots):
        return current, True
    return missing, False


def _system(use_landlock: bool, helper: str | None, st: _Stats) -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS:
        mode = st.mode(d)
        if mode is not None and stat.S_ISLNK(mode):
            args += ["--symlink", os.readlink(d), d]
        elif mode is not None and stat.S_ISDIR(mode):
            args += ["--ro-bind", d, d]
    if helper is not None:
        args += landlock.helper_mounts(helper)
    elif use_landlock:
        for prefix in landlock.interpreter_prefixes():
            if not _under_any(prefix, _SYSTEM_PREFIXES):
                args += ["--ro-bind", prefix, prefix]
    return args


def _grants(spec: SandboxSpec, st: _Stats) -> list[str]:
    args: list[str] = []
    # shallow first so a nested grant is mounted over its parent's
    mounts = [(str(p), "--ro-bind") for p in spec.read_only] + \
        [(str(p), "--bind") for p in spec.writable]
    for path, flag in sorted(mounts, key=lambda m: (len(Path(m[0]).parts), m[0])):
        if os.path.exists(path):  # grants are canonical; a granted symlink target counts
            args += [flag, path, path]
    for f in spec.read_only_files:
        args += ["--ro-bind", str(f), str(f)]
    # A repository's .git directory stays writable (git must work) but becomes a mount point,
    # which cannot be renamed or removed: the command cannot swap in a .git of its choosing.
    # Pinned first, so the read-only .git/hooks and .git/config mounts land on top of it.
    for root in spec.writable:
        git = os.path.join(str(root), ".git")
        mode = st.mode(git)
        if mode is not None and stat.S_ISDIR(mode):
            args += ["--bind", git, git]
    return args


def _protected(spec: SandboxSpec, st: _Stats) -> tuple[list[str], list[str], str | None]:
    args: list[str] = []
    writable = _prefixes(spec.writable)
    placeholders: list[str] = []
    made: set[str] = set()
    empty = ""
    for p in sorted(map(str, spec.protected), key=lambda q: (q.count("/"), q)):
        if not _under_any(p, writable):
            continue  # outside the writable roots everything is read-only already
        mode = st.mode(p)
        if mode is not None and stat.S_ISLNK(mode):
            raise SandboxUnavailable(
                f"protected path {p} is a symbolic link; refusing to run commands in this "
                "folder until it is replaced by a real file or folder", hint=None)
        if mode is not None:
            if os.path.basename(p) == ".git" and stat.S_ISDIR(mode):
                continue  # pinned above
            args += ["--ro-bind", p, p]
            continue
        found = _first_missing(p, writable, st)
        if found is None or found[0] in made:
            continue
        missing, exists = found
        if exists:  # a file where a protected folder would be: it stays that file
            made.add(missing)
            args += ["--ro-bind", missing, missing]
        else:
            # an empty read-only *file* mount over a placeholder file (create_placeholders;
            # removing one is ~100x cheaper than a directory on ext4 with discard): mkdir,
            # creating beneath it and writing all fail
            made.add(missing)
            placeholders.append(missing)
            empty = empty or _empty_file()
            args += ["--ro-bind", empty, missing]
    return args, placeholders, empty or None


def _hidden(spec: SandboxSpec, st: _Stats) -> list[str]:
    args: list[str] = []
    visible = _SYSTEM_PREFIXES + _prefixes([*spec.read_only, *spec.writable])
    for h in [*(str(p) for p in spec.hidden), *SYSTEM_SECRETS]:
        mode = st.mode(h)
        if mode is None or stat.S_ISLNK(mode) or not _under_any(h, visible):
            continue
        if stat.S_ISDIR(mode):
            args += ["--perms", "0000", "--tmpfs", h, "--remount-ro", h]
        else:
            args += ["--ro-bind", "/dev/null", h]
    return args


def build_args(spec: SandboxSpec, *, seccomp_fd: int | None, use_landlock: bool) -> Plan:
    """The bwrap argument list for ``spec`` (without the command)."""
    st = _Stats()
    # --disable-userns: no nested user namespace (it needs an explicit --unshare-user)
    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev"]
    size = [] if not spec.limits.memory_mb else \
        ["--size", str(spec.limits.memory_mb * 1024 * 1024)]
    args += [*size, "--tmpfs", "/tmp", "--dir", SANDBOX_HOME, "--dir", "/var",
             *size, "--tmpfs", "/var/tmp"]
    helper = landlock.native_helper() if use_landlock else None
    args += _system(use_landlock, helper, st)
    args += _grants(spec, st)
    protected, placeholders, empty = _protected(spec, st)
    args += protected
    args += _hidden(spec, st)
    args += ["--remount-ro", "/", "--chdir", str(spec.workspace)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    roots = [str(p) for p in spec.writable] + ["/tmp", "/var/tmp", "/dev"]
    return Plan(args, placeholders, roots, helper, empty)


#: the checked empty file for a ``BASTION_HOME`` value (None: the default data directory)
_empty_ok: dict[str | None, str] = {}


def _empty_file() -> str:
    """An empty, read-only regular file: the source of placeholder mounts."""
    env = os.environ.get("BASTION_HOME")
    known = _empty_ok.get(env)
    if known is not None:  # once per command: one lstat, no home lookup
        with contextlib.suppress(OSError):
            st = os.lstat(known)
            if stat.S_ISREG(st.st_mode) and not st.st_size:
                return known
    from bastion.home import bastion_home

    path = bastion_home() / "lib" / "empty"
    if not path.is_file() or path.stat().st_size:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_name(f".empty.{os.getpid()}")
        tmp.write_bytes(b"")
        tmp.chmod(0o444)
        os.replace(tmp, path)
    _empty_ok[env] = str(path)
    return str(path)


def claim_placeholders() -> leftovers.Claim | None:
    """Before a sandbox plans its mounts: remove what killed sandboxes left behind (when none
    is running) and hold the claim until :func:`remove_placeholders` (sandbox/leftovers.py)."""
    try:
        lib = os.path.dirname(_empty_file())
    except OSError:
        return None
    return leftovers.claim(lib)


def sweep_placeholders() -> None:
    """Remove what killed sandboxes left behind now, if no sandbox of this data directory
    is running (at start-up, before a killed command's changes are recovered)."""
    claim = claim_placeholders()
    if claim is not None:
        claim.release()


def is_placeholder(path: str) -> bool:
    """``path`` is one of the placeholders (a name of the empty file they all link to): a
    killed command's leftover, never something a command made."""
    try:
        st, empty = os.lstat(path), os.lstat(_empty_file())
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (empty.st_dev, empty.st_ino)


def create_placeholders(paths: Sequence[str | os.PathLike[str]], source: str | None,
                        claim: leftovers.Claim | None = None) -> list[str]:
    """Create the mount points for missing protected paths before bubblewrap starts: empty,
    read-only regular files. Returns the ones this call created (only those are removed later).

    Each is a hard link to ``source`` (the empty file bubblewrap mounts over them), or, where
    that cannot be linked (another file system), to the first placeholder made in the same
    folder: allocating an inode is what costs (on ext4 it scans past recently deleted inodes,
    0.1-0.9 ms each when commands keep creating and removing them), a link only adds a name.
    Inside the sandbox every name is covered by a read-only mount, so the shared inode is never
    reachable there. A name that exists by now (whatever it is) is left alone; bubblewrap mounts
    over it, read-only. With a ``claim``, the names are written down before they exist, so a
    killed Bastion's are removed by a later sandbox (sandbox/leftovers.py).
    """
    made: list[str] = []
    first: dict[str, str] = {}  # folder -> a placeholder made there, to link the others to
    names = [os.fspath(p) for p in paths]
    try:
        if claim is not None and source is not None and names:
            src = os.stat(source)
            claim.note((name, src.st_dev, src.st_ino) for name in names)
        for name in names:
            parent = os.path.dirname(name)
            try:
                if not _link(first.get(parent, source), name):
                    os.close(os.open(name, _CREATE, 0o444))
                    first[parent] = name
            except OSError:
                continue  # exists by now (not ours), or bubblewrap tries and reports why
            made.append(name)
        if claim is not None and first:  # not links to ``source``: their own inodes
            claim.note(_identities(n for n in made if os.path.dirname(n) in first))
    except BaseException:
        remove_placeholders(made)
        raise
    return made


def _identities(names: Iterable[str]) -> list[tuple[str, int, int]]:
    found = []
    for name in names:
        with contextlib.suppress(OSError):
            st = os.lstat(name)
            found.append((name, st.st_dev, st.st_ino))
    return found


def _link(source: str | None, name: str) -> bool:
    """Hard-link ``name`` to ``source``; False where that is impossible (raises if ``name``
    exists)."""
    if source is None:
        return False
    try:
        os.link(source, name, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # EXDEV (another file system), EMLINK, no hard links here
        return False
    return True


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_placeholders(paths: Sequence[str | os.PathLike[str]],
                        claim: leftovers.Claim | None = None) -> None:
    """Remove the mount points :func:`create_placeholders` made (empty files only: anything
    else there now is not ours), then give up the ``claim``."""
    for p in paths:
        for _ in range(50):  # EBUSY while the sandbox's mount namespace is still being freed
            try:
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode) and st.st_size == 0:
                    os.unlink(p)
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    break
                time.sleep(0.002)
    if claim is not None:
        claim.release()
