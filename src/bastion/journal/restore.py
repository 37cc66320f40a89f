"""Undo's planning and restoring: which operations can go, and the safe order to restore in.

Removals go deepest first, then folders and files parents first; a path under a folder that
became a link counts as missing (nothing is followed); one failing path never stops others.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bastion import safefs
from bastion.errors import BastionError

from .model import MISSING, Change, JournalError, Operation, Side, _describe, current_side


def virtual_before(saved: list[Change], path: Path) -> Side:
    """For a path seen earlier in the same undo, its state is what the earlier step restored."""
    for ch in reversed(saved):
        if ch.path == path:
            return ch.after
    return MISSING


def _read_content(path: Path, side: Side) -> bytes:
    with safefs.parent_dir(path) as dfd:
        if side.kind == "symlink":
            return os.fsencode(os.readlink(path.name, dir_fd=dfd))
        return safefs.read_at(dfd, path.name)


def _inspect(path: Path) -> Side:
    """``current_side``, where a path whose parent is no longer a real folder (replaced by a
    link or a file) counts as missing: nothing there is ours, and nothing is followed."""
    try:
        return current_side(path)
    except (OSError, safefs.UnsafePathError):
        return MISSING


def _plan(ops: list[Operation], force: bool
          ) -> tuple[list[Operation], dict[str, str], list[str]]:
    """Which ops (newest first) can be undone; the skipped ones with the reason; conflicts
    overwritten because of ``force``. A path already in its old state is not a conflict."""
    virtual: dict[Path, Side] = {}
    blocked: set[Path] = set()
    chosen: list[Operation] = []
    skipped: dict[str, str] = {}
    forced: list[str] = []
    for op in ops:
        paths = {ch.path for ch in op.changes}
        if paths & blocked:
            skipped[op.id] = (f"operation {op.id}: a newer operation that is not undone "
                              "changed the same paths")
            blocked |= paths
            continue
        conflicts = []
        trial = dict(virtual)
        for ch in reversed(op.changes):
            found = trial[ch.path] if ch.path in trial else _inspect(ch.path)
            if not found.same_as(ch.after) and not found.same_as(ch.before):
                detail = " with different content or mode" if found.kind == ch.after.kind else ""
                conflicts.append(f"{ch.path} (expected {_describe(ch.after)} from operation "
                                 f"{op.id}, found {_describe(found)}{detail})")
            trial[ch.path] = ch.before
        if conflicts and not force:
            skipped[op.id] = "; ".join(conflicts[:3])
            blocked |= paths
            continue
        forced += conflicts
        virtual = trial
        chosen.append(op)
    return chosen, skipped, forced


def _final_targets(steps: list[tuple[Operation, Change]]) -> dict[Path, Side]:
    """Each path's state to restore: the ``before`` of the oldest change in the undo."""
    targets: dict[Path, Side] = {}
    for _, ch in steps:  # newest first, so the oldest change's "before" is assigned last
        targets[ch.path] = ch.before
    return targets


def _restore_all(targets: dict[Path, Side], contents: dict[str, bytes]
                 ) -> tuple[list[str], dict[str, str]]:
    """Restore in a safe order: removals deepest first, then folders and files parents first
    (so a link that replaced a folder is replaced again, never written through). One path
    that fails is reported and never stops the others."""
    removals = sorted((p for p, t in targets.items() if t.kind == "missing"),
                      key=lambda p: -len(p.parts))
    creations = sorted((p for p, t in targets.items() if t.kind != "missing"),
                       key=lambda p: len(p.parts))
    kept: list[str] = []
    failed: dict[str, str] = {}
    for path in targets:
        sweep_temps(path)
    for path in [*removals, *creations]:
        target = targets[path]
        if target.kind == "missing" and _inspect(path).kind == "missing":
            continue  # already gone (or its folder was replaced: nothing of ours is there)
        if target.hash is not None and target.kind != "dir" and target.hash not in contents:
            failed[str(path)] = "its saved version is missing or corrupted"
            continue
        try:
            kept += _restore(path, target, contents)
        except (OSError, BastionError) as exc:
            failed[str(path)] = getattr(exc, "message", None) or str(exc)
    return kept, failed


def sweep_temps(path: Path) -> None:
    """Remove what a killed atomic write of ``path`` left beside it (safefs's temp files)."""
    pattern = re.compile(r"\." + re.escape(path.name[:100]) + r"\.bastion-[0-9a-f]{12}\.tmp")
    try:
        with safefs.parent_dir(path) as dfd:
            for name in os.listdir(dfd):
                if pattern.fullmatch(name) and safefs.entry_at(dfd, name).kind == "file":
                    os.unlink(name, dir_fd=dfd)
    except (OSError, safefs.UnsafePathError):
        return


def _restore(path: Path, target: Side, contents: dict[str, bytes]) -> list[str]:
    """Make ``path`` match ``target``; returns paths deliberately left in place."""
    if target.kind == "missing":
        try:
            with safefs.parent_dir(path) as dfd:
                entry = safefs.entry_at(dfd, path.name)
                if entry.kind == "dir":
                    try:
                        os.rmdir(path.name, dir_fd=dfd)
                    except OSError:
                        return [str(path)]  # not empty: holds files someone else made
                elif entry.kind != "missing":
                    os.unlink(path.name, dir_fd=dfd)
                safefs.fsync_dir(dfd)
        except FileNotFoundError:
            pass
        return []
    with safefs.parent_dir(path, create=True) as dfd:
        entry = safefs.entry_at(dfd, path.name)
        if target.kind == "dir":
            if entry.kind not in ("dir", "missing"):
                os.unlink(path.name, dir_fd=dfd)
            if entry.kind != "dir":
                os.mkdir(path.name, 0o700, dir_fd=dfd)
            if target.mode is not None:
                os.chmod(path.name, target.mode, dir_fd=dfd, follow_symlinks=False)
            return []
        assert target.hash is not None
        data = contents[target.hash]
        if entry.kind == "dir":
            raise JournalError(f"cannot restore {path}: a directory is in the way")
        if target.kind == "symlink":
            if entry.kind != "missing":
                os.unlink(path.name, dir_fd=dfd)
            os.symlink(os.fsdecode(data), path.name, dir_fd=dfd)
            return []
        if entry.kind == "symlink":
            os.unlink(path.name, dir_fd=dfd)  # rename would replace it anyway; be explicit
        mode = target.mode if target.mode is not None else safefs.DEFAULT_FILE_MODE
        safefs.write_atomic_at(dfd, path.name, data, mode)
    return []
