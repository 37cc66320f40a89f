"""Fragments of known values: any window long and varied enough to stand for its secret.

A model that saw (part of) a secret can print half of it, reverse it or rot13 it. Each window of
``FRAGMENT`` characters of a value (16 characters at every 4th offset for values over 128
characters) that has no blank, two character classes and >= 3 bits of entropy per character
matches, in the value's forwards, reversed and rot13 form; a match is extended along the form.

:class:`FragmentIndex` holds the forms of ASCII values: each form once, under its 4-byte (8-byte)
grams at the offsets its qualifying windows cover (one entry per offset, not one per window and
offset), so a found secret registers in ~1/4 of the index inserts of one word per window.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
from collections.abc import Iterable, Iterator

from bastion.privacy.checks import char_classes

#: values this long also match as fragments: any window of FRAGMENT characters (16 for values
#: over 128 characters, every 4th window), forwards, reversed and rot13
FRAGMENT_MIN_VALUE = 16
FRAGMENT = 12

_I = struct.Struct("<I")
_Q = struct.Struct("<Q")


def fragment_grid(n: int) -> tuple[int, int]:
    """``(width, step)`` of the fragment windows of an ``n``-character value."""
    return (FRAGMENT, 1) if n <= 128 else (16, 4)


# c * log2(c) for the character counts of a window (entropy without a Counter per window)
_CLOG = [0.0, 0.0, *(c * math.log2(c) for c in range(2, 257))]


_BLANK = re.compile(r"\s")


def _fragment_ok(window: str) -> bool:
    """A window specific enough to stand for its secret: no blanks, mixed, varied."""
    if _BLANK.search(window) is not None or char_classes(window) < 2:
        return False
    n = len(window)
    repeated = sum(map(_CLOG.__getitem__, map(window.count, set(window))))
    return math.log2(n) - repeated / n >= 3.0


def _char_class(ch: str) -> int:
    """The class bit ``char_classes`` counts ``ch`` in: lower, upper, digit or other."""
    return 1 if ch.islower() else 2 if ch.isupper() else 4 if ch.isdigit() else 8


def _qualifying_starts(value: str, width: int, step: int) -> list[int]:
    """``[i for i in range(0, len - width + 1, step) if _fragment_ok(value[i:i + width])]`` in
    one sliding pass: blanks and character classes from running counts, the entropy from a
    running sum of ``c * log2(c)`` (a sum within 1e-9 of the threshold is decided by
    ``_fragment_ok`` itself). A few times cheaper than checking each window on its own: a found
    secret registers its fragments on the message that found it (the 4 KB ``redact`` p99)."""
    n = len(value)
    if n < width:
        return []
    if step >= width:
        return [i for i in range(0, n - width + 1, step) if _fragment_ok(value[i : i + width])]
    # per character: its class bit (lower 1, upper 2, digit 4, other 8), 16 for a blank
    bits = [16 if ch.isspace() else _char_class(ch) for ch in value]
    counts: dict[str, int] = {}
    per_bit = [0] * 17
    total = 0.0
    clog = _CLOG
    bound = width * (math.log2(width) - 3.0)  # entropy >= 3 <=> sum(c log2 c) <= bound
    for j in range(width):  # the first window
        ch = value[j]
        c = counts.get(ch, 0)
        total += clog[c + 1] - clog[c]
        counts[ch] = c + 1
        per_bit[bits[j]] += 1
    out: list[int] = []
    for start in range(0, n - width + 1, step):
        if start:  # slide: the step characters before ``start`` leave, as many enter
            for j in range(start - step, start):
                ch = value[j]
                c = counts[ch]
                total -= clog[c] - clog[c - 1]
                counts[ch] = c - 1
                per_bit[bits[j]] -= 1
            for j in range(start + width - step, start + width):
                ch = value[j]
                c = counts.get(ch, 0)
                total += clog[c + 1] - clog[c]
                counts[ch] = c + 1
                per_bit[bits[j]] += 1
        if per_bit[16] or (per_bit[1] > 0) + (per_bit[2] > 0) + (per_bit[4] > 0) + (
                per_bit[8] > 0) < 2:
            continue
        if abs(total - bound) < 1e-9:
            if _fragment_ok(value[start : start + width]):
                out.append(start)
        elif total < bound:
            out.append(start)
    return out



def _common_prefix(data: bytes, pos: int, form: bytes, at: int) -> int:
    """How many bytes of ``data[pos:]`` equal ``form[at:]`` (binary search over C compares)."""
    lo, hi = 0, min(len(form) - at, len(data) - pos)
    if hi <= 0:
        return 0
    if data.startswith(form[at : at + hi], pos):
        return hi
    hi -= 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if data.startswith(form[at : at + mid], pos):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(data: bytes, pos: int, form: bytes, at: int) -> int:
    """How many bytes before ``data[pos]`` equal those before ``form[at]``."""
    lo, hi = 0, min(at, pos)
    if hi <= 0:
        return 0
    if data.endswith(form[at - hi : at], 0, pos):
        return hi
    hi -= 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if data.endswith(form[at - mid : at], 0, pos):
            lo = mid
        else:
            hi = mid - 1
    return lo



def hit_positions(chunks: tuple[int, ...], hits: set[int]) -> Iterable[int]:
    """Indexes of the ``chunks`` in ``hits``, in text order (C-level search)."""
    if len(hits) > 8:
        return itertools.compress(range(len(chunks)), map(hits.__contains__, chunks))
    return sorted(itertools.chain.from_iterable(_positions(chunks, g) for g in hits))


def _positions(chunks: tuple[int, ...], gram: int) -> Iterator[int]:
    """Indexes of ``gram`` in ``chunks`` (C-level search)."""
    i = chunks.index(gram)
    while True:
        yield i
        try:
            i = chunks.index(gram, i + 1)
        except ValueError:
            return


#: ``(end, label, encoding)`` of the longest match at each start offset
Best = dict[int, tuple[int, str, str]]


#: a gram index: gram -> [(word, its offset) or (form id, its offset)]
GramIndex = dict[int, list[tuple[bytes | int, int]]]


class FragmentIndex:
    """The fragment windows of ASCII values' forms (see the module docstring), indexed in the
    caller's gram indexes (one lookup per text chunk serves words and forms). Not
    thread-safe."""

    def __init__(self) -> None:
        # (form, label, encoding, window width, offsets of its qualifying windows)
        self._forms: list[tuple[bytes, str, str, int, frozenset[int]]] = []
        # per form of 12-character windows: the 4-byte gram at each offset j + 4 (-1 past the
        # end). Every window holding offset j at its offset 0..3 also holds j + 4 .. j + 8,
        # so the text's next aligned chunk must be that gram (checked before the windows)
        self.next_gram: list[dict[int, int]] = []

    def add(self, form: str, label: str, encoding: str, starts: Iterable[int], width: int,
            short: GramIndex, long: GramIndex) -> None:
        """Index ASCII ``form``'s windows of ``width`` characters at ``starts``: windows of
        15+ bytes in ``long`` (8-byte grams), shorter ones in ``short`` (4-byte grams)."""
        starts = frozenset(starts)
        if not starts:
            return
        data = form.encode("ascii")
        fid = len(self._forms)
        self._forms.append((data, label, encoding, width, starts))
        # a window occurring at text offset p covers exactly one aligned chunk (offset a
        # multiple of ``size``), whose content is the window's gram at offset k = (-p) mod size
        if width >= 2 * 8 - 1:
            size, unpack, index = 8, _Q.unpack_from, long
        else:
            size, unpack, index = 4, _I.unpack_from, short
        offsets = sorted({i + k for i in starts for k in range(size)})
        self.next_gram.append({} if size == 8 else {
            j: unpack(data, j + 4)[0] if j + 8 <= len(data) else -1 for j in offsets})
        for j in offsets:
            gram = unpack(data, j)[0]
            entries = index.get(gram)
            if entries is None:
                index[gram] = [(fid, j)]
            else:
                entries.append((fid, j))

    def matches(self, data: bytes, pos: int, fid: int, j: int, size: int,
                cover: tuple[int, int]) -> Iterator[tuple[int, int, str, str]]:
        """``(start, end, label, encoding)`` of each qualifying window of form ``fid`` that
        holds its offset ``j`` and occurs in ``data`` with that offset at ``pos`` (an aligned
        chunk), extended along the form as far as the text follows it. A window inside
        ``cover`` (a match already found) is not verified."""
        form, label, encoding, width, starts = self._forms[fid]
        for k in range(size):  # the windows holding offset j at their offset k
            at = j - k
            start = pos - k
            if at not in starts or (cover[0] <= start and start + width <= cover[1]):
                continue
            if start >= 0 and data.startswith(form[at : at + width], start):
                end = start + width + _common_prefix(data, start + width, form, at + width)
                yield start - _common_suffix(data, start, form, at), end, label, encoding
