"""Benchmark the privacy filter (not a timed test; prints figures and ratios).

    .venv/bin/python bench/bench_redaction.py [--size-mb 8] [--ds-mb 1] [--json]

* throughput (MB/s of CPU time on one core) of ``SecretScanner.scan`` and
  ``PrivacyFilter.redact`` over a mixed code / config / prose corpus with a few planted secrets
  per 100 KB (recall on them printed), of ``detect-secrets`` on a slice of the same corpus in the
  same run (ratio printed), and of the scanner on the previous keyword- and secret-dense corpus
  (kept as a stress test) and on the Python standard library;
* p50 / p99 wall-clock latency of ``PrivacyFilter.redact`` on 4 KB messages, for a realistic
  session (30 known values plus every secret found so far) and a worst case (10,000 known
  values plus a new one registered before every message);
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


ALNUM = string.ascii_letters + string.digits

# Prose is sampled with Zipf weights over WORDS (roughly in frequency order), so "the" and "of"
# are common and the technical words ("token", "session", "service", …) appear at the rate of
# technical writing (about once per 700 words each), not at 1/150 of all words.
ZIPF = [1.0 / (rank + 1) for rank in range(len(WORDS))]

# Realistic configuration keys: mostly ordinary settings, a few with credential-like names
# (token_ttl, session_timeout, auth_url, …) whose values are not secrets.
CONFIG_KEYS = [
    "host", "port", "timeout", "retries", "log_level", "name", "image", "replicas", "region",
    "bucket", "path", "enabled", "max_connections", "pool_size", "workers", "debug", "listen",
    "base_url", "namespace", "version", "cache_dir", "tmp_dir", "user", "group", "mode",
    "schedule", "interval", "threshold", "limit", "queue", "topic", "channel", "endpoint",
    "health_check", "memory", "cpu", "storage_class", "tag", "labels", "owner", "team",
    "token_ttl", "session_timeout", "auth_url", "secret_name", "api_version", "key_path",
    "service_name", "access_log", "cluster", "database", "backup_window", "policy",
]


def _config_value(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return str(rng.randint(0, 65535))
    if r < 0.45:
        return rng.choice(["true", "false", "yes", "no", "on", "off"])
    if r < 0.6:
        return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}.internal"
    if r < 0.7:
        return f"{rng.randint(1, 90)}{rng.choice('smhd')}"
    if r < 0.8:
        return f"/var/lib/{rng.choice(WORDS)}/{rng.choice(WORDS)}"
    return rng.choice(WORDS) + "_" + rng.choice(WORDS)


def _config_doc(rng: random.Random) -> str:
    fmt = rng.choice(["env", "yaml", "ini", "json"])
    lines: list[str] = []
    n = rng.randint(40, 300)
    if fmt == "json":
        lines.append("{")
        for _ in range(n):
            lines.append(f'  "{rng.choice(CONFIG_KEYS)}": "{_config_value(rng)}",')
        lines.append(f'  "{rng.choice(CONFIG_KEYS)}": 0\n}}')
        return "\n".join(lines) + "\n"
    for j in range(n):
        key = rng.choice(CONFIG_KEYS)
        if fmt == "env":
            lines.append(f"{key.upper()}={_config_value(rng)}")
        elif fmt == "ini":
            if j % 12 == 0:
                lines.append(f"\n[{rng.choice(WORDS)}]")
            lines.append(f"{key} = {_config_value(rng)}")
        else:
            indent = "  " * rng.randint(0, 2)
            if j % 10 == 0:
                lines.append(f"{indent}{rng.choice(WORDS)}:")
            else:
                lines.append(f"{indent}  {key}: {_config_value(rng)}")
    return "\n".join(lines) + "\n"


def _prose_doc(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(3, 20)):
        sentences = []
        for _ in range(rng.randint(2, 8)):
            words = rng.choices(WORDS, weights=ZIPF, k=rng.randint(6, 24))
            sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"]))
        paras.append(" ".join(sentences))
    return "\n\n".join(paras) + "\n"


def _b64url(rng: random.Random, n: int) -> str:
    return _rand(rng, ALNUM + "-_", n)


def _pem(rng: random.Random) -> tuple[str, str]:
    body = "\n".join(_rand(rng, ALNUM + "+/", 64) for _ in range(12))
    block = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    return block, block


def planted_secret(rng: random.Random) -> tuple[str, str]:
    """``(line, secret)``: one realistic secret in one of 13 formats, in a typical context."""
    kind = rng.randrange(13)
    if kind == 0:
        s = "ghp_" + _rand(rng, ALNUM, 36)
        return f"GITHUB_TOKEN={s}", s
    if kind == 1:
        s = "AKIA" + _rand(rng, string.ascii_uppercase + "234567", 16)
        return f"aws_access_key_id = {s}", s
    if kind == 2:
        s = "sk_live_" + _rand(rng, ALNUM, 32)
        return f'stripe.api_key = "{s}"', s
    if kind == 3:
        s = f"xoxb-{_rand(rng, string.digits, 12)}-{_rand(rng, string.digits, 13)}-" + _rand(
            rng, ALNUM, 24)
        return f"  slack_bot: {s}", s
    if kind == 4:
        s = _rand(rng, ALNUM, 16)
        return f"DATABASE_URL=postgres://app:{s}@db.prod.internal:5432/app", s
    if kind == 5:
        s = _rand(rng, ALNUM, 10) + rng.choice("!#%&*") + _rand(rng, string.digits, 2)
        return f'    db_password = "{s}"', s
    if kind == 6:
        s = _rand(rng, ALNUM, 40)
        return f"SECRET_KEY={s}", s
    if kind == 7:
        s = "glpat-" + _rand(rng, ALNUM, 20)
        return f"export GITLAB_TOKEN={s}", s
    if kind == 8:
        s = "npm_" + _rand(rng, ALNUM, 36)
        return f"//registry.npmjs.org/:_authToken={s}", s
    if kind == 9:
        s = f"eyJ{_b64url(rng, 30)}.eyJ{_b64url(rng, 60)}.{_b64url(rng, 43)}"
        return f"Authorization: Bearer {s}", s
    if kind == 10:
        s = f"SG.{_b64url(rng, 22)}.{_b64url(rng, 43)}"
        return f'SENDGRID_API_KEY="{s}"', s
    if kind == 11:
        s = _rand(rng, ALNUM, 9) + rng.choice("!#%&") + _rand(rng, string.digits, 3)
        return f"For the staging box the password is {s} until Friday.", s
    return _pem(rng)


def make_corpus(
    size_mb: float, seed: int = 7, *, secrets_per_100kb: float = 4.0
) -> tuple[list[str], list[tuple[int, str]]]:
    """A mixed corpus and its planted secrets ``[(doc index, secret)]``.

    Documents of 2–16 KB: ~40% Python-stdlib source files (truncated to 16 KB), ~30% generated
    configuration (.env / YAML / INI / JSON with realistic keys), ~30% generated prose. Then
    ``secrets_per_100kb`` secrets per 100 KB (13 formats: GitHub, AWS, Stripe, Slack, postgres
    URL, quoted password, .env secret, GitLab, npm, JWT, SendGrid, password in prose, PEM key)
    are inserted as whole lines at random line boundaries of random documents.
    """
    rng = random.Random(seed)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    rng.shuffle(code)
    docs: list[str] = []
    total = 0
    target = int(size_mb * 1_000_000)
    i = 0
    while total < target:
        r = rng.random()
        if r < 0.4 and code:
            text = code[i % len(code)].read_text("utf-8", "replace")[:16000]
            i += 1
        elif r < 0.7:
            text = _config_doc(rng)
        else:
            text = _prose_doc(rng)
        docs.append(text)
        total += len(text.encode())
    planted: list[tuple[int, str]] = []
    for _ in range(round(total / 100_000 * secrets_per_100kb)):
        d = rng.randrange(len(docs))
        line, secret = planted_secret(rng)
        lines = docs[d].split("\n")
        at = rng.randrange(len(lines) + 1)
        lines.insert(at, line)
        docs[d] = "\n".join(lines)
        planted.append((d, secret))
    return docs, planted


def make_dense_corpus(size_mb: float, seed: int = 7) -> list[str]:
    """The previous benchmark corpus, kept as a stress test (not a realistic mix).

    Config documents plant a GitHub token or a postgres password on 4% of their lines (~2,000
    secrets per MB of config) and prose draws uniformly from WORDS, so "token", "session" and
    "service" each make up 1/150 of all words.
    """
    rng = random.Random(seed)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    rng.shuffle(code)
    alnum = ALNUM
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


def _cpu() -> float:
    # throughput is measured in CPU time of this (single-threaded) process: one core's work,
    # unaffected by other jobs sharing the machine; latencies are wall-clock
    return time.process_time()


def bench_scanner(docs: list[str], prefilter: str = "re2", repeat: int = 3) -> float:
    scanner = SecretScanner(prefilter=prefilter)
    for d in docs[:20]:
        scanner.scan(d)  # warm up (DFA cache)
    best = float("inf")
    for _ in range(repeat):
        t0 = _cpu()
        for d in docs:
            scanner.scan(d)
        best = min(best, _cpu() - t0)
    return mb(docs) / best


def recall(docs: list[str], planted: list[tuple[int, str]]) -> tuple[int, int]:
    """How many planted secrets a finding covers, and how many findings there are in all."""
    scanner = SecretScanner()
    found = [scanner.scan(d) for d in docs]
    hit = sum(
        1 for d, secret in planted
        if any(secret in f.secret or f.secret in secret for f in found[d])
    )
    return hit, sum(len(f) for f in found)


def bench_redact(docs: list[str]) -> float:
    pf = PrivacyFilter({"OPENAI_API_KEY": "sk-" + "q8K2mL9pX4tR7bN3wY6cH1dF5gJ0sA2e"})
    t0 = _cpu()
    for d in docs:
        pf.redact(d)
    return mb(docs) / (_cpu() - t0)


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
            t0 = _cpu()
            for p in paths:
                collection.scan_file(p)
            dt = _cpu() - t0
    return mb(docs) / dt


def _session_values(rng: random.Random, count: int) -> dict[str, str]:
    """``count`` credential-like named values (stored API keys, env variables)."""
    out: dict[str, str] = {}
    for i in range(count):
        length = rng.choice([12, 20, 32, 40, 64])
        out[f"SERVICE_{i}_API_KEY"] = _rand(rng, ALNUM + "-_", length)
    return out


def latency_4k(
    n: int = 2000, *, known: int = 30, add_each: bool = False
) -> dict[str, float]:
    """p50 / p99 (ms, wall clock) of ``PrivacyFilter.redact`` on 4 KB slices of the corpus.

    The filter starts with ``known`` named known values; every secret the rules find is added
    to the session's known values as it goes (as in a real session). ``add_each`` also
    registers one new distinct value before every message (worst case for the matcher).
    """
    rng = random.Random(3)
    corpus, _ = make_corpus(2.0, seed=11)
    blob = "".join(corpus)
    messages = []
    for _ in range(n):
        start = rng.randrange(0, len(blob) - 4096)
        messages.append(blob[start : start + 4096])
    pf = PrivacyFilter(_session_values(rng, known))
    for m in messages[:50]:
        pf.redact(m)
    extra = [_rand(rng, ALNUM, 32) for _ in range(n)] if add_each else []
    wall: list[float] = []
    cpu: list[float] = []
    for i, m in enumerate(messages):
        if add_each:
            pf.add_known_value(extra[i], "extra")
        t0, c0 = time.perf_counter(), time.process_time()
        pf.redact(m)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort()
    cpu.sort()
    p99 = int(len(wall) * 0.99) - 1
    return {
        "known_values": float(len(pf._known)),
        "p50_ms": statistics.median(wall) * 1000,
        "p99_ms": wall[p99] * 1000,
        "max_ms": wall[-1] * 1000,
        "cpu_p99_ms": cpu[p99] * 1000,
    }


def stdlib_findings() -> dict[str, float]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    scanner = SecretScanner()
    total = nontest = 0
    f_all = f_nontest = 0
    seconds = 0.0
    examples = []
    for p in sorted(stdlib.rglob("*.py")):
        if "site-packages" in p.parts:
            continue
        text = p.read_text("utf-8", "replace")
        size = len(text.encode())
        t0 = _cpu()
        found = scanner.scan(text)
        seconds += _cpu() - t0
        is_test = any(part in ("test", "tests", "idle_test") for part in p.parts)
        total += size
        f_all += len(found)
        if not is_test:
            nontest += size
            f_nontest += len(found)
        examples.extend(f"{p.relative_to(stdlib)}:{f.line} {f.rule_id}" for f in found)
    return {
        "stdlib_mb": total / 1e6,
        "stdlib_scan_mb_s": total / 1e6 / seconds,
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
    ap.add_argument("--secrets-per-100kb", type=float, default=4.0)
    ap.add_argument("--worst-known", type=int, default=10_000,
                    help="known values registered for the worst-case latency run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    docs, planted = make_corpus(args.size_mb, secrets_per_100kb=args.secrets_per_100kb)
    results: dict[str, object] = {
        "corpus_mb": round(mb(docs), 2),
        "planted_secrets": len(planted),
        "rules": len(SecretScanner().rules),
    }
    hit, total_findings = recall(docs, planted)
    results["planted_found"] = hit
    results["findings_total"] = total_findings
    results["scan_mb_s"] = round(bench_scanner(docs), 1)
    results["scan_mb_s_pyahocorasick_prefilter"] = round(bench_scanner(docs, "ahocorasick", 1), 1)
    dense = make_dense_corpus(min(args.size_mb, 4.0))
    results["scan_mb_s_dense_stress_corpus"] = round(bench_scanner(dense), 1)
    results["redact_mb_s"] = round(bench_redact(docs), 1)
    ds_docs: list[str] = []
    for d in docs:
        if mb(ds_docs) >= args.ds_mb:
            break
        ds_docs.append(d)
    ds = bench_detect_secrets(ds_docs)
    if ds is not None:
        ours_same = bench_scanner(ds_docs)
        results["detect_secrets_slice_mb"] = round(mb(ds_docs), 2)
        results["detect_secrets_mb_s"] = round(ds, 3)
        results["scan_mb_s_same_slice"] = round(ours_same, 1)
        results["ratio_vs_detect_secrets"] = round(ours_same / ds, 1)
    for name, lat in (
        ("realistic", latency_4k(known=30)),
        ("worst", latency_4k(known=args.worst_known, add_each=True)),
    ):
        for k, v in lat.items():
            results[f"redact_4k_{name}_{k}"] = round(v, 3)
    results.update({k: (round(v, 3) if isinstance(v, float) else v)
                    for k, v in stdlib_findings().items()})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k:44} {v}")


if __name__ == "__main__":
    main()
