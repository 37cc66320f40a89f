"""Benchmark the privacy filter (not a timed test; prints figures and ratios).

    .venv/bin/python bench/bench_redaction.py [--size-mb 8] [--ds-mb 1] [--json]

* throughput (MB/s, one core) of ``SecretScanner.scan`` and ``PrivacyFilter.redact`` over a
  mixed code / config / prose corpus, and of ``detect-secrets`` on a slice of the same corpus
  in the same run (ratio printed);
* p50 / p99 latency of ``PrivacyFilter.redact`` on 4 KB messages;
* findings per MB on the Python standard library source (no secrets expected).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import sysconfig
import tempfile
import time
from pathlib import Path

from bastion.privacy import PrivacyFilter, SecretScanner

WORDS = [
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
    "they", "you", "were", "her", "she", "there", "been", "one", "all", "we", "their", "has",
    "would", "when", "if", "so", "no", "will", "can", "more", "about", "said", "what", "out",
    "up", "into", "them", "some", "could", "other", "time", "these", "two", "may", "then", "do",
    "first", "any", "my", "now", "such", "like", "our", "over", "man", "me", "even", "most",
    "made", "after", "also", "did", "many", "before", "must", "through", "back", "years",
    "where", "much", "your", "way", "well", "down", "should", "because", "each", "just",
    "those", "people", "how", "too", "little", "state", "good", "very", "make", "world",
    "still", "own", "see", "men", "work", "long", "get", "here", "between", "both", "life",
    "being", "under", "never", "day", "same", "another", "know", "while", "last", "might", "us",
    "great", "old", "year", "off", "come", "since", "against", "go", "came", "right", "used",
    "take", "three", "deploy", "server", "config", "release", "token", "build", "cluster",
    "database", "backup", "service", "request", "network", "policy", "session", "review",
    "merge", "branch"
]


def _rand(rng: random.Random, chars: str, n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


def make_corpus(size_mb: float, seed: int = 7) -> list[str]:
    """Documents of 2–16 KB: stdlib code, generated config files, generated prose."""
    rng = random.Random(seed)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    rng.shuffle(code)
    alnum = string.ascii_letters + string.digits
    docs: list[str] = []
    total = 0
    target = int(size_mb * 1_000_000)
    i = 0
    while total < target:
        kind = i % 3
        i += 1
        if kind == 0 and code:
            text = code[i % len(code)].read_text("utf-8", "replace")[:16000]
        elif kind == 1:
            lines = []
            for j in range(rng.randint(40, 300)):
                r = rng.random()
                if r < 0.02:
                    lines.append(f"GITHUB_TOKEN=ghp_{_rand(rng, alnum, 36)}")
                elif r < 0.04:
                    lines.append(f"DATABASE_URL=postgres://app:{_rand(rng, alnum, 16)}@db:5432/x")
                elif r < 0.3:
                    lines.append(f"  {rng.choice(WORDS)}_{rng.choice(WORDS)}: {rng.randint(0, 9999)}")
                elif r < 0.6:
                    lines.append(f'"{rng.choice(WORDS)}": "{rng.choice(WORDS)} {rng.choice(WORDS)}",')
                else:
                    lines.append(f"{rng.choice(WORDS).upper()}_{j}={rng.choice(WORDS)}")
            text = "\n".join(lines) + "\n"
        else:
            paras = []
            for _ in range(rng.randint(3, 20)):
                sent = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120)))
                paras.append(sent.capitalize() + ".")
            text = "\n\n".join(paras) + "\n"
        docs.append(text)
        total += len(text.encode())
    return docs


def mb(docs: list[str]) -> float:
    return sum(len(d.encode()) for d in docs) / 1_000_000


def bench_scanner(docs: list[str], prefilter: str = "re2", repeat: int = 3) -> float:
    scanner = SecretScanner(prefilter=prefilter)
    for d in docs[:20]:
        scanner.scan(d)  # warm up (DFA cache)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for d in docs:
            scanner.scan(d)
        best = min(best, time.perf_counter() - t0)
    return mb(docs) / best


def bench_redact(docs: list[str]) -> float:
    pf = PrivacyFilter({"OPENAI_API_KEY": "sk-" + "q8K2mL9pX4tR7bN3wY6cH1dF5gJ0sA2e"})
    t0 = time.perf_counter()
    for d in docs:
        pf.redact(d)
    return mb(docs) / (time.perf_counter() - t0)


def bench_detect_secrets(docs: list[str]) -> float | None:
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, d in enumerate(docs):
            p = Path(tmp) / f"doc{i}.txt"
            p.write_text(d, "utf-8")
            paths.append(str(p))
        with default_settings():
            collection = SecretsCollection()
            t0 = time.perf_counter()
            for p in paths:
                collection.scan_file(p)
            dt = time.perf_counter() - t0
    return mb(docs) / dt


def latency_4k(n: int = 2000) -> tuple[float, float]:
    rng = random.Random(3)
    corpus = make_corpus(2.0, seed=11)
    blob = "".join(corpus)
    messages = []
    for _ in range(n):
        start = rng.randrange(0, len(blob) - 4096)
        messages.append(blob[start : start + 4096])
    pf = PrivacyFilter({"OPENAI_API_KEY": "sk-" + "q8K2mL9pX4tR7bN3wY6cH1dF5gJ0sA2e"})
    for m in messages[:50]:
        pf.redact(m)
    times = []
    for m in messages:
        t0 = time.perf_counter()
        pf.redact(m)
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


def stdlib_findings() -> dict[str, float]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    scanner = SecretScanner()
    total = nontest = 0
    f_all = f_nontest = 0
    examples = []
    for p in sorted(stdlib.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        text = p.read_text("utf-8", "replace")
        size = len(text.encode())
        found = scanner.scan(text)
        is_test = any(part in ("test", "tests", "idle_test") for part in p.parts)
        total += size
        f_all += len(found)
        if not is_test:
            nontest += size
            f_nontest += len(found)
        examples.extend(f"{p.relative_to(stdlib)}:{f.line} {f.rule_id}" for f in found)
    return {
        "stdlib_mb": total / 1e6,
        "findings": f_all,
        "findings_per_mb": f_all / (total / 1e6),
        "nontest_mb": nontest / 1e6,
        "nontest_findings": f_nontest,
        "nontest_findings_per_mb": f_nontest / (nontest / 1e6),
        "examples": examples[:20],  # type: ignore[dict-item]
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=8.0)
    ap.add_argument("--ds-mb", type=float, default=1.0, help="corpus slice for detect-secrets")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    docs = make_corpus(args.size_mb)
    results: dict[str, object] = {"corpus_mb": round(mb(docs), 2), "rules": len(SecretScanner().rules)}
    results["scan_mb_s"] = round(bench_scanner(docs), 1)
    results["scan_mb_s_pyahocorasick_prefilter"] = round(bench_scanner(docs, "ahocorasick", 1), 1)
    results["redact_mb_s"] = round(bench_redact(docs), 1)
    ds_docs: list[str] = []
    for d in docs:
        if mb(ds_docs) >= args.ds_mb:
            break
        ds_docs.append(d)
    ds = bench_detect_secrets(ds_docs)
    if ds is not None:
        ours_same = bench_scanner(ds_docs)
        results["detect_secrets_mb_s"] = round(ds, 3)
        results["scan_mb_s_same_slice"] = round(ours_same, 1)
        results["ratio_vs_detect_secrets"] = round(ours_same / ds, 1)
    p50, p99 = latency_4k()
    results["redact_4k_p50_ms"] = round(p50, 3)
    results["redact_4k_p99_ms"] = round(p99, 3)
    results.update({k: (round(v, 3) if isinstance(v, float) else v)
                    for k, v in stdlib_findings().items()})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k:40} {v}")


if __name__ == "__main__":
    main()
