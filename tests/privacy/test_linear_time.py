"""Every redaction path runs in linear time on hostile input.

Each shape below made one of the former patterns restart at every position (quadratic): a long
run of letters before ``://``, ``![`` / ``<img`` without a closing bracket, keyword-dense text…
The input is each shape repeated to SEGMENT bytes, so a quadratic path would need minutes;
the bound asserted is a generous sanity bound (throughput is measured in
bench/bench_redaction.py --pathological). ``BASTION_PATHO_MB=50`` runs the 50 MB soak.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import pytest

from bastion.audit.redact import scrub
from bastion.privacy import PrivacyFilter
from bastion.rights.secrets import SecretScrubber, scrub_settings
from bastion.rights.telemetry import write_crash_report

SHAPES = [
    "a", "a://", "[", "![", "<img ", "<img src=", "/a", ":", "=", "@", "\\u00", "%4", "&#",
    "A1b2", "ghp_", "-----BEGIN ", "password=", "key: ", '"', "'", "0123456789abcdef", "+/",
    "eyJ", "x.", "\\\n", " \n", "1: ", "a:1:", "https://a.b/", "[[SECRET:", "](", "a@b.",
    "+1 ", "4111 ", "GB82 ", "://:", "a://b:c@", "QUJD", "%41", "&amp;", "\\x41", "-----",
    "\\u0041", "\\n", "\\\"", "aaaa\" + \"", "abcdefghijkl\n", "eHl6",
]
TOTAL_MB = float(os.environ.get("BASTION_PATHO_MB", "2"))
SEGMENT = int(TOTAL_MB * 1_000_000 / len(SHAPES))
MIN_MB_PER_S = 0.5  # sanity bound only: a quadratic path is orders of magnitude slower


def _hostile() -> str:
    return "".join((s * (SEGMENT // len(s) + 1))[:SEGMENT] for s in SHAPES)


@pytest.fixture(scope="module")
def hostile() -> str:
    return _hostile()


def _timed(fn, text: str) -> float:  # type: ignore[no-untyped-def]
    start = time.process_time()
    fn(text)
    elapsed = time.process_time() - start
    rate = len(text) / 1e6 / max(elapsed, 1e-6)
    assert rate >= MIN_MB_PER_S, f"{rate:.2f} MB/s"
    return rate


def test_filter_paths_linear(hostile: str) -> None:
    pf = PrivacyFilter({"K": "Zq8vN3mX5pL2wK9r"}, security_mode=True, workspace="/tmp/ws",
                       user="alice")
    _timed(pf.redact, hostile)
    _timed(pf.scan_response, hostile)
    _timed(lambda t: pf.check_outbound_arguments({"url": t}), hostile)
    _timed(lambda t: pf.filter_messages([{"role": "tool", "content": t}]), hostile)


def test_audit_redaction_linear(hostile: str) -> None:
    pf = PrivacyFilter(include_env=True)
    _timed(lambda t: scrub({"message": t, "password": t}, pf.redact), hostile)


def test_export_scrubbing_linear(hostile: str) -> None:
    scrubber = SecretScrubber(["Zq8vN3mX5pL2wK9r", "sk-live-000111222333"])
    _timed(lambda t: scrubber.deep({"rows": [t], "settings": scrub_settings({"x": t})}), hostile)


def test_crash_report_linear(hostile: str, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_TELEMETRY_DISABLED", raising=False)
    settings = SimpleNamespace(telemetry=SimpleNamespace(crash_reports=True))
    try:
        raise RuntimeError(hostile)
    except RuntimeError as exc:
        error = exc
    start = time.process_time()
    path = write_crash_report(tmp_path, error, settings)
    elapsed = time.process_time() - start
    assert path is not None and path.exists()
    assert len(hostile) / 1e6 / max(elapsed, 1e-6) >= MIN_MB_PER_S
    traceback.clear_frames(error.__traceback__)
