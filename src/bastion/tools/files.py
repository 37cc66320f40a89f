"""Read-only file tools: ``read_file``, ``list_dir``, ``glob``, ``grep``.

Each tool declares the path it reads (:meth:`Tool.requests`); the gate authorises it and
hands over the canonical path. Directory walks never follow symlinks and show only entries
the gate's ``granted.readable`` admits, so a link or a denied file never leaks through a
listing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import re2

from bastion import safefs
from bastion.datamodel import Field
from bastion.fsutil import regular_files
from bastion.policy import Request

from .base import Granted, Tool, ToolArgs, ToolContext, ToolResult
from .globbing import GlobError, compile_glob, walk_entries

MAX_READ_BYTES = 2_000_000
MAX_LIST_ENTRIES = 1_000
MAX_MATCHES = 500
SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__", ".mypy_cache", ".pytest_cache"}


def _looks_binary(sample: bytes) -> bool:
    return b"\x00" in sample[:8192]


def walk_files(granted: Granted, root: Path) -> Iterator[Path]:
    """Regular files under ``root`` that the gate admits, without following links."""
    return (path for path in regular_files(root, SKIP_DIRS) if granted.readable(path))


def _read(args_path: str) -> list[Request]:
    return [Request(args_path, "read")]


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File to read, relative to the workspace or absolute")
    offset: int | None = Field(default=None, ge=1, description="First line to return (1-based)")
    limit: int | None = Field(default=None, ge=1, description="Number of lines to return")


class ReadFile(Tool[ReadFileArgs]):
    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = "Read a text file. Returns numbered lines."
    Args = ReadFileArgs

    def requests(self, args: ReadFileArgs, ctx: ToolContext) -> list[Request]:
        return _read(args.path)

    def execute(self, args: ReadFileArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        path = granted.path()
        if path.is_dir():
            return ToolResult(f"{args.path} is a directory; use list_dir", is_error=True)
        try:
            with safefs.open_regular(path) as fh:  # never waits on a FIFO
                if _looks_binary(fh.read(8192)):
                    return ToolResult(f"{args.path} is a binary file; not shown", is_error=True)
                fh.seek(0)
                body, digest = _numbered_lines(fh, args.offset or 1, args.limit)
        except FileNotFoundError:
            return ToolResult(f"{args.path}: no such file", is_error=True)
        except OSError as exc:
            return ToolResult(f"{args.path}: cannot read ({exc.strerror})", is_error=True)
        # edit_file refuses to edit a file that changed since this read
        ctx.extras.setdefault("read_hashes", {})[str(path)] = digest
        return ToolResult(body, details={"path": granted.show(path), "access": "read"})


def _numbered_lines(fh: BinaryIO, first: int, limit: int | None) -> tuple[str, str]:
    """Lines ``first``.. (``limit`` of them) of the whole file, streamed; at most
    MAX_READ_BYTES of output, with a marker saying where it stopped; and the file's SHA-256."""
    digest = hashlib.sha256()
    out: list[str] = []
    size = 0
    number = 0
    stopped: str | None = None
    for raw in iter(lambda: fh.readline(MAX_READ_BYTES), b""):
        digest.update(raw)
        number += 1
        if stopped is not None or number < first:
            continue
        if limit is not None and number >= first + limit:
            stopped = ""  # the requested range is complete; keep hashing
            continue
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        size += len(line) + 8
        if size > MAX_READ_BYTES:
            stopped = (f"[output stops before line {number}: more than {MAX_READ_BYTES} bytes "
                       "shown; read on with offset/limit]")
            continue
        out.append(f"{number:>6}\t{line}")
    if number == 0:
        return "(empty file)", digest.hexdigest()
    if not out and number < first:
        return (f"(offset {first} is past the end: the file has {number} lines)",
                digest.hexdigest())
    body = "\n".join(out) + (f"\n{stopped}" if stopped else "")
    return body, digest.hexdigest()


class ListDirArgs(ToolArgs):
    path: str = Field(default=".", description="Directory to list (default: the workspace)")


