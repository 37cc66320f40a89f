"""Reading and writing records as JSONL (``audit.logPath``, exports) and CSV (exports)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bastion import jsonsafe

from .canonical import canonical
from .chain import RECORD_FIELDS, VERSION, Entry


class MalformedRecord(Exception):
    def __init__(self, where: str, seq: int | None, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.seq = where, seq


def jsonl_line(entry: Entry) -> str:
    return canonical(entry.to_json()).decode("utf-8") + "\n"


def write_jsonl(entries: Iterable[Entry], out: TextIO) -> int:
    count = 0
    for entry in entries:
        out.write(jsonl_line(entry))
        count += 1
    return count


def write_csv(entries: Iterable[Entry], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    count = 0
    for entry in entries:
        header = entry.header()
        payload = "" if entry.payload is None else entry.payload.decode("utf-8")
        writer.writerow([*(header[f] for f in RECORD_FIELDS[:-2]), entry.mac, payload])
        count += 1
    return count


def _entry(doc: Any, where: str) -> Entry:
    if not isinstance(doc, dict):
        raise MalformedRecord(where, None, "not a JSON object")
    seq = doc.get("seq")
    try:
        payload = doc.get("payload")
        session = doc.get("session_id")
        entry = Entry(seq=int(seq), time=str(doc["time"]), category=str(doc["category"]),  # type: ignore[arg-type]
                      action=str(doc["action"]),
                      session_id=None if session is None else str(session),
                      payload_hash=str(doc["payload_hash"]), prev_mac=str(doc["prev_mac"]),
                      mac=str(doc["mac"]),
                      payload=None if payload is None else canonical(payload),
                      v=int(doc.get("v", VERSION)), where=where)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedRecord(where, seq if isinstance(seq, int) else None,
                              f"not a valid audit record ({exc})") from None
    return entry


def read_records(path: Path) -> Iterator[Entry]:
    """Records of a JSONL or CSV file, in file order; raises :class:`MalformedRecord`."""
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.read(1)
        fh.seek(0)
        if first in ("{", "") or path.suffix == ".jsonl":
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"line {number}"
                try:
                    parsed = jsonsafe.loads(line)
                except json.JSONDecodeError:
                    raise MalformedRecord(where, None, "not valid JSON") from None
                yield _entry(parsed, where)
            return
        for number, row in enumerate(csv.DictReader(fh), start=2):
            where = f"line {number}"
            doc: dict[str, Any] = dict(row)
            try:
                doc["payload"] = jsonsafe.loads(row["payload"]) if row.get("payload") else None
                doc["session_id"] = row.get("session_id") or None
            except (json.JSONDecodeError, KeyError):
                raise MalformedRecord(where, None, "payload is not valid JSON") from None
            yield _entry(doc, where)


def last_seq(path: Path) -> int | None:
    """Sequence number of the last complete record in a JSONL file (None: empty or missing)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return None
            fh.seek(max(0, size - 65536))
            tail = fh.read()
    except FileNotFoundError:
        return None
    for line in reversed(tail.rstrip(b"\n").split(b"\n")):
        try:
            return int(jsonsafe.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def append_lines(path: Path, lines: list[str]) -> None:
    """Append to the plaintext log file (created owner-only), completing a torn last line."""
    data = "".join(lines).encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def rewrite_blanked(path: Path, session_id: str) -> int:
    """Blank the payloads of one session in a JSONL file (privacy deletion); returns the count."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    out = io.StringIO()
    changed = 0
    for line in text.splitlines(keepends=True):
        try:
            doc = jsonsafe.loads(line)
        except json.JSONDecodeError:
            out.write(line)
            continue
        if isinstance(doc, dict) and doc.get("session_id") == session_id and doc.get("payload"):
            doc["payload"] = None
            changed += 1
            out.write(canonical(doc).decode("utf-8") + "\n")
        else:
            out.write(line)
    if changed:
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(out.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    return changed


def _segment_suffix(name: str, base: str) -> int | None:
    rest = name[len(base) + 1:] if name.startswith(base + ".") else ""
    return int(rest) if len(rest) == 12 and rest.isdigit() else None


def rotated_segments(path: Path) -> list[Path]:
    """Earlier parts of a rotated ``logPath`` file (``NAME.<last seq, 12 digits>``), oldest
    first; together with ``path`` they hold one unbroken chain."""
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found = [(n, _segment_suffix(n, path.name)) for n in names]
    return [path.parent / n for n, seq in sorted(found, key=lambda f: f[1] or 0)
            if seq is not None]


def rotate(path: Path) -> Path | None:
    """Move the ``logPath`` file aside (named by its last record); the next record starts a
    new file whose first ``prev_mac`` links to the last one here."""
    seq = last_seq(path)
    if seq is None:
        return None
    target = path.with_name(f"{path.name}.{seq:012d}")
    os.rename(path, target)
    return target


def move_aside(path: Path) -> list[Path]:
    """Rename the ``logPath`` file and its rotated parts to ``*.before-restore-<time>``
    (kept as evidence; the log starts a new file)."""
    import time

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved = []
    for part in [*rotated_segments(path), path]:
        if part.exists():
            target = part.with_name(f"{part.name}.before-restore-{stamp}")
            os.rename(part, target)
            moved.append(target)
    return moved
