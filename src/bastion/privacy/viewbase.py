"""A view of a text: a derived text and the map from its offsets back to the original.

See ``views.py`` for what the views are and how they are used; ``viewkinds.py`` builds them.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_EDITS = 1_000_000
#: characters scanned on each side of a change in a view (see View.regions)
REGION_MARGIN = 2048


#: view kinds whose every character is new (scanned whole)
_WHOLE = frozenset({"blob", "nul", "rot13", "reversed"})


@dataclass
class View:
    """``text`` derived from an original, made of pieces that map back to it.

    Piece ``i`` is ``text[vb[i]:vb[i + 1]]`` and came from ``original[ob[i]:ob[i + 1]]``.
    Even pieces are copied (offset by offset), odd ones were decoded or removed (any offset
    inside maps to the whole original piece). Offsets are relative to the parent view's text
    when there is one.
    """

    kind: str
    text: str
    _vb: array[int] | None
    _ob: array[int] | None
    parent: View | None = None
    _joins: list[int] | None = field(default=None, repr=False)
    _regions: dict[int, list[tuple[int, int]]] = field(default_factory=dict, repr=False)
    #: the characters the decoded pieces hold (escape views: which further views can matter)
    decoded: frozenset[str] | None = field(default=None, repr=False)
    #: the indices of the rule keywords that occur in ``text``, when known (a rot13'd or
    #: reversed view's, from its original's keyword pass: see ``SecretScanner.scan``)
    keywords: tuple[int, ...] | None = field(default=None, repr=False)
    #: a join view's pieces of the original (copied, removed, copied, …): ``vb`` / ``ob`` are
    #: made from them when first asked for (a join-dense text needs neither unless a finding
    #: in the view is mapped back: ~20 ns per piece saved twice)
    _parts: list[str] | None = field(default=None, repr=False)

    @property
    def vb(self) -> array[int]:
        if self._vb is None:
            self._build()
        assert self._vb is not None
        return self._vb

    @property
    def ob(self) -> array[int]:
        if self._ob is None:
            self._build()
        assert self._ob is not None
        return self._ob

    def _build(self) -> None:
        parts = self._parts
        assert parts is not None
        lens = list(map(len, parts))
        self._ob = array("q", itertools.accumulate(lens, initial=0))
        lens[1::2] = bytes(len(parts) // 2)  # removed pieces are empty in the view
        self._vb = array("q", itertools.accumulate(lens, initial=0))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering view span ``[start, end)``."""
        a = self._at(start, False)
        b = self._at(max(start, end - 1), True)
        if self.parent is not None:  # a, b are offsets in the parent's text
            pa, pb = a, max(a + 1, b)
            a = self.parent.span(pa, pa + 1)[0]
            b = self.parent.span(pb - 1, pb)[1]
        return a, max(a, b)

    def _at(self, pos: int, end: bool) -> int:
        i = min(max(0, bisect.bisect_right(self.vb, pos) - 1), len(self.vb) - 2)
        if i % 2 == 0:  # copied piece
            return min(self.ob[i + 1], self.ob[i] + (pos - self.vb[i]) + (1 if end else 0))
        return self.ob[i + 1] if end else self.ob[i]

    def regions(self, margin: int = REGION_MARGIN) -> list[tuple[int, int]]:
        """The parts of the view to scan: ``margin`` characters around each change, merged.

        A copied stretch far from any change reads exactly as in the original, which is
        scanned anyway. Blob and NUL views (all new text) are scanned whole. (Computed with
        C-level iteration: a view of hostile text can have a million changes.)
        """
        n = len(self.text)
        if self.kind in _WHOLE or (len(self._parts) < 2 if self._vb is None and self._parts
                                   is not None else len(self.vb) < 3):
            return [(0, n)]
        cached = self._regions.get(margin)
        if cached is None:  # (asked by each scanner of the view: computed once)
            cached = self._regions[margin] = self._merged_regions(margin, n)
        return cached

    def _merged_regions(self, margin: int, n: int) -> list[tuple[int, int]]:
        parts = self._parts
        if self._vb is None and parts is not None and max(
            map(len, parts[2:-1:2]), default=0) <= 2 * margin:
            # no copied piece between two joins is long enough to open a gap: one region
            # from the first join's margin to the last one's (from the pieces' lengths alone)
            a, b = max(0, len(parts[0]) - margin), min(n, n - len(parts[-1]) + margin)
            return [(0, n)] if (b - a) * 2 >= n else [(a, b)]
        # (unclamped: a start below 0 or an end past n never opens a gap; clamped below)
        starts = list(map(operator.sub, self.vb[1:-1:2], itertools.repeat(margin)))
        ends = list(map(operator.add, self.vb[2::2], itertools.repeat(margin)))
        # a region ends where the next change's margin does not reach the previous one's
        gaps = list(itertools.compress(range(len(starts) - 1),
                                       map(operator.gt, starts[1:], ends[:-1])))
        firsts = [max(0, starts[0]), *(starts[i + 1] for i in gaps)]
        lasts = [*(ends[i] for i in gaps), min(n, ends[-1])]
        if sum(map(operator.sub, lasts, firsts)) * 2 >= n:
            return [(0, n)]  # mostly covered: one pass beats many small ones
        return list(zip(firsts, lasts, strict=True))

    def crosses_join(self, start: int, end: int) -> bool:
        """True if ``[start, end)`` spans a place where text was removed or decoded."""
        if self._joins is None:
            self._joins = list(self.vb[1::2])
        i = bisect.bisect_right(self._joins, start)
        return i < len(self._joins) and self._joins[i] < end