class ListDir(Tool[ListDirArgs]):
    name: ClassVar[str] = "list_dir"
    description: ClassVar[str] = "List a directory. Directories end with '/', symlinks with '@'."
    Args = ListDirArgs

    def requests(self, args: ListDirArgs, ctx: ToolContext) -> list[Request]:
        return _read(args.path)

    def execute(self, args: ListDirArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        path = granted.path()
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except FileNotFoundError:
            return ToolResult(f"{args.path}: no such directory", is_error=True)
        except NotADirectoryError:
            return ToolResult(f"{args.path} is a file; use read_file", is_error=True)
        except OSError as exc:
            return ToolResult(f"{args.path}: cannot list ({exc.strerror})", is_error=True)
        lines = []
        for entry in entries[:MAX_LIST_ENTRIES]:
            if entry.is_symlink():
                lines.append(entry.name + "@")
            elif entry.is_dir(follow_symlinks=False):
                lines.append(entry.name + "/")
            else:
                lines.append(entry.name)
        if len(entries) > MAX_LIST_ENTRIES:
            lines.append(f"[{len(entries) - MAX_LIST_ENTRIES} more entries not shown]")
        return ToolResult("\n".join(lines) or "(empty directory)",
                          details={"path": granted.show(path), "access": "list"})


class GlobArgs(ToolArgs):
    pattern: str = Field(description="Glob relative to the workspace, e.g. 'src/**/*.py'")


class Glob(Tool[GlobArgs]):
    name: ClassVar[str] = "glob"
    description: ClassVar[str] = "Find files in the workspace matching a glob pattern."
    Args = GlobArgs

    def requests(self, args: GlobArgs, ctx: ToolContext) -> list[Request]:
        return _read(".")  # the workspace: the pattern is relative to it

    def execute(self, args: GlobArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        pattern = args.pattern
        if os.path.isabs(pattern) or ".." in Path(pattern).parts:
            return ToolResult("glob patterns must be relative to the workspace and contain no '..'",
                              is_error=True, details={"denied": True, "rule": "workspace-confinement"})
        try:
            compiled = compile_glob(pattern)
        except GlobError as exc:
            return ToolResult(str(exc), is_error=True)
        root = granted.path()
        hits = [rel for rel, is_dir, is_link in walk_entries(str(root), SKIP_DIRS)
                if compiled.matches(rel, is_dir, is_link)]  # one walk, linear-time matching
        found = []
        for match in sorted(root / rel if rel else root for rel in hits):
            if not granted.readable(match):  # judged as written: a link out is refused
                continue
            path = Path(os.path.realpath(match))
            found.append(granted.show(path) + ("/" if path.is_dir() else ""))
            if len(found) >= MAX_LIST_ENTRIES:
                found.append("[more matches not shown]")
                break
        return ToolResult("\n".join(found) or "(no matches)")


class GrepArgs(ToolArgs):
    pattern: str = Field(description="Regular expression (RE2 syntax)")
    path: str = Field(default=".", description="File or directory to search")
    glob: str | None = Field(default=None, description="Only files whose name matches this glob")


class Grep(Tool[GrepArgs]):
    name: ClassVar[str] = "grep"
    description: ClassVar[str] = "Search file contents with a regular expression; prints file:line: text."
    Args = GrepArgs

    def requests(self, args: GrepArgs, ctx: ToolContext) -> list[Request]:
        return _read(args.path)

    def execute(self, args: GrepArgs, ctx: ToolContext, granted: Granted) -> ToolResult:
        try:
            regex = re2.compile(args.pattern)
        except re2.error as exc:
            return ToolResult(f"invalid pattern: {exc}", is_error=True)
        root = granted.path()
        files = [root] if root.is_file() else walk_files(granted, root)
        out: list[str] = []
        for file in files:
            if args.glob and not file.match(args.glob):
                continue
            try:
                with safefs.open_regular(file, follow=True) as fh:  # a line at a time
                    if _looks_binary(fh.read(8192)):
                        continue
                    fh.seek(0)
                    for number, raw in enumerate(iter(lambda: fh.readline(MAX_READ_BYTES),
                                                      b""), 1):
                        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                        if regex.search(line):
                            out.append(f"{granted.show(file)}:{number}: {line[:300]}")
                            if len(out) >= MAX_MATCHES:
                                out.append(f"[more matches not shown: stopped at "
                                           f"{MAX_MATCHES}]")
                                return ToolResult("\n".join(out))
            except OSError:
                continue
        return ToolResult("\n".join(out) or "(no matches)")


def read_only_tools() -> list[Tool]:  # type: ignore[type-arg]
    return [ReadFile(), ListDir(), Glob(), Grep()]
