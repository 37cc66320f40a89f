"""`bastion scan` without Typer: reading files, directories and stdin, and the scan itself.

Contract (ARCHITECTURE §3.3): ``bastion scan [PATH|-] [--format text|json] [--batch]`` prints
findings (JSON: a list of ``{"rule_id", "start", "end", "line", "confidence"}``, plus ``"path"``
for directory scans; offsets are characters into the decoded text) and exits 1 when something
is found, 0 otherwise. ``--batch`` reads JSON lines ``{"id", "text"}`` on stdin and writes one
line ``{"id", "findings": [...]}`` per input. ``bastion redact [PATH|-]`` prints the text with
every secret replaced.

This module imports no Typer: the console entry point runs ``scan`` in its common forms through
:data:`SCAN` and :func:`run_scan` (cli/_fastargs.py), so a scan starts with the privacy package
and little else; ``bastion scan --help`` and every unusual form go through Typer (cli/scan.py),
which calls the same :func:`run_scan`.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from bastion.errors import BastionError
from bastion.fsutil import read_up_to, regular_files
from bastion.privacy import (
    Finding,
    Rule,
    SecretScanner,
    decode_bytes,
    default_rules,
    load_gitleaks_toml,
    load_rules,
    scan_views,
)

from ._fastargs import Command
from ._fastargs import parse as parse_args

SCAN = Command("scan", values={"--format": "format", "--rules": "rules"},
               flags={"--batch": "batch"}, arguments=(0, 1))

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache",
                        ".pytest_cache", ".tox", ".venv", "venv"})
_MAX_FILE_BYTES = 64 * 1024 * 1024


class ScanInputError(BastionError):
    """The input to scan/redact cannot be read (exit status 2, distinct from "found")."""

    exit_code = 2


def _load_user_rules(path: Path) -> list[Rule]:
    import tomllib  # only with --rules

    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ScanInputError(f"cannot read rule file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScanInputError(f"rule file {path} is not valid TOML: {exc}") from None
    tables = doc.get("rules", [])
    bastion_keys = {"positive", "negative", "confidence", "window", "minClasses", "stopwords"}
    is_bastion = any(isinstance(t, dict) and bastion_keys & set(t) for t in tables)
    return load_rules(path) if is_bastion else load_gitleaks_toml(path)


def _scanner(rules_file: Path | None) -> SecretScanner:
    if rules_file is None:
        from bastion.privacy import default_scanner

        return default_scanner()
    return SecretScanner([*default_rules(), *_load_user_rules(rules_file)])


def _read_stdin() -> str:
    buf = getattr(sys.stdin, "buffer", None)
    if buf is not None:
        return decode_bytes(buf.read()) or ""
    return sys.stdin.read()


def _read_file(path: Path) -> str | None:
    """The decoded text of ``path`` (UTF-8, UTF-16, UTF-32), or None for a binary file.

    Only regular files are read: a FIFO, device or socket is refused, never waited on (opened
    non-blocking, checked with ``fstat`` on the open descriptor, so a swap after a check
    cannot make it block).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ScanInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ScanInputError(f"{path} is not a regular file (FIFO, device or socket); "
                                 "not read")
        try:
            data = read_up_to(fd, _MAX_FILE_BYTES + 1, st.st_size)
        except OSError as exc:
            raise ScanInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return decode_bytes(data)


def _mask(secret: str) -> str:
    if len(secret) >= 16:
        return secret[:4] + "…"
    return "…"


def _text_line(label: str, f: Finding, text: str) -> str:
    column = f.start - (text.rfind("\n", 0, f.start) + 1) + 1
    return (f"{label}:{f.line}:{column}: {f.rule_id} ({f.confidence}) [{f.start}:{f.end}] "
            f"{_mask(f.secret)}")


