"""The kinds of views (see ``views.py``): line prefixes stripped, escapes decoded, string
continuations joined, NUL bytes dropped, rot13, each line reversed. Each builder returns the
view of a text, or None when the text has nothing of its kind.

Linear time, bounded: views are cut with ``re.split`` over patterns that cannot backtrack more
than a constant per position (no nested or adjacent ambiguous quantifiers), runs of adjacent
escapes are decoded as one piece, offsets are summed with ``itertools.accumulate`` (all in C);
at most ``MAX_EDITS`` substitutions per view.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import operator
import re
from array import array
from collections.abc import Callable, Iterator

import re2

from bastion.privacy.checks import raw_matcher
from bastion.privacy.rules import compile_re2, re2_options
from bastion.privacy.textio import rot13
from bastion.privacy.viewbase import MAX_EDITS, ReversedLines, View, split_view, view_of_parts

# ------------------------------------------------------------------------------ line prefixes

# read_file's "     12\t", cat -n, nl, "12: " / "12| ", grep -n's "path:12:" / "path-12-"
_PREFIX = re.compile(r"(?m)^([ \t]*\d{1,9}(?:\t|[:|] ?)|[^\s:]{1,300}[:-]\d{1,9}[:-] ?)")


def _drop(_: str) -> str:
    return ""


_PREFIX_RAW = raw_matcher(compile_re2(_PREFIX.pattern, rule_id="view-prefix"))


def line_prefix_view(text: str, parent: View | None = None, *,
                     probed: bool = False) -> View | None:
    """Tool line prefixes removed (``probed``: the caller has seen one with ``probe``)."""
    if not probed:
        data = text.encode("utf-8", "surrogatepass")
        if _PREFIX_RAW(data, 0, len(data))[0][0] < 0:  # RE2's DFA: is there any prefix?
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


def _escape_parts(text: str, probed: bool = False) -> list[str] | None:
    """``text`` cut at its escape runs by RE2 (source code has a run every few hundred
    characters); None when the runs are dense (``re.split`` does those in C without a Python
    step per run)."""
    data = text.encode("utf-8", "surrogatepass")
    n = len(data)
    if not probed and _ESCAPE_HINT_RAW(data, 0, n)[0][0] < 0:
        return [text]
    # (break-even with re.split: about one run per 100 bytes)
    limit = min(2 * MAX_EDITS, 2 * (64 + n // 128))
    return _cut(text, data, _sparse_cuts(_ESCAPE_RAW, data, 0, limit))


def _sparse_cuts(match: Callable[[bytes, int, int], list[tuple[int, int]]], data: bytes,
                 group: int, limit: int) -> list[int] | None:
    """``[0, s1, e1, s2, e2, …, len(data)]``: the spans of ``group`` in the successive matches
    of ``match`` (each search starting where the group ended); None past ``limit`` cuts."""
    n = len(data)
    cuts = [0]
    pos = 0
    while pos < n:
        spans = match(data, pos, n)
        if spans[0][0] < 0:
            break
        s, e = spans[group]
        cuts += (s, e)
        if len(cuts) > limit:
            return None
        pos = e
    cuts.append(n)
    return cuts


def _cut(text: str, data: bytes, cuts: list[int] | None) -> list[str] | None:
    """``text`` cut at byte offsets ``cuts`` of its UTF-8 ``data`` (at ASCII characters, so
    every piece is whole characters)."""
    if cuts is None:
        return None
    if len(data) == len(text):
        return list(map(text.__getitem__, map(slice, cuts[:-1], cuts[1:])))
    pieces = map(data.__getitem__, map(slice, cuts[:-1], cuts[1:]))
    return [piece.decode("utf-8", "surrogatepass") for piece in pieces]


def escape_view(text: str, parent: View | None = None, *, probed: bool = False) -> View | None:
    """JSON / C string escapes, HTML entities and percent-encoding decoded (``probed``: the
    caller has seen a hint of one with ``probe``)."""
    parts = _escape_parts(text, probed)
    if parts is None:
        if not probed and _ESCAPE_HINT.search(text) is None:
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
# the same line breaks found by RE2 (group 1; the token character after it is consumed, and
# the next search starts at it): fast when wrapped lines are sparse, as they are in code
_JOIN_WRAPPED_RAW = raw_matcher(compile_re2(
    rf"(?m)^[ \t]*[A-Za-z0-9+/_-]{{12,}}=*(\r?\n[ \t]*){_TOK}", rule_id="view-join-wrapped"))
# RE2 over bytes (DFA): is there any join at all? (most texts have none)
_JOIN_ANY_PATTERN = (
    rf"{_TOK}{{4}}[\"'][ \t]*(?:(?:[+.&]|\|\|)[ \t]*)?(?:\\?\r?\n[ \t]*(?:[+.&][ \t]*)?)?[\"']"
    rf"{_TOK}{{4}}|{_TOK}{{4}}\\\r?\n[ \t]*{_TOK}"
    rf"|(?m:^)[ \t]*[A-Za-z0-9+/_-]{{12,}}=*\r?\n[ \t]*{_TOK}")
_JOIN_ANY = raw_matcher(compile_re2(_JOIN_ANY_PATTERN, rule_id="view-join"))


def _join_parts(text: str) -> list[str] | None:
    """``[kept, removed, kept, …, kept]``: ``text`` cut at its joins (None when there is none)."""
    quoted = wrapped = None
    if '"' in text or "'" in text or "\\" in text:
        quoted = _JOIN_QUOTED.split(text, MAX_EDITS)
        if len(quoted) < 2:
            quoted = None
    if "\n" in text:
        wrapped = _wrapped_parts(text)
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


def _wrapped_parts(text: str) -> list[str] | None:
    """``[kept, removed, kept, …]`` for the wrapped-line joins (None when there is none)."""
    data = text.encode("utf-8", "surrogatepass")
    limit = min(2 * MAX_EDITS, 2 * (64 + len(data) // 256))
    parts = _cut(text, data, _sparse_cuts(_JOIN_WRAPPED_RAW, data, 1, limit))
    if parts is None:  # dense: re.split, then [kept, token line, removed, …] regrouped
        split = _JOIN_WRAPPED.split(text, MAX_EDITS)
        parts = [""] * (2 * (len(split) // 3) + 1)
        parts[0:-1:2] = map(operator.add, split[0:-1:3], split[1::3])
        parts[1::2], parts[-1] = split[2::3], split[-1]
    return parts if len(parts) > 1 else None


def _removed(parts: list[str]) -> Iterator[tuple[int, int]]:
    ends = list(itertools.accumulate(map(len, parts[:-1])))
    return zip(ends[0::2], ends[1::2], strict=True)


def continuation_view(text: str, parent: View | None = None, *,
                      probed: bool = False) -> View | None:
    """String concatenations, backslash continuations and wrapped lines joined up
    (``probed``: the caller has seen a join with ``probe``).

    Only findings that cross a join are new (``View.crosses_join``); the rest were in the text.
    """
    if not probed:
        if "\n" not in text and "'" not in text and '"' not in text:
            return None
        data = text.encode("utf-8", "surrogatepass")
        if _JOIN_ANY(data, 0, len(data))[0][0] < 0:  # RE2's DFA: any join at all?
            return None
    parts = _join_parts(text)
    if parts is None:
        return None
    return View("join", "".join(parts[0::2]), None, None, parent, _parts=parts)


# ------------------------------------------------------------------------------ probes

# the three builders' own "is there any at all?" patterns in one RE2 Set: a text that needs
# all three checks is read once instead of three times (~1.3 ns per byte each)
# (a Set has no fallback when its DFA runs out of memory — it reports no match — so it gets
# the keyword Set's budget: a state of this small program always fits)
_PROBE_OPTIONS = re2_options()
_PROBE_OPTIONS.max_mem = 64 << 20
_PROBE_SET = re2.Set.SearchSet(_PROBE_OPTIONS)
for _pattern in (_PREFIX.pattern, _ESCAPE_HINT.pattern, _JOIN_ANY_PATTERN):
    _PROBE_SET.Add(_pattern.encode("utf-8"))
_PROBE_SET.Compile()


def probe(text: str) -> tuple[bool, bool, bool]:
    """Whether ``text`` has (a line prefix, an escape hint, a join): exactly the checks that
    ``line_prefix_view``, ``escape_view`` and ``continuation_view`` make before building their
    view, in one pass (pass ``probed=True`` to them when it is true)."""
    found = _PROBE_SET.Match(text.encode("utf-8", "surrogatepass")) or ()
    return 0 in found, 1 in found, 2 in found


# ------------------------------------------------------------------------------ NUL bytes

_NUL = re.compile("(\x00+)")


def nul_view(text: str, parent: View | None = None) -> View | None:
    """UTF-16/32 text decoded as if it were 8-bit: drop the NULs between the characters."""
    if "\x00" not in text:
        return None
    return split_view("nul", text, _NUL, _drop, parent)


# ------------------------------------------------------------------------------ rot13, rev


# ------------------------------------------------------------------------------ rot13, rev


def rot13_view(text: str, parent: View | None = None) -> View | None:
    """``tr 'A-Za-z' 'N-ZA-Mn-za-m'``: same offsets."""
    n = len(text)
    return View("rot13", rot13(text), array("q", (0, n)), array("q", (0, n)), parent)


def reversed_lines_view(text: str, parent: View | None = None) -> View | None:
    n = len(text)
    # every line reversed in place == the whole text reversed, its lines put back in order
    flipped = "\n".join(text[::-1].split("\n")[::-1])
    return ReversedLines("reversed", flipped, array("q", (0, n)), array("q", (0, n)), parent)
