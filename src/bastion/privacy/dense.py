"""Keyword-dense scanning: one pass of a rule over the text instead of one call per window.

When a rule's keyword hits are so dense that its windows would cover the text anyway, the rule
runs once over the stretch its keywords are in and keeps the matches that overlap one of its
keyword windows (the same findings as window by window). The work per match is bounded:

* the coverage test is one comparison while a match lies in the furthest-reaching window found
  so far (a ``bytes.rfind`` for the nearest hit otherwise; the hits are split out only once a
  match is found outside every window);
* with 64+ hits the rule is searched without captures (RE2's DFA) and the captures and the
  verdict are taken once per distinct match and the byte on each side of it (all that RE2's
  assertions can look at), so repeated rejected candidates never reach ``_findings``;
* a match longer than :data:`LONG_MATCH` is a secret as a whole (fail closed).
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.privacy.compiled import CompiledRule
    from bastion.privacy.detector import _Cand

#: A rule match longer than this many bytes is a secret as a whole: redacted without the
#: false-positive checks (placeholder, entropy, classes, stopwords, allowlist) and, in a
#: keyword-dense scan, without taking its captures (RE2's NFA, ~60 ns per byte). No credential
#: a rule targets is this long (an RSA-4096 PEM key is ~3.2 KB), and a hostile text cannot hide
#: a secret inside such a match: all of it is redacted. Fail-closed on purpose.
LONG_MATCH = 4096

_UNSEEN = (-1, -1)  # (a sentinel: no verdict cached yet)


class KeywordHits:
    """One rule's keyword hits in keyword-dense text: how many (at least), the first and the
    last byte offset, and the offsets themselves on demand. Splitting keyword-dense text into
    its hits costs more than the scan that uses them, and a one-pass scan only asks for the
    nearest hit before a match (``bytes.rfind``, C speed) until that finds none."""

    __slots__ = ("_extra", "_kws", "_low", "_positions", "count", "first", "last")

    def __init__(self, low: bytes, kws: list[bytes], count: int, first: int, last: int,
                 positions: list[int] | None = None) -> None:
        self._low, self._kws, self._positions = low, kws, positions
        self._extra: list[int] = []  # hits of the rule's other keywords, split out already
        self.count, self.first, self.last = count, first, last

    @classmethod
    def known(cls, positions: list[int]) -> KeywordHits:
        return cls(b"", [], len(positions), positions[0], positions[-1], positions)

    def add(self, kw: bytes, count: int, first: int, last: int) -> None:
        """Another keyword of the rule, with at least ``count`` hits (not split)."""
        self._kws.append(kw)
        self.count += count
        self.first, self.last = min(self.first, first), max(self.last, last)

    def add_known(self, positions: list[int]) -> None:
        """The (sorted) hits of the rule's other keywords, split out already."""
        self._extra = sorted(self._extra + positions)
        self.count += len(positions)
        self.first, self.last = min(self.first, positions[0]), max(self.last, positions[-1])

    def positions(self) -> list[int]:
        """Every hit's offset, sorted (non-overlapping hits of each keyword, as ``split``)."""
        if self._positions is None:
            out = self._extra
            for kw in self._kws:
                out = sorted(out + split_offsets(self._low.split(kw), len(kw)))
            self._positions = out
        return self._positions

    def last_between(self, lo: int, hi: int) -> int:
        """The largest hit offset ``p`` with ``lo < p < hi``, or -1. Without the offsets this
        reads at most ``hi - lo`` bytes per keyword: the caller asks for them (``positions``)
        once it got a -1, so a text whose matches lie far from the keywords costs a bisect
        per match, not a scan back to the previous hit."""
        known = self._positions if self._positions is not None else self._extra
        i = bisect.bisect_left(known, hi) - 1
        best = known[i] if i >= 0 and known[i] > lo else -1
        if self._positions is None:
            low, start = self._low, max(0, lo + 1)
            for kw in self._kws:
                best = max(best, low.rfind(kw, start, hi + len(kw) - 1))
        return best