class _Progress:
    """A transient progress bar on a terminal (rich, imported only then: ~30 ms); elsewhere
    nothing but the warnings and the summary, written plainly."""

    def __init__(self, total: int) -> None:
        self._bar: Any = None
        self._console: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._console = Console(stderr=True)
            self._bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[name]}"), console=self._console,
                                 transient=True, disable=not self._console.is_terminal)
            self._bar.start()
            self._task = self._bar.add_task("scan", total=total, name="")

    def advance(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, name=name)
            self._bar.advance(self._task)

    def note(self, text: str, style: str) -> None:
        """A line on stderr (through the bar's console while it is shown)."""
        if self._console is not None:
            self._console.print(text, markup=False, style=style)
        else:
            from .output import err

            err.print(text, markup=False, style=style)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _scan_directory(root: Path, scanner: SecretScanner, fmt: str) -> int:
    files = list(regular_files(root, _SKIP_DIRS))
    results: list[dict[str, Any]] = []
    count = with_secrets = skipped = unreadable = 0
    progress = _Progress(len(files))
    try:
        for path in files:
            shown = str(path)
            progress.advance(path.name)
            try:
                text = _read_file(path)
            except ScanInputError as exc:
                progress.note(f"warning: {exc.message}", "yellow")
                unreadable += 1
                continue
            if text is None:
                skipped += 1
                continue
            found = scan_views(scanner, text)
            count += len(found)
            with_secrets += bool(found)
            for f in found:
                if fmt == "json":
                    results.append({**f.to_dict(), "path": shown})
                else:
                    sys.stdout.write(_text_line(shown, f, text) + "\n")
    finally:
        progress.stop()
    if fmt == "json":
        sys.stdout.write(json.dumps(results) + "\n")
    else:
        scanned = len(files) - skipped - unreadable
        progress.note(f"{count} secret(s) in {with_secrets} file(s); {scanned} file(s) scanned, "
                      f"{skipped} binary and {unreadable} unreadable skipped", "dim")
    sys.stdout.flush()
    return 1 if count else 0


def _scan_batch(scanner: SecretScanner) -> int:
    found = False
    stdin = sys.stdin
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError("expected an object with a string 'text'")
        except (ValueError, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else exc
            sys.stdout.write(json.dumps({"id": None, "error": f"invalid input line: {why}"}) + "\n")
            sys.stdout.flush()
            continue
        findings = [f.to_dict() for f in scan_views(scanner, item["text"])]
        found = found or bool(findings)
        sys.stdout.write(json.dumps({"id": item.get("id"), "findings": findings}) + "\n")
        sys.stdout.flush()
    return 1 if found else 0


def parse(argv: list[str]) -> tuple[tuple[str, str, bool, Path | None], bool] | None:
    """``argv`` (without the program name) as a ``scan`` invocation — :func:`run_scan`'s
    arguments and whether ``--debug`` was given — or ``None`` (Typer's)."""
    got = parse_args(argv, SCAN)
    if got is None:
        return None
    rules = got.options.get("rules")
    return (got.arguments[0] if got.arguments else "-", got.options.get("format", "text"),
            "batch" in got.flags, None if rules is None else Path(rules)), got.debug


def run_scan(path: str = "-", format: str = "text", batch: bool = False,
             rules: Path | None = None) -> int:
    """``bastion scan``: print the findings; the exit status (1: something was found)."""
    fmt = format.lower()
    if fmt not in ("text", "json"):
        raise ScanInputError(f"unknown format {format!r}", hint="use --format text or json")
    scanner = _scanner(rules)
    if batch:
        if path != "-":
            raise ScanInputError("--batch reads stdin; do not give a PATH")
        return _scan_batch(scanner)
    if path == "-":
        text: str | None = _read_stdin()
        label = "-"
    else:
        p = Path(path)
        if p.is_dir():
            return _scan_directory(p, scanner, fmt)
        if not p.exists() and not p.is_symlink():
            raise ScanInputError(f"no such file or directory: {path}")
        text = _read_file(p)
        label = path
        if text is None:
            if fmt == "json":
                sys.stdout.write("[]\n")
            else:
                sys.stderr.write(f"{path}: binary file skipped\n")
            return 0
    findings = scan_views(scanner, text or "")
    if fmt == "json":
        sys.stdout.write(json.dumps([f.to_dict() for f in findings]) + "\n")
    else:
        for f in findings:
            sys.stdout.write(_text_line(label, f, text or "") + "\n")
        sys.stderr.write(f"{len(findings)} secret(s) found\n")
    sys.stdout.flush()
    return 1 if findings else 0


