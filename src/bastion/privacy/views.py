"""Other shapes of the same text: what a secret looks like after it has been reformatted.

A *view* is a derived text (tool line prefixes stripped, escapes decoded, continuation lines
joined, a base64 / hex / gzip blob decoded, NUL bytes of UTF-16 dropped) plus a map from its
offsets back to the original. The scanner and the known-value matcher run over every view; a
finding maps back to a span of the original, so redaction replaces the *encoded* span (a
secret inside a base64 blob redacts the whole blob).

Linear time, bounded: views are cut with ``re.split`` over patterns that cannot backtract more
than a constant per position (no nested or adjacent ambiguous quantifiers), runs of adjacent
escapes are decoded as one piece, offsets are summed with ``itertools.accumulate`` (all in C);
at most ``MAX_EDITS`` substitutions per view, ``MAX_BLOBS`` decoded blobs, ``MAX_DEPTH`` levels
of nesting and ``MAX_INFLATE`` bytes of gzip output per blob.
"""

from __future__ import annotations

import bisect
import functools
import html
import itertools
import json
import operator
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bastion.privacy.blobs import HEXISH, MIN_BLOB, decode_blob, runs
from bastion.privacy.detector import Finding, SecretScanner, dedupe, raw_matcher
from bastion.privacy.rules import compile_re2
from bastion.privacy.textio import rot13

MAX_EDITS = 1_000_000
MAX_BLOBS = 2_000
MAX_DEPTH = 2
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


# ------------------------------------------------------------------------------ line prefixes

# read_file's "     12\t", cat -n, nl, "12: " / "12| ", grep -n's "path:12:" / "path-12-"
_PREFIX = re.compile(r"(?m)^([ \t]*\d{1,9}(?:\t|[:|] ?)|[^\s:]{1,300}[:-]\d{1,9}[:-] ?)")


def _drop(_: str) -> str:
    return ""


_PREFIX_RAW = raw_matcher(compile_re2(_PREFIX.pattern, rule_id="view-prefix"))


def line_prefix_view(text: str, parent: View | None = None) -> View | None:
    data = text.encode("utf-8", "surrogatepass")
    if _PREFIX_RAW(data, 0, len(data))[0][0] < 0:  # RE2's DFA: is there any prefix at all?
        return None
    return split_view("prefix", text, _PREFIX, _drop, parent)


# ------------------------------------------------------------------------------ escapes

# runs of adjacent escapes of one family: JSON / C string escapes, \xNN, HTML entities, %XX
_ESCAPE = re.compile(  # the lookahead lets the engine skip to "\\", "&" or "%" (6x faster)
    r"(?=[\\\\&%])((?:\\u[0-9a-fA-F]{4}|\\[\"\\/'bfnrt])+|(?:\\x[0-9a-fA-F]{2})+"
    r"|(?:&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,7});)+"
    r"|(?:%[0-9a-fA-F]{2})+)")
_ESCAPE_HINT = re.compile(r"\\[\"\\/'nrtux]|&#?[a-zA-Z0-9]{2,8};|%[0-9a-fA-F]{2}")


_COMMON_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'",
                    "&apos;": "'", "&nbsp;": "\xa0", "&amp;": "&"}


@functools.lru_cache(maxsize=4096)
def _unescape(run: str) -> str:
    head = run[:2]
    if head == "\\x":
        return bytes.fromhex(run.replace("\\x", "")).decode("utf-8", "replace")
    if run[0] == "\\":
        try:
            out = json.loads('"' + run.replace("\\'", "'") + '"')
        except ValueError:
            return run
        return out if isinstance(out, str) else run
    if run[0] == "&":
        # the common entities by str.replace (C speed; "&amp;" last, so "&amp;lt;" stays
        # "&lt;"), when they are the only ones; else html.unescape (one Python call each)
        if run.count("&") == sum(map(run.count, _COMMON_ENTITIES)):
            for entity, char in _COMMON_ENTITIES.items():
                run = run.replace(entity, char)
            return run
        return html.unescape(run)
    return bytes.fromhex(run.replace("%", "")).decode("utf-8", "replace")


_ESCAPE_HINT_RAW = raw_matcher(compile_re2(_ESCAPE_HINT.pattern, rule_id="view-escape-hint"))
# the same runs found by RE2's DFA (no lookarounds there): fast when runs are sparse
_ESCAPE_RAW = raw_matcher(compile_re2(_ESCAPE.pattern[_ESCAPE.pattern.index(")") + 1:],
                                      rule_id="view-escape"))


