"""``verify --file`` on the ``audit.logPath`` JSONL file and on exports."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Light, fill, open_light, write_settings


@pytest.fixture
def logged(bastion_home: Path, tmp_path: Path, master: bytes) -> Iterator[tuple[Light, Path]]:
    log_file = tmp_path / "audit.jsonl"
    write_settings(bastion_home, {"audit": {"logPath": str(log_file)}})
    rt = open_light(bastion_home, master)
    fill(rt)
    yield rt, log_file
    rt.close()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_log_file_mirrors_the_database(logged: tuple[Light, Path]) -> None:
    rt, log_file = logged
    docs = [json.loads(line) for line in _lines(log_file)]
    assert [d["seq"] for d in docs] == list(range(1, 13))
    assert {"mac", "prev_mac", "payload_hash", "payload"} <= set(docs[0])
    assert log_file.stat().st_mode & 0o077 == 0
    report = rt.audit.verify_file(log_file)
    assert report.ok, report.summary()
    assert report.checked == 12 and report.checkpoint_seq == 12


def _tamper(log_file: Path, edit) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(log_file)
    edit(lines)
    log_file.write_text("".join(lines))


def _set(lines: list[str], index: int, **changes: object) -> None:
    doc = json.loads(lines[index])
    doc.update(changes)
    lines[index] = json.dumps(doc) + "\n"


@pytest.mark.parametrize(("name", "edit", "seq", "kind"), [
    ("modified field", lambda ls: _set(ls, 4, action="result"), 5, "modified"),
    ("modified payload", lambda ls: _set(ls, 6, payload={"name": "x"}), 7, "modified"),
    ("deleted", lambda ls: ls.pop(3), 4, "deleted"),
    ("deleted first", lambda ls: ls.pop(0), 1, "deleted"),
    ("inserted", lambda ls: ls.insert(5, ls[4].replace('"call"', '"forged"')), 5, "inserted"),
    ("duplicated", lambda ls: ls.insert(9, ls[2]), 3, "inserted"),
    ("swapped", lambda ls: ls.__setitem__(slice(7, 9), [ls[8], ls[7]]), 9, "reordered"),
    ("truncated", lambda ls: ls.__delitem__(slice(9, None)), 10, "truncated"),
    ("garbage line", lambda ls: ls.insert(2, "not json\n"), None, "modified"),
])
def test_log_file_tamper_classes(logged: tuple[Light, Path], name: str, edit, seq: int | None,  # type: ignore[no-untyped-def]
                                 kind: str) -> None:
    rt, log_file = logged
    _tamper(log_file, edit)
    report = rt.audit.verify_file(log_file)
    assert not report.ok, name
    assert (report.first_bad_seq, report.kind) == (seq, kind), report.summary()


def test_log_file_rolled_back_to_older_copy(logged: tuple[Light, Path], tmp_path: Path) -> None:
    rt, log_file = logged
    old = log_file.read_bytes()
    fill(rt, 4)
    log_file.write_bytes(old)
    report = rt.audit.verify_file(log_file)
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 13, "truncated")


def test_log_file_after_session_deletion(logged: tuple[Light, Path]) -> None:
    rt, log_file = logged
    rt.audit.blank_session("sess-b")
    rt.audit.checkpoint()
    assert "f1.txt" not in log_file.read_text()
    report = rt.audit.verify_file(log_file)
    assert report.ok, report.summary()
    assert report.blanked == 6
    assert rt.audit.verify().ok


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exports_verify(rt: Light, tmp_path: Path, fmt: str) -> None:
    fill(rt)
    out = tmp_path / f"export.{fmt}"
    buffer = io.StringIO()
    assert rt.audit.export(buffer, fmt) == 12
    out.write_text(buffer.getvalue())
    report = rt.audit.verify_file(out)
    assert report.ok, report.summary()
    # an export taken earlier is allowed to end before the checkpoint, but not to be altered
    fill(rt, 3)
    assert rt.audit.verify_file(out).ok
    out.write_text(buffer.getvalue().replace("f4.txt", "f5.txt"))
    report = rt.audit.verify_file(out)
    assert (report.ok, report.first_bad_seq) == (False, 5)


def test_session_export_needs_partial(rt: Light, tmp_path: Path) -> None:
    fill(rt)
    out = tmp_path / "session.jsonl"
    with out.open("w") as fh:
        assert rt.audit.export(fh, "jsonl", session_id="sess-a") == 6
    assert not rt.audit.verify_file(out).ok  # gaps look like deletions in a full check
    assert rt.audit.verify_file(out, partial=True).ok


def test_foreign_file_is_rejected(rt: Light, tmp_path: Path) -> None:
    fill(rt)
    out = tmp_path / "x.jsonl"
    with out.open("w") as fh:
        rt.audit.export(fh)
    text = out.read_text()
    out.write_text("".join(
        json.dumps({**json.loads(line), "mac": "0" * 64}) + "\n" for line in text.splitlines()))
    report = rt.audit.verify_file(out)
    assert not report.ok and "this home" in report.problem
