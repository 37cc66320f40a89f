"""The scanner's keyword prefilter: every rule's keywords in one RE2 Set (one DFA pass).

The Set also holds each keyword rot13'd and reversed, so the same pass tells which of the
text's *reshaped* views (``rot13``, each line ``reversed``: see ``views.py``) can hold a
finding at all: a rule only runs near one of its keywords, so a view in which no keyword
occurs has no finding, and building and scanning it (two more passes over the text) can be
skipped. Exact, byte for byte:

* the scanner lowercases ASCII bytes only, which commutes with rot13 and with reversing a
  line (ASCII letters stay ASCII letters, other characters are left alone);
* ``K`` occurs in the rot13'd bytes iff ``rot13(K)`` occurs in the original's (rot13 is a
  byte-wise bijection, letters only);
* ``K`` (no newline) occurs in a reversed line iff ``K`` reversed character-wise occurs in
  the line (UTF-8 is self-synchronising: a valid sequence found inside a text starts and ends
  at character boundaries, also with lone surrogates encoded as three bytes).

When a rule has no keyword (it runs over every text) or a keyword holds a newline, nothing is
known and every reshaped view is built, as before.

The Set with the shaped keywords has three times the patterns (~5 ms to compile, in every
process that builds a scanner). Until a process has asked about :data:`SMALL_BUDGET` bytes,
the same answer is computed with the plain Set over the text's rot13'd and reversed bytes (two
more passes, cheap on the short texts of one command or one message); after that the shaped
Set is compiled and used. Both give the same indices (``K`` occurs in the reversed text iff
``K`` reversed occurs in the text, and a keyword without a newline never spans two lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import re2

from bastion.privacy.textio import rot13_bytes

#: which reshaped views of a text can hold a finding, each with the (sorted) indices of the
#: keywords that occur in it; None when that is not known (the view is scanned as any text)
Shapes = Mapping[str, "tuple[int, ...] | None"]
#: nothing known: every reshaped view can hold a finding
SHAPES: Shapes = MappingProxyType({"rot13": None, "reversed": None})


class KeywordSet:
    """``keywords`` (lowercase) in an RE2 Set, with their rot13'd and reversed forms.

    ``match(low)`` gives the forward keywords present in ``low`` (the text's bytes, ASCII
    lowercased) and the shapes in which some keyword occurs.
    """

    def __init__(self, table: Mapping[str, Iterable[int]], *, shapes: bool) -> None:
        self.keywords: list[bytes] = [k.encode("utf-8") for k in sorted(table)]
        self.owners: dict[bytes, tuple[int, ...]] = {
            k.encode("utf-8"): tuple(sorted(v)) for k, v in table.items()}
        self.count = len(self.keywords)
        self._set = _compile(self.keywords)
        # the same Set with the shaped keywords after the forward ones, for the texts whose
        # reshaped views are asked about (an original: views are scanned with the plain Set,
        # whose DFA has a third of the states to build)
        self._shaped: Any = None  # compiled once SMALL_BUDGET bytes were asked about
        self._asked = 0
        self._shape_of: list[str] = []  # the shape of each extra pattern (index - count)
        self.shapes_known = shapes and not any(b"\n" in k for k in self.keywords)
        if self.shapes_known:
            for _ in self.keywords:
                self._shape_of += ("rot13", "reversed")

    def _shaped_set(self) -> Any:
        if self._shaped is None:  # (two threads may both compile it: harmless)
            extra: list[bytes] = []
            for k in self.keywords:
                extra += (rot13_bytes(k), k.decode("utf-8")[::-1].encode("utf-8"))
            self._shaped = _compile([*self.keywords, *extra])
        return self._shaped

    def _match_small(self, low: bytes) -> tuple[list[int], Shapes]:
        """:meth:`match` with the plain Set over the reshaped bytes (see the module)."""
        forward = sorted(self._set.Match(low) or ())
        rot = sorted(self._set.Match(rot13_bytes(low)) or ())
        rev = low.decode("utf-8", "surrogatepass")[::-1].encode("utf-8", "surrogatepass")
        back = sorted(self._set.Match(rev) or ())
        if not rot and not back:
            return forward, NO_SHAPES
        shaped = {"rot13": tuple(rot), "reversed": tuple(back)}
        return forward, {shape: ks for shape, ks in shaped.items() if ks}

    def match(self, low: bytes, *, shapes: bool = False) -> tuple[list[int], Shapes]:
        """(sorted indices of the keywords in ``low``, the reshaped views that can hold a
        finding: all of them, unknown, unless ``shapes`` is asked for and known).

        Sorted, not in RE2's order of discovery (which depends on where each keyword first
        occurs): a reshaped view scanned with the keywords known from here must see them in
        the order its own pass would give."""
        if not shapes or not self.shapes_known:
            return sorted(self._set.Match(low) or ()), SHAPES
        if self._shaped is None and self._asked + len(low) <= SMALL_BUDGET:
            self._asked += len(low)
            return self._match_small(low)
        found = sorted(self._shaped_set().Match(low) or ())
        count = self.count
        forward = [i for i in found if i < count]
        if len(forward) == len(found):
            return forward, NO_SHAPES
        shaped: dict[str, list[int]] = {}
        for i in found[len(forward):]:  # pattern count + 2k is keyword k rot13'd, + 1 reversed
            shaped.setdefault(self._shape_of[i - count], []).append((i - count) // 2)
        return forward, {shape: tuple(sorted(set(ks))) for shape, ks in shaped.items()}


#: bytes a process may ask about with the plain Set before the shaped Set is compiled
SMALL_BUDGET = 256 * 1024

#: known: no reshaped view holds a keyword
NO_SHAPES: Shapes = MappingProxyType({})


def _compile(patterns: list[bytes]) -> Any:
    opts = re2.Options()
    opts.log_errors = False
    opts.longest_match = True
    opts.max_mem = 64 << 20
    kw_set = re2.Set.SearchSet(opts)
    for k in patterns:
        kw_set.Add(re2.escape(k))
    kw_set.Compile()
    return kw_set
