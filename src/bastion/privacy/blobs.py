"""Decoding blobs for the privacy views: base64 (standard, URL-safe, wrapped), base32, hex,
gzip/zlib inside them (bounded), UTF-16/32 by BOM or NUL pattern; text only.

Runs are found by RE2's DFA over bytes (``runs``); ``decode_blob`` returns the decoded text,
or None when it is not text (binary, an identifier, random bytes).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import zlib
from collections.abc import Iterator
from typing import Any

import re2

from bastion.privacy.checks import raw_matcher
from bastion.privacy.rules import compile_re2, re2_options
from bastion.privacy.textio import decode_bytes

MAX_INFLATE = 1 << 20
MIN_BLOB = 16


# base64 (std / url-safe) runs, possibly wrapped across lines (also with JSON "\n"), and hex
# (Python ``re``, which takes any str — lone surrogates included; each is linear: a run is
# consumed whole once it is 16 long, shorter runs cost at most their length squared)
_B64 = re.compile(
    r"[A-Za-z0-9+/_-]{16,}={0,2}(?:(?:\\r\\n|\\n|\r?\n)[ \t]*[A-Za-z0-9+/_-]{4,}={0,2})*")
_B64_RAW = raw_matcher(compile_re2(_B64.pattern, rule_id="view-base64"))
_B32 = re.compile(r"[A-Z2-7]{16,}=*")


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff]")


def _printable(data: str) -> bool:
    """Text, not binary: at most 1 control / replacement character in 20 (first 4 KB)."""
    sample = data[:4096]
    if not sample:
        return False
    return len(_CONTROL.findall(sample)) * 20 <= len(sample)


def _inflate(raw: bytes) -> bytes | None:
    try:
        d = zlib.decompressobj(wbits=47)  # gzip or zlib header
        out = d.decompress(raw, MAX_INFLATE)
    except zlib.error:
        return None
    return out


#: blobs up to this long have their verdict cached (identifiers such as ``assertIsInstance``
#: recur in every text and never decode to text; a real blob is decoded once per process)
CACHED_BLOB = 256


def decode_blob(blob: str) -> str | None:
    """The text inside a base64 / base32 / hex blob (gzip inflated), or None."""
    if len(blob) <= CACHED_BLOB:
        return _decode_short(blob)
    return _decode(blob)


@functools.lru_cache(maxsize=8192)
def _decode_short(blob: str) -> str | None:
    return _decode(blob)


#: characters of a long blob decoded first: when they are not text, the blob is not decoded
#: further in that encoding (a multiple of 8, 4 and 2, so it cuts no group)
_HEAD = 384


def _raw(kind: str, compact: str, alt: bool) -> bytes | None:
    try:
        if kind == "hex":
            return binascii.unhexlify(compact)
        if kind == "b32":
            body = compact.rstrip("=")
            return base64.b32decode(body + "=" * (-len(body) % 8))
        body = compact.rstrip("=")
        body += "=" * (-len(body) % 4)
        return base64.urlsafe_b64decode(body) if alt else base64.b64decode(body)
    except (binascii.Error, ValueError):
        return None


def _text(raw: bytes) -> str | None:
    if raw[:2] == b"\x1f\x8b" or raw[:1] == b"\x78":
        inflated = _inflate(raw)
        if inflated:
            raw = inflated
    out = decode_bytes(raw)  # UTF-8, or UTF-16/32 only by BOM / NUL pattern (not by chance)
    return out if out is not None and _printable(out) else None


def _decode(blob: str) -> str | None:
    # line breaks (also JSON "\\n") and indentation of a wrapped blob removed (str methods: C)
    compact = blob if blob.isalnum() else "".join(
        blob.replace("\\r", "\r").replace("\\n", "\n").split())
    kinds = []
    if len(compact) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in compact[:64]):
        kinds.append("hex")
    if _B32.fullmatch(compact):
        kinds.append("b32")
    kinds.append("b64")  # each in turn until one gives text (base64 can look like base32)
    alt = "-" in compact or "_" in compact
    for kind in kinds:
        if len(compact) > 2 * _HEAD:  # long: is its head text (or compressed)?
            head = _raw(kind, compact[:_HEAD], alt)
            if head is None or (head[:2] != b"\x1f\x8b" and head[:1] != b"\x78"
                                and _text(head) is None):
                continue
        raw = _raw(kind, compact, alt)
        if raw is not None:
            out = _text(raw)
            if out is not None:
                return out
    return None


# hex digits as "h", every other byte as "." (then a run of 16 "h" is a hex run's start)
_HEX_MARKS = bytes(0x68 if chr(b) in "0123456789abcdefABCDEF" else 0x2E for b in range(256))
_HEX16 = b"h" * 16


def hex_runs(data: bytes) -> Iterator[tuple[int, int]]:
    """The spans ``[0-9a-fA-F]{16,}`` finds, left to right (``bytes.translate`` and
    ``bytes.find``: C speed, no regular expression pass over text without a hex run)."""
    marks = data.translate(_HEX_MARKS)
    pos = marks.find(_HEX16)
    while pos >= 0:
        end = marks.find(b".", pos + 16)
        if end < 0:
            end = len(data)
        yield pos, end
        pos = marks.find(_HEX16, end)


def _latin1() -> Any:
    opts = re2_options()
    opts.encoding = re2.Options.Encoding.LATIN1
    return opts


def _with_capital(n: int) -> str:
    """``[A-Za-z0-9+/_-]{n,}`` that holds a capital letter (one alternative per position of
    the first capital: RE2 has no lookaround)."""
    alts = [f"{_LOW}{{{k}}}[A-Z]{_CH}{{{n - 1 - k},}}" for k in range(n - 1)]
    return "(?:" + "|".join([*alts, f"{_LOW}{{{n - 1},}}[A-Z]{_CH}*"]) + ")"


_CH, _LOW = "[A-Za-z0-9+/_-]", "[a-z0-9+/_-]"
_WRAP = r"(?:\\r\\n|\\n|\r?\n)[ \t]*"
# exactly the base64 runs of ``_B64`` that hold a capital letter, with the same spans: a head
# with a capital and any continuations, or a head without one, continuations without one, a
# continuation with one and any further continuations (greedy throughout, as in ``_B64``)
# (led by the byte before the run — a run always starts after a byte no run holds, or at the
# start — so that the DFA follows one candidate per run, not one per position: far fewer states
# to build on first use; the leading byte is dropped from the span)
# (bytes as Latin-1 characters: the leading byte is one byte, whatever it is)
_B64_CAPITAL_RAW = raw_matcher(re2.compile(
    f"(?:^|[^A-Za-z0-9+/_-])(?:{_with_capital(16)}={{0,2}}(?:{_WRAP}{_CH}{{4,}}={{0,2}})*"
    f"|{_LOW}{{16,}}={{0,2}}(?:{_WRAP}{_LOW}{{4,}}={{0,2}})*{_WRAP}{_with_capital(4)}={{0,2}}"
    f"(?:{_WRAP}{_CH}{{4,}}={{0,2}})*)".encode("ascii"), _latin1()))
_IN_RUN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")


# every byte that no base64 run can hold as "." (a run never spans one: after it, a fresh
# search gives the runs the left-to-right search gives)
_BREAKS = bytes(0x6D if chr(b) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789+/_-=\\\r\n \t" else 0x2E for b in range(256))


def _capital_runs(data: bytes) -> list[tuple[int, int]]:
    n = len(data)
    out = []
    pos = 0
    while pos < n:
        s, e = _B64_CAPITAL_RAW(data, max(0, pos - 1), n)[0]
        if s < 0:
            break
        if s > 0 or data[0] not in _IN_RUN:  # (a leading byte, not the run's first)
            s += 1
        out.append((s, e))
        pos = e
    return out


def candidate_runs(data: bytes) -> list[tuple[int, int]]:
    """The base64 / hex runs that can be a blob, in the order ``views`` decodes them: the
    base64 runs (``_B64``, left to right) that hold a capital letter or only hex digits, then
    the hex runs that are not base64 runs too. A base64 run without either is an identifier
    such as ``assert_raises_regex`` (base64 of text has capitals).

    Without a call per identifier: the runs with a capital come from their own pattern
    (``_B64_CAPITAL_RAW``), the hex runs from ``hex_runs``; whether a hex run is a whole base64
    run is decided by the base64 search from the nearest byte before it that no run can hold.
    ``tests/privacy/test_view_skips.py`` compares this with the search and filter it replaces.
    """
    capital = _capital_runs(data)
    hexes = list(hex_runs(data))
    if not hexes:
        return capital
    whole = _whole_base64_runs(data, hexes)
    first = sorted({*capital, *whole})  # (base64 runs never overlap: sorted by start)
    return first + [span for span in hexes if span not in whole]


def _whole_base64_runs(data: bytes, hexes: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """The hex runs (in order) that are base64 runs of ``_B64`` too; the base64 search only
    reads from a break before each (never the same stretch twice: linear)."""
    breaks = data.translate(_BREAKS)
    n = len(data)
    whole: set[tuple[int, int]] = set()
    pos = 0
    for hs, he in hexes:
        pos = max(pos, breaks.rfind(b".", pos, hs) + 1)
        while pos < n:
            s, e = _B64_RAW(data, pos, n)[0]
            if s < 0 or s > hs:
                break
            pos = e
            if s == hs and e == he:
                whole.add((hs, he))
            if e > hs:
                break
    return whole