def split_offsets(parts: list[bytes], k: int) -> list[int]:
    """Offsets of the keyword of length ``k`` that ``parts`` (``bytes.split``) was cut at
    (``itertools.accumulate``: no Python step per hit)."""
    # offset of hit i: the lengths of parts 0..i plus i keywords, i.e. the running sum of
    # (len(part) + k) started at -k
    sums = list(itertools.accumulate(map(k.__add__, map(len, parts)), initial=-k))
    return sums[1:-1]



def run_near_keywords(comp: CompiledRule, idx: int, data: bytes, hits: KeywordHits,
                  out: list[_Cand]) -> None:
    """Run one rule over the whole text, keeping the matches that touch a keyword window.

    Same findings as running it window by window (a match must still overlap the window
    ``[p - back, p + fwd)`` of one of its keyword offsets ``p``), with one C call per match
    instead of one per window. On keyword-dense text the test per match is one comparison:
    a window found to overlap one match also overlaps every later match that starts in it.
    """
    # hundreds of keyword hits: the text likely repeats itself, so find matches without
    # captures (DFA) and take the captures and the verdict once per distinct match (below)
    find = comp.find if hits.count >= 64 else None
    match = find or comp.match
    back, fwd = comp.back, comp.fwd
    end_of_last = hits.last + fwd
    n = len(data)
    # only the stretch of text the keywords are in (keyword-dense text is often one part
    # of a larger text): from a match start that can still reach the first window (as in
    # ``_run``, at most 4 KB before it) to the last window's end, grown if a match reaches it
    pos = max(0, hits.first - back - 4096)
    hi = min(n, hits.last + fwd)
    # end of the window [p - back, p + fwd) of the last keyword p a match overlapped: a
    # later match starts at or after that match's end, so it overlaps the window too if it
    # starts before this
    covered = -1
    # per distinct match and the byte on each side (all that RE2's assertions can look
    # at): the secret span relative to the match if the rule accepts it, else None
    relative: dict[Any, tuple[int, int] | None] = {}
    seen = relative.get
    while pos <= hi:
        spans = match(data, pos, hi)
        ms, me = spans[0]
        if ms < 0:
            return
        if me == hi and hi < n:  # may continue past the stretch: search on to the end
            hi, pos = n, ms
            continue
        if ms >= covered:
            if ms >= end_of_last:
                return  # no keyword window left ahead
            # the last keyword offset p with ms - fwd < p < max(me, ms + 1) + back: the
            # window that reaches furthest of those the match overlaps
            p = hits.last_between(ms - fwd, max(me, ms + 1) + back)
            if p >= 0:
                covered = p + fwd
            else:
                hits.positions()  # (further look-ups by bisect)
                pos = me if me > ms else me + 1
                continue
        if find is None:  # (few hits: every candidate goes to ``_findings``)
            span = comp.secret_span_raw(spans)
            if span is not None:
                out.append((idx, span[0], span[1]))
            pos = me if me > ms else me + 1
            continue
        key = (data[ms - 1 : me + 1] if ms and me < n
               else (ms == 0, me == n, data[max(0, ms - 1) : me + 1]))
        rel = seen(key, _UNSEEN)
        if rel is _UNSEEN:
            rel = relative[key] = _relative(comp, data, ms, me)
        if rel is not None:
            out.append((idx, ms + rel[0], ms + rel[1]))
        pos = me if me > ms else me + 1

def _relative(comp: CompiledRule, data: bytes, ms: int, me: int) -> tuple[int, int] | None:
    """The secret span of the match ``data[ms:me]`` relative to ``ms``, if the rule
    accepts the secret (the verdict depends on the secret alone), else None."""
    if me - ms > LONG_MATCH:
        return 0, me - ms
    full = comp.match(data, ms, me)
    if full[0] != (ms, me):
        return None
    span = comp.secret_span_raw(full)
    if span is None:
        return None
    s, e = span
    if e - s <= LONG_MATCH and not comp.accepts(data[s:e].decode("utf-8", "surrogatepass")):
        return None
    return s - ms, e - ms
