"""Bytes to text for scanning: UTF-8, and UTF-16 / UTF-32 (by BOM or by their NUL pattern).

A file is binary (None) only when it is neither: UTF-16/32 text is decoded and scanned, not
skipped (a secret in a UTF-16 ``.reg`` or PowerShell file is still a secret).
"""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
PROBE = 8192


def _nul_pattern(sample: bytes) -> str | None:
    """The UTF-16/32 encoding whose NUL bytes sit where ``sample``'s do (mostly-ASCII text)."""
    n = len(sample) - len(sample) % 4
    if n < 8:
        return None
    quads = [sample[i:n:4] for i in range(4)]
    zeros = [q.count(0) / len(q) for q in quads]
    if zeros[1] > 0.9 and zeros[2] > 0.9 and zeros[3] > 0.9 and zeros[0] < 0.1:
        return "utf-32-le"
    if zeros[0] > 0.9 and zeros[1] > 0.9 and zeros[2] > 0.9 and zeros[3] < 0.1:
        return "utf-32-be"
    even = sample[0:n:2].count(0) / (n / 2)
    odd = sample[1:n:2].count(0) / (n / 2)
    if odd > 0.7 and even < 0.1:
        return "utf-16-le"
    if even > 0.7 and odd < 0.1:
        return "utf-16-be"
    return None


def decode_bytes(data: bytes) -> str | None:
    """``data`` as text (undecodable bytes replaced), or None when it is binary."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, "replace")
    sample = data[:PROBE]
    if b"\0" not in sample:
        return data.decode("utf-8", "replace")
    wide = _nul_pattern(sample)
    if wide is None:
        return None
    return data.decode(wide, "replace")


_SURROGATE = re.compile("[\ud800-\udfff]")


def regex_safe(text: str) -> str:
    """``text`` with lone surrogates (from JSON ``\\ud800`` escapes) replaced by U+FFFD, one
    character each — so offsets stay valid and RE2 (UTF-8 only) can scan it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


# (written to start with the literal "%": ``re`` then skips to each "%" in C; the same pattern
# as ``(?:%[0-9A-Fa-f]{2})+``, which it tries at every position: ~20 ns per byte of any text)
_PERCENT_RUN = re.compile(r"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*")


def _percent_run(m: re.Match[str]) -> str:
    return bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "replace")


def unquote(text: str) -> str:
    """``urllib.parse.unquote`` (UTF-8, invalid bytes replaced) at C speed on any input: one
    call per run of escapes, none for a ``%`` that starts no escape (``%4%4%4…``)."""
    if "%" not in text:
        return text
    return _PERCENT_RUN.sub(_percent_run, text)


_ROT13_LETTERS = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                  "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
_ROT13_STR = str.maketrans(*_ROT13_LETTERS)
_ROT13_BYTES = bytes.maketrans(*(x.encode() for x in _ROT13_LETTERS))


def rot13(text: str) -> str:
    """``tr 'A-Za-z' 'N-ZA-Mn-za-m'`` (same length and offsets). ``str.translate`` is fast only
    on ASCII text (~40 ns per character otherwise: a 4 KB message with one curly quote paid
    0.16 ms); any other text goes through its UTF-8 bytes, where every non-ASCII character is
    bytes >= 0x80 that the table leaves alone (lone surrogates pass through too)."""
    if text.isascii():
        return text.translate(_ROT13_STR)
    return rot13_bytes(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")


def rot13_bytes(data: bytes) -> bytes:
    """``tr 'A-Za-z' 'N-ZA-Mn-za-m'`` over bytes (every byte >= 0x80 left alone)."""
    return data.translate(_ROT13_BYTES)
