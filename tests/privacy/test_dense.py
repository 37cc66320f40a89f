"""Work bounds on candidate-dense text cannot hide a secret (issue #13, throughput).

The scanner runs a keyword-dense rule over the whole text at once and takes the captures and
the verdict once per distinct match; a rule match longer than ``LONG_MATCH`` bytes is redacted
whole without the false-positive checks. Each test plants a secret where those shortcuts act
and reads the verdict from the redacted text.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from bastion.privacy import PrivacyFilter, SecretScanner
from bastion.privacy import detector as detector_mod
from bastion.privacy.dense import LONG_MATCH, KeywordHits
from bastion.privacy.known import KnownValues
from bastion.privacy.rules import Rule, default_rules

SECRET = "Zq8vN3mX5pL2wK9rT4"


def _noise(shape: str, size: int) -> str:
    return (shape * (size // len(shape) + 1))[:size]


@pytest.mark.parametrize("shape", ["password=", "password is x1 ", "pwd: ", "token=abc;",
                                   "- X_PASSWORD=", "aaaa\" + \""])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_secret_in_keyword_dense_noise_is_redacted(shape: str, where: str) -> None:
    noise = _noise(shape, 60_000)
    plant = f"\nthe password is {SECRET}\n"
    text = {"start": plant + noise, "middle": noise[:30_000] + plant + noise[30_000:],
            "end": noise + plant}[where]
    out = PrivacyFilter().redact(text)
    assert SECRET not in out
    assert SECRET[:12] not in out


def test_distinct_values_in_dense_noise_are_each_judged() -> None:
    # the per-distinct-match cache must not lend one match's verdict to another
    rng = random.Random(7)
    alphabet = "abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    secrets = ["".join(rng.choice(alphabet) for _ in range(14)) + "7q" for _ in range(40)]
    parts = []
    for i in range(2_000):
        parts.append("password=password ")  # a rejected candidate, over and over
        if i % 50 == 25:
            parts.append(f"password={secrets[i // 50]} ")
    out = PrivacyFilter().redact("".join(parts))
    for s in secrets:
        assert s not in out, s


def test_dense_scan_shortcuts_keep_every_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass scan of a keyword-dense rule finds at least what window-by-window scanning
    finds, and its per-distinct-match cache (captures and verdict taken once) changes nothing
    against taking the captures of every match."""
    rng = random.Random(11)
    pieces = ["password=", "pwd: x ", "token = ", "secret: ", "api_key=", " is ", "\n", "= ",
              "password is ", SECRET, "ghp_q8K2mL9pX4tR7bN3wY6cH1dF5gJ0sA2eZ7xV", "Tr0ub4dor&3x",
              "passwd: aB3$xY9!kQ2 ", "x" * 70]
    scanner, uncached = SecretScanner(), SecretScanner()
    for i in range(len(uncached.rules)):
        uncached._compiled[i].find = None  # every match with its captures, verdict per candidate
    for _ in range(60):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(50, 400)))
        monkeypatch.setattr(detector_mod, "_WINDOW_COST", 10**9)  # always one pass
        dense = {(f.start, f.end, f.rule_id) for f in scanner.scan(text)}
        assert dense == {(f.start, f.end, f.rule_id) for f in uncached.scan(text)}, text
        monkeypatch.setattr(detector_mod, "_WINDOW_COST", -(10**9))  # always window by window
        for _, a, b in ((f.rule_id, f.start, f.end) for f in scanner.scan(text)):
            assert any(s <= a and b <= e for s, e, _ in dense), (text, (a, b))


@pytest.mark.parametrize("shape", ["password=", "pass_word=aB1;", "pwd=A1b2"])
def test_a_match_longer_than_the_bound_is_redacted_whole(shape: str) -> None:
    # one unbroken line: a single rule match of ~LONG_MATCH * 3 bytes, with a secret inside it
    half = _noise(shape, LONG_MATCH * 3 // 2)
    text = "password=" + half + SECRET + half + "\nnext line stays\n"
    out = PrivacyFilter().redact(text)
    assert SECRET not in out
    assert "next line stays" in out
    assert len(out) < LONG_MATCH  # the long value went as a whole


def test_long_matches_are_not_indexed_as_fragments() -> None:
    # a giant found value is known raw (and encoded), not as ~100,000 fragment windows
    kv = KnownValues()
    value = "".join(random.Random(3).choice("abcdefXYZ0123456789") for _ in range(LONG_MATCH * 4))
    assert kv.add(value)
    assert len(kv._words) < 20
    assert [m.text for m in kv.find("x " + value + " y")] == [value]


def test_one_pass_keeps_exactly_the_matches_that_touch_a_keyword_window() -> None:
    """Reference: every match of the rule in text order, kept when it overlaps a window
    ``[p - back, p + fwd)`` of one of its keyword offsets ``p`` (brute force)."""
    rng = random.Random(5)
    # the test rule matches without its keyword: only the windows decide what is kept
    near = Rule(id="test-near", regex=r"tok_([a-z0-9]{6,})", keywords=("kw",), window=64)
    pieces = ["password=", "pwd: x ", "password is ", " is ", "\n", SECRET, "Tr0ub4dor&3x",
              "passwd: aB3$xY9!kQ2 ", "q" * 300, "z9" * 200, " ", "=", "kw ", "tok_a1b2c3d4 ",
              "tok_", "kw", "." * 90]
    scanner = SecretScanner([*default_rules(), near])
    for _ in range(80):
        data = "".join(rng.choice(pieces) for _ in range(rng.randint(20, 300))).encode()
        for idx, found in scanner._keyword_hits(data)[0].items():
            comp = scanner._compiled[idx]
            got: list[tuple[int, int, int]] = []
            hits = KeywordHits.known(found) if isinstance(found, list) else found
            scanner._run_near_keywords(idx, data, hits, got)
            positions = hits.positions()
            want = []
            # the stretch searched, as the scanner bounds it: from 4 KB before the first window
            # to the last window's end, to the text's end once a match reaches that
            n = len(data)
            pos, hi = max(0, positions[0] - comp.back - 4096), min(n, positions[-1] + comp.fwd)
            while pos <= hi:
                spans = comp.match(data, pos, hi)
                ms, me = spans[0]
                if ms < 0:
                    break
                if me == hi < n:
                    hi, pos = n, ms
                    continue
                if any(p - comp.back < max(me, ms + 1) and p + comp.fwd > ms for p in positions):
                    span = comp.secret_span_raw(spans)
                    if span is not None:
                        want.append((idx, *span))
                pos = me if me > ms else me + 1

            assert _accepted(comp, data, got) == _accepted(comp, data, want), (
                data, scanner.rules[idx].id)


def _accepted(comp: Any, data: bytes, cands: list[tuple[int, int, int]]) -> set[tuple[int, ...]]:
    return {c for c in cands
            if c[2] - c[1] > LONG_MATCH or comp.accepts(data[c[1]:c[2]].decode())}


def test_known_values_across_the_lookup_block_boundary() -> None:
    # the text's chunks are looked up one 1 MB block at a time: a value, a fragment or a
    # reversed piece lying across a block edge is still found whole
    from bastion.privacy.known import _BLOCK

    value = "Zq8vN3mX5pL2wK9rT4yB"
    kv = KnownValues()
    kv.add(value, "v")
    for piece in (value, value[3:17], value[::-1][2:16]):
        for shift in range(-len(piece), 9):
            at = _BLOCK + shift
            text = "." * at + piece + "." * 64
            found = [(m.start, m.end) for m in kv.find(text)]
            assert found == [(at, at + len(piece))], (piece, shift)
