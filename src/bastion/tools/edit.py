"""Mutating file tools: ``write_file``, ``edit_file``, ``delete_file``, ``move_file``.

Every call: the tool declares the paths it changes (:meth:`Tool.requests`), the gate decides
on their canonical form (asking if needed) and hands them over, the pre-image goes into the
journal, and only then the file is changed — through directory fds opened with
``O_NOFOLLOW`` (:mod:`bastion.safefs`), so a symlink swapped in after the check cannot
redirect the change. Writes are atomic and keep the file's mode; a file with more than one
hard link is refused (writing it would change the other names' content too, possibly outside
the grant).

Seams for other layers (``ToolContext.extras``):

- ``"journal"``: the :class:`~bastion.journal.Journal`; without one, nothing is changed.
- ``"read_hashes"``: ``{canonical path: sha256}`` of what the model last read or wrote;
  ``edit_file`` refuses when the file no longer matches.
- ``"restore_placeholders"``: ``callable(str) -> str`` turning privacy placeholders back into
  the real values, applied to content bound for files inside the workspace only.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from bastion import safefs
from bastion.datamodel import Field
from bastion.journal import FileChange, Journal
from bastion.policy import Request, canonical, display_path, is_within

from .base import Granted, Refused, Tool, ToolArgs, ToolContext, ToolResult

MAX_WRITE_BYTES = 10_000_000


_Refused = Refused


def read_hashes(ctx: ToolContext) -> dict[str, str]:
    hashes: dict[str, str] = ctx.extras.setdefault("read_hashes", {})
    return hashes


def _journal(ctx: ToolContext) -> Journal:
    journal = ctx.extras.get("journal")
    if journal is None:
        raise _Refused("no change journal is available, so no file can be changed "
                       "(every change must be undoable)")
    return journal  # type: ignore[no-any-return]


def _restore(ctx: ToolContext, path: Path, text: str) -> str:
    restore: Callable[[str], str] | None = ctx.extras.get("restore_placeholders")
    if restore is not None and is_within(path, ctx.workspace):
        return restore(text)
    return text


def _missing_dirs(folder: Path) -> list[Path]:
    """Ancestors of (and including) ``folder`` that do not exist, outermost first."""
    missing: list[Path] = []
    current = folder
    while not os.path.lexists(current):
        missing.append(current)
        current = current.parent
    return list(reversed(missing))


def _current(path: Path) -> tuple[safefs.Entry, bytes | None]:
    """What is at ``path`` now, read safely; refuses links, specials and hard-linked files."""
    try:
        with safefs.parent_dir(path) as dfd:
            entry = safefs.entry_at(dfd, path.name)
            if entry.kind == "missing":
                return entry, None
            if entry.kind == "symlink":
                raise _Refused(f"{path.name} is a symlink; change the file it points to instead")
            if entry.kind == "dir":
                raise _Refused(f"{path.name} is a directory")
            if entry.kind != "file":
                raise _Refused(f"{path.name} is not a regular file")
            return entry, safefs.read_at(dfd, path.name)
    except FileNotFoundError:
        return safefs.MISSING, None


def _dir_changes(dirs: list[Path]) -> list[FileChange]:
    return [FileChange(d, before_kind="missing", after_kind="dir",
                       after_mode=safefs.DEFAULT_DIR_MODE) for d in dirs]


def _hardlink_check(path: Path, entry: safefs.Entry) -> None:
    if entry.nlink > 1:
        raise _Refused(f"{path.name} has {entry.nlink} hard links; writing it would also change "
                       "the other names (possibly outside the granted folders), so it is refused")


def write_bytes(ctx: ToolContext, path: Path, data: bytes, tool: str,
                expected_before: str | None = None) -> tuple[str, bool]:
    """Journal, then atomically write ``data`` to canonical ``path``. Returns (op id, created)."""
    journal = _journal(ctx)
    missing = _missing_dirs(path.parent)
    entry, before = _current(path) if not missing else (safefs.MISSING, None)
    if before is not None:
        _hardlink_check(path, entry)
    if expected_before is not None and (before is None or safefs.sha256(before) != expected_before):
        raise _Refused(f"{path.name} changed while it was being edited; read it again")
    mode = entry.mode if entry.mode is not None else safefs.DEFAULT_FILE_MODE
    digest = safefs.sha256(data)
    changes = [*_dir_changes(missing),
               FileChange(path, before=before, before_mode=entry.mode, after_hash=digest,
                          after_mode=mode)]
    op_id = journal.record_change_set(ctx.session_id, ctx.tool_call_id, tool, changes)
    try:
        with safefs.parent_dir(path, create=bool(missing)) as dfd:
            safefs.write_atomic_at(dfd, path.name, data, mode)
    except BaseException:
        journal.mark_failed(op_id)
        raise
    read_hashes(ctx)[str(path)] = digest
    return op_id, before is None


def _diff(path: str, old: bytes | None, new: bytes) -> str:
    old_lines = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = new.decode("utf-8", "replace").splitlines(keepends=True)
    diff = difflib.unified_diff(old_lines, new_lines, "a/" + path if old is not None
                                else "/dev/null", "b/" + path, n=2)
    return "".join(list(diff)[:400])


def _preview(path: Path, shown: str, new: Callable[[bytes | None], bytes]) -> Callable[[], str]:
    def make() -> str:
        try:
            _, old = _current(path)
            return _diff(shown, old, new(old))
        except (_Refused, OSError, ValueError) as exc:
            return f"(no preview: {exc})"
    return make


def _target(ctx: ToolContext, raw: str) -> Path | None:
    """The canonical form of ``raw`` for a preview (None: not a valid path; the gate says so)."""
    try:
        return canonical(raw, ctx.workspace)
    except ValueError:
        return None


def _show(ctx: ToolContext, path: Path) -> str:
    return display_path(path, ctx.workspace)


def _content(ctx: ToolContext, target: Path | None, text: str) -> bytes:
    return _restore(ctx, target, text).encode("utf-8") if target else text.encode("utf-8")


def _run(body: Callable[[], ToolResult]) -> ToolResult:
    try:
        return body()
    except _Refused as exc:
        return ToolResult(str(exc), is_error=True)
    except safefs.UnsafePathError as exc:
        return ToolResult(f"refused: {exc}", is_error=True, details={"denied": True,
                                                                     "rule": "unsafe-path"})
    except OSError as exc:
        return ToolResult(f"failed: {exc.strerror or exc}", is_error=True)


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File to create or overwrite (relative to the workspace)")
    content: str = Field(description="The complete new content of the file")


class WriteFile(Tool[WriteFileArgs]):
    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = ("Create a file or replace its whole content. Missing folders "
                                  "are created. Every change can be undone by the user.")
    Args = WriteFileArgs
    read_only: ClassVar[bool] = False

    def requests(self, args: WriteFileArgs, ctx: ToolContext) -> list[Request]:
        target = _target(ctx, args.path)
        if len(args.content) > MAX_WRITE_BYTES:  # refused before anyone is asked
            raise _Refused(f"content too large ({len(args.content)} characters; "
                           f"limit {MAX_WRITE_BYTES} bytes)")
        preview = None if target is None else _preview(
            target, _show(ctx, target), lambda _: _content(ctx, target, args.content))
        return [Request(args.path, "write", preview=preview)]

    def execute(self, args: WriteFileArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        def body() -> ToolResult:
            path = granted.path()
            data = _restore(ctx, path, args.content).encode("utf-8")
            if len(data) > MAX_WRITE_BYTES:
                raise _Refused(f"content too large ({len(data)} bytes; limit {MAX_WRITE_BYTES})")
            op_id, created = write_bytes(ctx, path, data, self.name)
            verb = "created" if created else "replaced"
            return ToolResult(f"{verb} {granted.show(path)} ({len(data)} bytes)",
                              details={"path": granted.show(path), "access": "write",
                                       "operation": op_id})
        return _run(body)


class EditFileArgs(ToolArgs):
    path: str = Field(description="File to edit (read it first)")
    old_text: str = Field(description="Exact text to replace; must occur exactly once "
                                      "unless replace_all is set")
    new_text: str = Field(description="Replacement text")
    replace_all: bool = Field(default=False, description="Replace every occurrence")


def _apply_edit(content: bytes, old: str, new: str, replace_all: bool, name: str) -> bytes:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(f"{name} is not UTF-8 text; use write_file") from None
    if not old:
        raise _Refused("old_text is empty")
    count = text.count(old)
    if count == 0:
        raise _Refused(f"old_text was not found in {name}")
    if count > 1 and not replace_all:
        raise _Refused(f"old_text occurs {count} times in {name}; include more context to make "
                       "it unique, or set replace_all")
    return text.replace(old, new).encode("utf-8")


class EditFile(Tool[EditFileArgs]):
    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = ("Replace exact text in a file you have read. Fails if the file "
                                  "changed since you read it.")
    Args = EditFileArgs
    read_only: ClassVar[bool] = False

    def _edited(self, args: EditFileArgs, ctx: ToolContext,
                target: Path) -> Callable[[bytes | None], bytes]:
        old = _restore(ctx, target, args.old_text)
        new = _restore(ctx, target, args.new_text)

        def edited(current: bytes | None) -> bytes:
            if current is None:
                raise _Refused(f"{args.path}: no such file")
            return _apply_edit(current, old, new, args.replace_all, args.path)
        return edited

    def requests(self, args: EditFileArgs, ctx: ToolContext) -> list[Request]:
        target = _target(ctx, args.path)
        preview = None if target is None else _preview(target, _show(ctx, target),
                                                       self._edited(args, ctx, target))
        return [Request(args.path, "write", preview=preview)]

    def execute(self, args: EditFileArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        def body() -> ToolResult:
            path = granted.path()
            edited = self._edited(args, ctx, path)
            _, current = _current(path)
            if current is None:
                raise _Refused(f"{args.path}: no such file; use write_file to create it")
            seen = read_hashes(ctx).get(str(path))
            digest = safefs.sha256(current)
            if seen is None:
                raise _Refused(f"read {args.path} with read_file before editing it")
            if seen != digest:
                raise _Refused(f"{args.path} changed since you last read it; read it again "
                               "before editing")
            data = edited(current)
            op_id, _ = write_bytes(ctx, path, data, self.name, expected_before=digest)
            return ToolResult(f"edited {granted.show(path)}",
                              details={"path": granted.show(path), "access": "write",
                                       "operation": op_id})
        return _run(body)


class DeleteFileArgs(ToolArgs):
    path: str = Field(description="File to delete")


class DeleteFile(Tool[DeleteFileArgs]):
    name: ClassVar[str] = "delete_file"
    description: ClassVar[str] = "Delete a file (not a folder). The user can undo it."
    Args = DeleteFileArgs
    read_only: ClassVar[bool] = False

    def requests(self, args: DeleteFileArgs, ctx: ToolContext) -> list[Request]:
        return [Request(args.path, "write", preview=f"delete {args.path}")]

    def execute(self, args: DeleteFileArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        def body() -> ToolResult:
            path = granted.path()
            journal = _journal(ctx)
            entry, before = _current(path)
            if before is None:
                raise _Refused(f"{args.path}: no such file")
            op_id = journal.record_change_set(
                ctx.session_id, ctx.tool_call_id, self.name,
                [FileChange(path, before=before, before_mode=entry.mode)])
            try:
                with safefs.parent_dir(path) as dfd:
                    os.unlink(path.name, dir_fd=dfd)
                    safefs.fsync_dir(dfd)
            except BaseException:
                journal.mark_failed(op_id)
                raise
            read_hashes(ctx).pop(str(path), None)
            return ToolResult(f"deleted {granted.show(path)}",
                              details={"path": granted.show(path), "access": "write",
                                       "operation": op_id})
        return _run(body)


class MoveFileArgs(ToolArgs):
    source: str = Field(description="File to move or rename")
    destination: str = Field(description="New path (must not exist yet)")


class MoveFile(Tool[MoveFileArgs]):
    name: ClassVar[str] = "move_file"
    description: ClassVar[str] = ("Move or rename a file (not a folder). The destination must "
                                  "not exist; missing folders are created.")
    Args = MoveFileArgs
    read_only: ClassVar[bool] = False

    def requests(self, args: MoveFileArgs, ctx: ToolContext) -> list[Request]:
        what = f"move {args.source} → {args.destination}"
        return [Request(args.source, "write", name="source", preview=what),
                Request(args.destination, "write", name="destination", preview=what)]

    def execute(self, args: MoveFileArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        def body() -> ToolResult:
            src, dst = granted.path("source"), granted.path("destination")
            journal = _journal(ctx)
            entry, data = _current(src)
            if data is None:
                raise _Refused(f"{args.source}: no such file")
            if src == dst:
                raise _Refused("source and destination are the same file")
            missing = _missing_dirs(dst.parent)
            if not missing and _current(dst)[0].kind != "missing":
                raise _Refused(f"{args.destination} already exists; delete it first or "
                               "choose another name")
            digest = safefs.sha256(data)
            changes = [
                *_dir_changes(missing),
                FileChange(src, before=data, before_mode=entry.mode),
                FileChange(dst, after_hash=digest, after_mode=entry.mode)]
            op_id = journal.record_change_set(ctx.session_id, ctx.tool_call_id, self.name,
                                              changes)
            try:
                _move(src, dst, data, entry, bool(missing))
            except BaseException:
                journal.mark_failed(op_id)
                raise
            hashes = read_hashes(ctx)
            hashes.pop(str(src), None)
            hashes[str(dst)] = digest
            return ToolResult(f"moved {granted.show(src)} → {granted.show(dst)}",
                              details={"path": granted.show(dst), "source": granted.show(src),
                                       "access": "write", "operation": op_id})
        return _run(body)


def _move(src: Path, dst: Path, data: bytes, entry: safefs.Entry, create: bool) -> None:
    with safefs.parent_dir(src) as sfd, safefs.parent_dir(dst, create=create) as dfd:
        if safefs.entry_at(dfd, dst.name).kind != "missing":
            raise _Refused(f"{dst.name} appeared meanwhile; not overwritten")
        try:
            # rename(2) replaces silently; the check above and O_EXCL below narrow that window
            os.rename(src.name, dst.name, src_dir_fd=sfd, dst_dir_fd=dfd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            safefs.write_atomic_at(dfd, dst.name, data, entry.mode or safefs.DEFAULT_FILE_MODE)
            os.unlink(src.name, dir_fd=sfd)
        safefs.fsync_dir(dfd)
        safefs.fsync_dir(sfd)


def mutating_tools() -> list[Tool[Any]]:
    return [WriteFile(), EditFile(), DeleteFile(), MoveFile()]