def split_view(kind: str, text: str, pattern: re.Pattern[str],
               decode: Callable[[str], str], parent: View | None = None) -> View | None:
    """A view of ``text`` with each match of ``pattern`` (one capturing group around all of
    it) replaced by ``decode(match)``; None when nothing matched."""
    return view_of_parts(kind, pattern.split(text, MAX_EDITS), decode, parent)


def view_of_parts(kind: str, parts: list[str], decode: Callable[[str], str],
                  parent: View | None = None) -> View | None:
    """The view of ``parts`` (``[copied, decoded, copied, …, copied]``, as ``re.split`` with
    one group gives them), each odd part replaced by ``decode(part)``."""
    if len(parts) < 2:
        return None
    tokens = parts[1::2]
    out = parts[:]
    out[1::2] = map(decode, tokens)
    joined = "".join(out)
    if not joined:
        return None  # nothing left to scan
    vb = array("q", itertools.accumulate(map(len, out), initial=0))
    ob = array("q", itertools.accumulate(map(len, parts), initial=0))
    return View(kind, joined, vb, ob, parent, decoded=frozenset("".join(out[1::2])))


# ------------------------------------------------------------------------------ rot13, rev


@dataclass
class ReversedLines(View):
    """Each line reversed in place (``rev``): a span maps to the mirrored span of its line."""

    _starts: list[int] | None = field(default=None, repr=False)

    @property
    def line_starts(self) -> list[int]:
        """Offset of each line (computed on the first finding: most views have none)."""
        if self._starts is None:
            lens = map(len, self.text.split("\n"))
            self._starts = list(itertools.accumulate(
                map(operator.add, lens, itertools.repeat(1)), initial=0))[:-1]
        return self._starts

    def span(self, start: int, end: int) -> tuple[int, int]:
        starts = self.line_starts
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, max(start, end - 1)) - 1
        ls = starts[first]
        le = self._line_end(first)
        if first == last:  # (a span may include the line's newline: clamp to the line)
            a, b = ls + (le - min(end, le)), ls + (le - min(start, le))
        else:  # across lines: cover the lines whole
            a, b = ls, self._line_end(last)
        if self.parent is not None:
            return self.parent.span(a, b)
        return a, b

    def _line_end(self, i: int) -> int:
        starts = self.line_starts
        return starts[i + 1] - 1 if i + 1 < len(starts) else len(self.text)