def _escape_parts(text: str) -> list[str] | None:
    """``text`` cut at its escape runs by RE2 (source code has a run every few hundred
    characters); None when the text is not ASCII or the runs are dense (``re.split`` does
    those in C without a Python step per run)."""
    if not text.isascii():
        return None
    data = text.encode("ascii")
    n = len(data)
    if _ESCAPE_HINT_RAW(data, 0, n)[0][0] < 0:
        return [text]
    limit = 2 * (64 + n // 128)  # (break-even with re.split: about one run per 100 bytes)
    cuts = [0]
    pos = 0
    while pos < n:
        s, e = _ESCAPE_RAW(data, pos, n)[0]
        if s < 0:
            break
        cuts += (s, e)
        if len(cuts) > limit:
            return None
        pos = e
    cuts.append(n)
    return list(map(text.__getitem__, map(slice, cuts[:-1], cuts[1:])))


def escape_view(text: str, parent: View | None = None) -> View | None:
    """JSON / C string escapes, HTML entities and percent-encoding decoded."""
    parts = _escape_parts(text)
    if parts is None:
        if _ESCAPE_HINT.search(text) is None:
            return None
        parts = _ESCAPE.split(text, MAX_EDITS)
    return view_of_parts("escape", parts, _unescape, parent)


# ------------------------------------------------------------------------------ continuations

# Joins removed: "abcd" + "efgh" / 'abcd' 'efgh' / "abcd" +\n "efgh" (4+ token characters on
# each side, so "" pairs are not joins), `\`-newline after a token, and the line break after a
# line that is one token of 12+ characters (a token wrapped at a column, a YAML folded scalar).
# Linear: every quantifier is possessive (``*+``, no backtracking), the token context is checked
# by fixed-width lookarounds, and the removed parts are cut out by ``re.split`` (C speed, no
# Python per join: text made of nothing but joins is still split at ~30 ms/MB).
_TOK = "[A-Za-z0-9+/=_-]"
# quoted-string joins and backslash continuations: the removed part is the whole match
# (it starts with the character class of its first character, so ``re`` skips to the next quote
# or backslash in C instead of trying the pattern at every position; the lookbehinds then see
# that character too)
_JOIN_QUOTED = re.compile(
    rf"([\"'\\](?:(?<={_TOK}{{4}}[\"'])[ \t]*+(?:(?:[+.&]|\|\|)[ \t]*+)?+"
    rf"(?:\\?\r?\n[ \t]*+(?:[+.&][ \t]*+)?+)?+[\"'](?={_TOK}{{4}})"
    rf"|(?<={_TOK}{{4}}\\)\r?\n[ \t]*+(?={_TOK})))")
# wrapped lines: group 1 is the token line (kept), group 2 the line break (removed)
_JOIN_WRAPPED = re.compile(
    rf"(?m)(^[ \t]*+[A-Za-z0-9+/_-]{{12,}}+=*+)(\r?\n[ \t]*+)(?={_TOK})")
# RE2 over bytes (DFA): is there any join at all? (most texts have none)
_JOIN_ANY = raw_matcher(compile_re2(
    rf"{_TOK}{{4}}[\"'][ \t]*(?:(?:[+.&]|\|\|)[ \t]*)?(?:\\?\r?\n[ \t]*(?:[+.&][ \t]*)?)?[\"']"
    rf"{_TOK}{{4}}|{_TOK}{{4}}\\\r?\n[ \t]*{_TOK}"
    rf"|(?m:^)[ \t]*[A-Za-z0-9+/_-]{{12,}}=*\r?\n[ \t]*{_TOK}", rule_id="view-join"))


def _join_parts(text: str) -> list[str] | None:
    """``[kept, removed, kept, …, kept]``: ``text`` cut at its joins (None when there is none)."""
    quoted = wrapped = None
    if '"' in text or "'" in text or "\\" in text:
        quoted = _JOIN_QUOTED.split(text, MAX_EDITS)
        if len(quoted) < 2:
            quoted = None
    if "\n" in text:
        split = _JOIN_WRAPPED.split(text, MAX_EDITS)
        if len(split) > 1:  # [kept, token line, removed, kept, …]: the line is kept too
            wrapped = [""] * (2 * (len(split) // 3) + 1)
            wrapped[0:-1:2] = map(operator.add, split[0:-1:3], split[1::3])
            wrapped[1::2], wrapped[-1] = split[2::3], split[-1]
    if quoted is None or wrapped is None:
        return quoted or wrapped
    # both kinds (rare): the removed parts never overlap; merge them by offset
    spans = sorted(itertools.chain(_removed(quoted), _removed(wrapped)))
    cuts = [0]
    for s, e in spans:
        if s >= cuts[-1]:  # (the two splits are independent: keep the first of an overlap)
            cuts += (s, e)
    cuts.append(len(text))
    return list(map(text.__getitem__, map(slice, cuts[:-1], cuts[1:])))


def _removed(parts: list[str]) -> Iterator[tuple[int, int]]:
    ends = list(itertools.accumulate(map(len, parts[:-1])))
    return zip(ends[0::2], ends[1::2], strict=True)


def continuation_view(text: str, parent: View | None = None) -> View | None:
    """String concatenations, backslash continuations and wrapped lines joined up.

    Only findings that cross a join are new (``View.crosses_join``); the rest were in the text.
    """
    if "\n" not in text and "'" not in text and '"' not in text:
        return None
    data = text.encode("utf-8", "surrogatepass")
    if _JOIN_ANY(data, 0, len(data))[0][0] < 0:  # RE2's DFA: any join at all?
        return None
    parts = _join_parts(text)
    if parts is None:
        return None
    return View("join", "".join(parts[0::2]), None, None, parent, _parts=parts)


# ------------------------------------------------------------------------------ NUL bytes

_NUL = re.compile("(\x00+)")


def nul_view(text: str, parent: View | None = None) -> View | None:
    """UTF-16/32 text decoded as if it were 8-bit: drop the NULs between the characters."""
    if "\x00" not in text:
        return None
    return split_view("nul", text, _NUL, _drop, parent)


# ------------------------------------------------------------------------------ blobs


def blob_views(text: str, parent: View | None = None) -> Iterator[View]:
    """One view per base64 / base32 / hex blob in ``text`` that decodes to text (gzip
    inflated), ordered by kind then position."""
    data = text.encode("utf-8", "surrogatepass")
    ascii_only = len(data) == len(text)
    count = 0
    for bs, be in runs(data):
        raw = data[bs:be]
        if be - bs < MIN_BLOB or (raw.lower() == raw and not HEXISH.fullmatch(raw)):
            continue  # short, or no capital letter and not hex: an identifier
        decoded = decode_blob(raw.decode("ascii"))
        if decoded is None:
            continue
        if ascii_only:
            s, e = bs, be
        else:  # rare: only for blobs that decoded
            s = len(data[:bs].decode("utf-8", "surrogatepass"))
            e = s + (be - bs)
        yield View("blob", decoded, array("q", (0, 0, len(decoded))), array("q", (s, s, e)),
                   parent)
        count += 1
        if count >= MAX_BLOBS:
            return


# ------------------------------------------------------------------------------ all views

# ------------------------------------------------------------------------------ rot13, rev


def rot13_view(text: str, parent: View | None = None) -> View | None:
    """``tr 'A-Za-z' 'N-ZA-Mn-za-m'``: same offsets."""
    n = len(text)
    return View("rot13", rot13(text), array("q", (0, n)), array("q", (0, n)), parent)


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


def reversed_lines_view(text: str, parent: View | None = None) -> View | None:
    n = len(text)
    # every line reversed in place == the whole text reversed, its lines put back in order
    flipped = "\n".join(text[::-1].split("\n")[::-1])
    return ReversedLines("reversed", flipped, array("q", (0, n)), array("q", (0, n)), parent)


_STEPS: tuple[Callable[[str, View | None], View | None], ...] = (
    nul_view, line_prefix_view, escape_view, continuation_view)


# which views are derived again from a view of each kind (decoded text can hold anything;
# a stripped / joined text only needs joining / decoding)
_CHILDREN: dict[str, tuple[Callable[[str, View | None], View | None], ...]] = {
    "root": (*_STEPS, rot13_view, reversed_lines_view), "blob": _STEPS, "escape": _STEPS,
    "nul": _STEPS, "prefix": (continuation_view,), "join": (), "rot13": (continuation_view,),
    "reversed": (),
}


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
# A view derived from an escape view differs from the same view of the original only around
# decoded characters, and only characters of these kinds can make it differ: e.g. escapes that
# decode to blanks, quotes and backslashes (most escapes in source code) form no new blob.
_NEEDS: dict[Callable[..., Any], frozenset[str]] = {
    nul_view: frozenset("\x00"),
    line_prefix_view: frozenset("\n\r\t:|-0123456789"),
    escape_view: frozenset("\\&%#;"),
    continuation_view: _TOKEN_CHARS | frozenset("\"'\\\n\r\t +.&|"),
    blob_views: _TOKEN_CHARS | frozenset("\t"),
}


def _worth(step: Callable[..., Any], parent: View | None) -> bool:
    decoded = parent.decoded if parent is not None else None
    return decoded is None or not decoded.isdisjoint(_NEEDS[step])


def views(text: str, depth: int = 0, parent: View | None = None) -> Iterator[View]:
    """Every derived view of ``text`` (not ``text`` itself), nested up to ``MAX_DEPTH``."""
    yield from _views(text, depth, parent, None)


def _views(text: str, depth: int, parent: View | None, join: View | None) -> Iterator[View]:
    if depth >= MAX_DEPTH or not text:
        return
    kind = parent.kind if parent is not None else "root"
    for sub_text, sub in _slices(text, parent):
        for step in _CHILDREN[kind]:
            if kind == "escape" and not _worth(step, sub):
                continue
            if kind == "rot13" and step is continuation_view:
                # rot13 keeps every join where it was (joins are made of quotes, blanks,
                # operators and token characters; rot13 maps letters to letters): the
                # original's join view, rot13'd — and no join view when the original has none
                if join is None:
                    continue
                v: View | None = View("join", rot13(join.text), join._vb, join._ob,
                                      sub, _regions=join._regions, _parts=join._parts)
            else:
                v = step(sub_text, sub)
            if v is None:
                continue
            if kind == "root" and v.kind == "join":
                join = v
            yield v
            yield from _views(v.text, depth + 1, v, join)
        if kind in ("root", "blob", "escape", "nul") and (
            kind != "escape" or _worth(blob_views, sub)
        ):
            for v in blob_views(sub_text, sub):
                yield v
                yield from _views(v.text, depth + 1, v, None)


def _slices(text: str, parent: View | None) -> list[tuple[str, View | None]]:
    """Where views of ``parent`` can differ from the same views of the original: around its
    changes (``View.regions``) when they are sparse — a line-prefix or escape view of a large
    text changes a few places, and views of the rest would repeat the original's views."""
    if parent is None or parent.kind not in ("prefix", "escape"):
        return [(text, parent)]
    regions = parent.regions()
    if regions == [(0, len(text))]:
        return [(text, parent)]
    out: list[tuple[str, View | None]] = []
    for a, b in regions:  # a piece of the parent's text, mapped back through the parent
        piece = View(parent.kind, text[a:b], array("q", (0, b - a, b - a)),
                     array("q", (a, b, b)), parent, decoded=parent.decoded)
        out.append((piece.text, piece))
    return out


def reshaped(v: View) -> bool:
    """True for a view of a rot13'd or reversed text (known values are indexed in those shapes
    already: matching them there again finds nothing new)."""
    node: View | None = v
    while node is not None:
        if node.kind in ("rot13", "reversed"):
            return True
        node = node.parent
    return False


def view_findings(scan: Callable[[str], list[Any]], v: View) -> list[tuple[Any, int]]:
    """``(match, offset)`` for ``scan`` (rule scanner or known-value finder) over the regions
    of view ``v``: a match's view span is ``match.start + offset``. A match that reaches a
    region's end may continue past it: then the whole view is scanned instead."""
    regions = v.regions()
    out: list[tuple[Any, int]] = []
    for a, b in regions:
        for m in scan(v.text[a:b] if (a, b) != (0, len(v.text)) else v.text):
            if b < len(v.text) and m.end + a >= b:
                return [(m, 0) for m in scan(v.text)]
            out.append((m, a))
    return out


def scan_views(scanner: SecretScanner, text: str) -> list[Finding]:
    """``scanner.scan(text)`` plus the findings in every view, as spans of ``text``.

    A finding inside a decoded view covers the whole encoded span; its ``secret`` is the
    decoded value (so registering it as a known value also catches its other encodings).
    """
    found = list(scanner.scan(text))
    extra = False
    for v in views(text):
        for f, off in view_findings(scanner.scan, v):
            if v.kind == "join" and not v.crosses_join(f.start + off, f.end + off):
                continue
            s, e = v.span(f.start + off, f.end + off)
            found.append(Finding(f.rule_id, s, e, 0, f.confidence, f.secret))
            extra = True
    if not extra:
        return found
    return dedupe(found, text)
