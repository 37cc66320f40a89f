"""Throughput of every redaction path on hostile input (linear time; not a timed test).

    .venv/bin/python bench/bench_pathological.py [--mb-per-shape 1] [--repeat 3] [--json]

For each hostile shape (the list in tests/privacy/test_linear_time.py: runs of letters before
``://``, unclosed ``![`` / ``<img``, keyword-dense text, broken escapes…) repeated to N MB, prints
MB per CPU-second of: the privacy filter (``redact``, ``scan_response``, outbound argument check),
audit redaction (``audit.redact.scrub``), export scrubbing (``SecretScrubber`` +
``scrub_settings``) and the crash-report redactor. The minimum over shapes is the figure that
matters (goal ≥ 10 MB/s); the ratio of the 2N-MB rate to the N-MB rate shows linearity (≈ 1.0;
a quadratic path would show ≈ 0.5). Each rate is the best of ``--repeat`` runs, each on new
filters (a filter remembers the texts it redacted): on a shared machine one run per shape
makes the minimum over 48 shapes mostly a measure of the noise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "privacy"))

from test_linear_time import SHAPES

from bastion.audit.redact import default_redactor, scrub
from bastion.privacy import PrivacyFilter
from bastion.rights.secrets import SecretScrubber, scrub_settings


def paths() -> dict[str, Callable[[str], object]]:
    """Each path with its own filter (a shared one would answer repeated texts from its cache)."""

    def new_filter() -> PrivacyFilter:
        return PrivacyFilter({"K": "Zq8vN3mX5pL2wK9r"}, security_mode=True, workspace="/tmp/ws",
                             user="alice")

    pf_redact, pf_response, pf_outbound, pf_audit = (new_filter() for _ in range(4))
    crash = default_redactor()
    scrubber = SecretScrubber(["Zq8vN3mX5pL2wK9r"])
    return {
        "filter.redact": pf_redact.redact,
        "filter.scan_response": pf_response.scan_response,
        "filter.outbound": lambda t: pf_outbound.check_outbound_arguments({"url": t}),
        "audit.scrub": lambda t: scrub({"message": t}, pf_audit.redact),
        "export.scrub": lambda t: scrubber.deep(scrub_settings({"x": t})),
        "crash.redact": crash,
    }


def rate(fn: Callable[[str], object], text: str) -> float:
    start = time.process_time()
    fn(text)
    return len(text) / 1e6 / max(time.process_time() - start, 1e-6)


def best_rate(name: str, text: str, repeat: int) -> float:
    """The best of ``repeat`` runs of path ``name`` over ``text``, each on new filters."""
    return max(rate(paths()[name], text) for _ in range(max(1, repeat)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb-per-shape", type=float, default=1.0)
    ap.add_argument("--mixed-mb", type=float, default=0.0,
                    help="also time each path on all shapes in one text of this size (as the "
                         "test and its BASTION_PATHO_MB=50 soak build it)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per shape")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = int(args.mb_per_shape * 1_000_000)
    results: dict[str, dict[str, float]] = {}
    for name in paths():
        worst, worst_shape, ratio = float("inf"), "", 1.0
        for shape in SHAPES:
            text = (shape * (n // len(shape) + 1))[:n]
            r1 = best_rate(name, text, args.repeat)
            if r1 < worst:
                worst, worst_shape = r1, shape
                ratio = best_rate(name, text + text, args.repeat) / r1
        results[name] = {"min_mb_s": round(worst, 1), "ratio_2x": round(ratio, 2)}
        if not args.json:
            print(f"{name:22} min {worst:7.1f} MB/s (shape {worst_shape!r}); "
                  f"2x-size rate ratio {ratio:.2f}", flush=True)
    if args.mixed_mb:
        seg = int(args.mixed_mb * 1_000_000 / len(SHAPES))
        mixed = "".join((s * (seg // len(s) + 1))[:seg] for s in SHAPES)
        for name in paths():
            r = best_rate(name, mixed, args.repeat)
            results[name]["mixed_mb_s"] = round(r, 1)
            if not args.json:
                print(f"{name:22} all shapes in one {len(mixed) / 1e6:.0f} MB text: "
                      f"{r:7.1f} MB/s", flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
