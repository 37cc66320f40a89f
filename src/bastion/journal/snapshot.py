"""Tree snapshots of the write grants, taken around a shell command, and the diff between them.

Before a command: walk the writable roots, ``lstat`` everything, and put the content of every
regular file into the blob store — unless the file's stat key (size, mtime, ctime, inode,
mode) equals the one cached from an earlier snapshot, in which case its blob is already
stored and it is not re-read. Pre-images therefore exist *before* the command can touch a file.
After the command: walk again, hash only what changed, and diff: created / modified / deleted /
mode-changed files, directories and symlinks. The change records are plain data the journal
stores; :func:`revert` undoes them.

Skipped trees (``.venv``, ``node_modules``, caches, ``.git``) and files over the size limit
are listed in :attr:`Snapshot.skipped` and in the change set — never silently ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from bastion import safefs

#: directories whose contents are not journaled (rebuilt by tools, or git's own history:
#: undo never moves refs); each skipped directory is reported
SKIP_DIRS: frozenset[str] = frozenset({
    ".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".tox", ".nox", ".cache", ".gradle", ".hypothesis",
})
MAX_FILE_BYTES = 16 * 1024 * 1024

Kind = Literal["file", "dir", "symlink"]
Action = Literal["created", "modified", "deleted", "mode_changed"]


class BlobStore(Protocol):
    """Content-addressed storage: ``put`` returns the SHA-256 hex digest."""

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def has(self, digest: str) -> bool: ...


class MemoryBlobStore:
    """Process-local store, used when no journal store is given (nothing reaches the disk)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self._blobs.setdefault(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        return self._blobs[digest]

    def has(self, digest: str) -> bool:
        return digest in self._blobs


@dataclass(frozen=True)
class Entry:
    """One path in a snapshot: its kind, mode, size and content digest."""

    kind: Kind
    mode: int
    size: int = 0
    sha256: str | None = None
    target: str | None = None  # symlinks
    #: stat key (size, mtime_ns, ctime_ns, ino, mode) — equal keys mean unchanged content
    key: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Skipped:
    """A path a snapshot did not record, and why."""

    path: str
    reason: str


@dataclass
class Snapshot:
    """The granted folders' state at one moment (what undo restores)."""

    roots: list[str]
    entries: dict[str, Entry] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    #: regular files with more than one name: a write through them may reach another folder
    hardlinks: list[str] = field(default_factory=list)
    files_hashed: int = 0
    seconds: float = 0.0


@dataclass
class ChangeRecord:
    """One difference between two snapshots."""

    path: str
    action: Action
    kind: Kind
    before_sha: str | None = None
    after_sha: str | None = None
    before_mode: int | None = None
    after_mode: int | None = None
    before_target: str | None = None
    after_target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SnapshotCache:
    """Path -> the file's :class:`Entry` (stat key + digest), kept for a session's commands.

    An unchanged file (same stat key) is neither re-read nor re-hashed, and its ``Entry`` object
    is reused as it is, so a snapshot of an unchanged tree costs one ``lstat`` per file (from
    ``os.scandir``) and the diff compares identical objects.
    """

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        #: digests known to be in the blob store (per store): the journal's ``has`` is a file
        #: stat, which would double the cost of a snapshot. The journal never deletes blobs.
        self._stored: dict[int, set[str]] = {}

    def stored(self, blobs: BlobStore, digest: str) -> bool:
        known = self._stored.setdefault(id(blobs), set())
        if digest in known:
            return True
        if blobs.has(digest):
            known.add(digest)
            return True
        return False

    def known_digests(self, blobs: BlobStore) -> set[str]:
        """The live set of digests known to be in ``blobs`` (read-only for callers)."""
        return self._stored.setdefault(id(blobs), set())

    def entries_view(self) -> dict[str, Entry]:
        """The live path -> :class:`Entry` map (read-only for callers; the snapshot loop)."""
        return self._entries

    def mark_stored(self, blobs: BlobStore, digest: str) -> None:
        self._stored.setdefault(id(blobs), set()).add(digest)

    def lookup(self, path: str, key: tuple[int, int, int, int, int]) -> str | None:
        hit = self._entries.get(path)
        return hit.sha256 if hit is not None and hit.key == key else None

    def entry(self, path: str, key: tuple[int, int, int, int, int]) -> Entry | None:
        hit = self._entries.get(path)
        return hit if hit is not None and hit.key == key else None

    def store(self, path: str, key: tuple[int, int, int, int, int], digest: str) -> None:
        self._entries[path] = Entry("file", stat.S_IMODE(key[4]), key[0], digest, key=key)

    def remember(self, path: str, entry: Entry) -> None:
        self._entries[path] = entry


#: one shared Entry per directory mode (directories carry nothing else)
_DIR_ENTRIES: dict[int, Entry] = {}


def _dir_entry(mode: int) -> Entry:
    e = _DIR_ENTRIES.get(mode)
    if e is None:
        e = _DIR_ENTRIES[mode] = Entry("dir", mode)
    return e


def _key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)


