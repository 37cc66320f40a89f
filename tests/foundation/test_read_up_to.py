"""``fsutil.read_up_to`` reads as much as a whole read would — a file that grew after its
``fstat``, one that reports 0 bytes (``/proc``), the limit — while asking first only for the
size ``fstat`` reported (so no ``limit``-sized buffer per file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.fsutil import read_up_to

_CONTENT = bytes(range(256)) * 4


@pytest.mark.parametrize(("reported", "limit", "expected"), [
    (1024, 10_000, 1024), (100, 10_000, 1024), (0, 10_000, 1024), (1024, 50, 50),
    (49, 50, 50), (2000, 10_000, 1024), (1023, 1024, 1024), (None, 10_000, 1024),
    (None, 1, 1)])
def test_reads_what_a_whole_read_would(tmp_path: Path, reported: int | None, limit: int,
                                       expected: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(_CONTENT)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_up_to(fd, limit, reported) == _CONTENT[:expected]
    finally:
        os.close(fd)


def test_a_file_that_reports_no_size() -> None:
    fd = os.open("/proc/self/status", os.O_RDONLY)
    try:
        assert os.fstat(fd).st_size == 0
        assert b"Name:" in read_up_to(fd, 1 << 20)
    finally:
        os.close(fd)


def test_the_scan_reads_proc_files_and_large_ones_whole(tmp_path: Path) -> None:
    from bastion.cli.scan_run import _read_file

    status = _read_file(Path("/proc/self/status"))
    assert status is not None and "Name:" in status
    big = tmp_path / "big.txt"
    big.write_text("token = ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8\n" * 1000)
    assert _read_file(big) == big.read_text()