def _read_nofollow(path: str) -> bytes:
    with safefs.open_regular(path) as fh:  # a FIFO swapped in meanwhile: refused, not awaited
        return fh.read()


def take_snapshot(roots: Iterable[Path | str], blobs: BlobStore, *,
                  cache: SnapshotCache | None = None, skip_dirs: frozenset[str] = SKIP_DIRS,
                  max_file_bytes: int = MAX_FILE_BYTES) -> Snapshot:
    """Walk ``roots`` (never following links) and store every file's content in ``blobs``."""
    start = time.perf_counter()
    cache = cache if cache is not None else SnapshotCache()
    root_list = [os.fspath(r) for r in roots]
    snap = Snapshot(roots=root_list)
    entries, skipped, hardlinks = snap.entries, snap.skipped, snap.hardlinks
    cached_entries, known = cache.entries_view(), cache.known_digests(blobs)
    for root in root_list:
        stack = [root]
        while stack:
            current = stack.pop()
            try:
                it = os.scandir(current)
            except OSError as exc:
                snap.skipped.append(Skipped(current, f"unreadable ({exc.strerror})"))
                continue
            with it:
                for de in it:
                    path = de.path
                    try:
                        st = de.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        if de.name in skip_dirs:
                            skipped.append(Skipped(path, f"{de.name}/ is not journaled"))
                            _collect_hardlinks(path, snap)
                            continue
                        entries[path] = _dir_entry(stat.S_IMODE(st.st_mode))
                        stack.append(path)
                    elif stat.S_ISLNK(st.st_mode):
                        with contextlib.suppress(OSError):
                            entries[path] = Entry("symlink", 0, target=os.readlink(path))
                    elif stat.S_ISREG(st.st_mode):
                        if st.st_nlink > 1:
                            hardlinks.append(path)
                        if st.st_size > max_file_bytes:
                            skipped.append(Skipped(
                                path, f"larger than {max_file_bytes} bytes: not journaled"))
                            continue
                        key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                               st.st_mode)
                        cached = cached_entries.get(path)  # cache.entry(), inlined: per file
                        if cached is not None and cached.key == key and (
                                cached.sha256 in known
                                or (cached.sha256 is not None
                                    and cache.stored(blobs, cached.sha256))):
                            entries[path] = cached
                            continue
                        try:
                            digest = blobs.put(_read_nofollow(path))
                        except OSError as exc:
                            skipped.append(Skipped(path, f"unreadable ({exc.strerror})"))
                            continue
                        snap.files_hashed += 1
                        cache.mark_stored(blobs, digest)
                        entry = Entry("file", stat.S_IMODE(st.st_mode), st.st_size, digest,
                                      key=key)
                        cache.remember(path, entry)
                        entries[path] = entry
                    else:
                        snap.skipped.append(Skipped(path, "special file: not journaled"))
    snap.seconds = time.perf_counter() - start
    return snap


def _collect_hardlinks(top: str, snap: Snapshot) -> None:
    """Skipped trees are not journaled, but hard links inside them must still be found.

    ``st_nlink`` needs an ``lstat`` of every file (a link made elsewhere changes nothing in this
    tree's directories), so there is no cache here; ``scandir`` keeps the cost at that.
    """
    stack = [top]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for de in it:
                try:
                    st = de.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(de.path)
                elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    snap.hardlinks.append(de.path)


def diff_snapshots(before: Snapshot, after: Snapshot) -> list[ChangeRecord]:
    """What changed between two snapshots of the same roots, parents before children."""
    changes: list[ChangeRecord] = []
    old_entries, new_entries = before.entries, after.entries
    # unchanged files share the very same Entry object (SnapshotCache): compare by identity
    # first, and sort only the paths that differ
    changed = [p for p, e in new_entries.items()
               if (o := old_entries.get(p)) is not e and o != e]
    changed += [p for p in old_entries if p not in new_entries]
    for path in sorted(changed):
        old, new = old_entries.get(path), new_entries.get(path)
        if old == new:
            continue
        if old is None and new is not None:
            changes.append(ChangeRecord(path, "created", new.kind, after_sha=new.sha256,
                                        after_mode=new.mode, after_target=new.target))
        elif new is None and old is not None:
            changes.append(ChangeRecord(path, "deleted", old.kind, before_sha=old.sha256,
                                        before_mode=old.mode, before_target=old.target))
        elif old is not None and new is not None:
            if old.kind != new.kind:
                changes.append(ChangeRecord(path, "deleted", old.kind, before_sha=old.sha256,
                                            before_mode=old.mode, before_target=old.target))
                changes.append(ChangeRecord(path, "created", new.kind, after_sha=new.sha256,
                                            after_mode=new.mode, after_target=new.target))
            elif old.sha256 != new.sha256 or old.target != new.target:
                changes.append(ChangeRecord(
                    path, "modified", new.kind, before_sha=old.sha256, after_sha=new.sha256,
                    before_mode=old.mode, after_mode=new.mode, before_target=old.target,
                    after_target=new.target))
            elif old.mode != new.mode:
                changes.append(ChangeRecord(path, "mode_changed", new.kind,
                                            before_sha=old.sha256, after_sha=new.sha256,
                                            before_mode=old.mode, after_mode=new.mode))
    return changes


def _current_sha(path: str) -> str | None:
    try:
        return hashlib.sha256(_read_nofollow(path)).hexdigest()
    except OSError:
        return None


def _write_atomic(path: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bastion-restore-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def revert(changes: list[ChangeRecord], blobs: BlobStore) -> list[str]:
    """Undo ``changes``; returns conflicts (paths changed since, left untouched).

    A created file is removed only while it still holds what the command wrote, so undo never
    deletes something the user wrote afterwards; restored files are written atomically.
    """
    conflicts: list[str] = []
    # children before parents for removals, parents before children for restores
    for ch in sorted(changes, key=lambda c: c.path, reverse=True):
        if ch.action != "created":
            continue
        if ch.kind == "file":
            if _current_sha(ch.path) != ch.after_sha:
                conflicts.append(f"{ch.path}: changed since the command; not removed")
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ch.path)
        elif ch.kind == "symlink":
            if os.path.islink(ch.path) and os.readlink(ch.path) == ch.after_target:
                os.unlink(ch.path)
        elif ch.kind == "dir":
            try:
                os.rmdir(ch.path)
            except FileNotFoundError:
                pass
            except OSError:
                conflicts.append(f"{ch.path}: directory not empty; not removed")
    for ch in sorted(changes, key=lambda c: c.path):
        if ch.action == "created":
            continue
        if ch.kind == "dir":
            if ch.action == "deleted":
                os.makedirs(ch.path, exist_ok=True)
            if ch.before_mode is not None:
                os.chmod(ch.path, ch.before_mode)
        elif ch.kind == "symlink":
            if ch.action in ("deleted", "modified") and ch.before_target is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(ch.path)
                os.symlink(ch.before_target, ch.path)
        elif ch.kind == "file":
            if ch.action in ("modified", "mode_changed") and \
                    _current_sha(ch.path) not in (ch.after_sha, ch.before_sha):
                conflicts.append(f"{ch.path}: changed since the command; not restored")
                continue
            if ch.action == "deleted" and os.path.lexists(ch.path) and \
                    _current_sha(ch.path) != ch.before_sha:
                conflicts.append(f"{ch.path}: re-created since the command; not restored")
                continue
            assert ch.before_sha is not None and ch.before_mode is not None
            os.makedirs(os.path.dirname(ch.path), exist_ok=True)
            _write_atomic(ch.path, blobs.get(ch.before_sha), ch.before_mode)
    return conflicts


def to_file_changes(changes: list[ChangeRecord]) -> list[Any]:
    """The records as the journal's ``FileChange`` (pre-images already in its blob store)."""
    from bastion.journal import FileChange

    out: list[Any] = []
    for ch in changes:
        before_kind = "missing" if ch.action == "created" else ch.kind
        after_kind = "missing" if ch.action == "deleted" else ch.kind
        if ch.kind == "symlink":
            after_hash = hashlib.sha256(ch.after_target.encode()).hexdigest() \
                if ch.after_target is not None and after_kind != "missing" else None
            out.append(FileChange(
                Path(ch.path),
                before=ch.before_target.encode() if ch.before_target is not None
                and before_kind != "missing" else None,
                after_hash=after_hash, before_kind=before_kind, after_kind=after_kind))
        else:
            out.append(FileChange(
                Path(ch.path),
                before_hash=ch.before_sha if before_kind == "file" else None,
                before_mode=ch.before_mode if before_kind != "missing" else None,
                after_hash=ch.after_sha if after_kind == "file" else None,
                after_mode=ch.after_mode if after_kind != "missing" else None,
                before_kind=before_kind, after_kind=after_kind))
    return out
