"""Other shapes of the same text: what a secret looks like after it has been reformatted.

A *view* is a derived text (tool line prefixes stripped, escapes decoded, continuation lines
joined, a base64 / hex / gzip blob decoded, NUL bytes of UTF-16 dropped) plus a map from its
offsets back to the original. The scanner and the known-value matcher run over every view; a
finding maps back to a span of the original, so redaction replaces the *encoded* span (a
secret inside a base64 blob redacts the whole blob).

The ``View`` class is in ``viewbase.py``, the builders of each kind in ``viewkinds.py``; this
module derives every view of a text (nested, only where a view can differ) and scans them.

Linear time, bounded: every builder is linear (see ``viewkinds.py``); at most ``MAX_EDITS``
substitutions per view, ``MAX_BLOBS`` decoded blobs, ``MAX_DEPTH`` levels of nesting and
``MAX_INFLATE`` bytes of gzip output per blob.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Iterator
from typing import Any

from bastion.privacy.blobs import MIN_BLOB, candidate_runs, decode_blob
from bastion.privacy.detector import Finding, SecretScanner, dedupe
from bastion.privacy.keywords import SHAPES, Shapes
from bastion.privacy.textio import rot13
from bastion.privacy.viewbase import View
from bastion.privacy.viewkinds import (
    continuation_view,
    escape_view,
    line_prefix_view,
    nul_view,
    probe,
    reversed_lines_view,
    rot13_view,
)

MAX_BLOBS = 2_000
MAX_DEPTH = 2


# ------------------------------------------------------------------------------ blobs


def blob_views(text: str, parent: View | None = None) -> Iterator[View]:
    """One view per base64 / base32 / hex blob in ``text`` that decodes to text (gzip
    inflated), ordered by kind then position."""
    data = text.encode("utf-8", "surrogatepass")
    ascii_only = len(data) == len(text)
    count = 0
    for bs, be in candidate_runs(data):  # (those with a capital letter, or hex)
        if be - bs < MIN_BLOB:
            continue
        decoded = decode_blob(data[bs:be].decode("ascii"))
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


Builder = Callable[..., View | None]

_STEPS: tuple[Builder, ...] = (
    nul_view, line_prefix_view, escape_view, continuation_view)


# which views are derived again from a view of each kind (decoded text can hold anything;
# a stripped / joined text only needs joining / decoding)
_CHILDREN: dict[str, tuple[Builder, ...]] = {
    "root": (*_STEPS, rot13_view, reversed_lines_view), "blob": _STEPS, "escape": _STEPS,
    "nul": _STEPS, "prefix": (continuation_view,), "join": (), "rot13": (continuation_view,),
    "reversed": (),
}


def _wanted(step: Callable[..., Any], shapes: Shapes, join: View | None) -> bool:
    """Whether ``step`` of the root text can matter, given the reshaped views that can hold a
    finding (``shapes``) and the root's join view (``join``)."""
    if step is rot13_view:
        return "rot13" in shapes or join is not None
    if step is reversed_lines_view:
        return "reversed" in shapes
    return True


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


def views(text: str, depth: int = 0, parent: View | None = None,
          shapes: Shapes = SHAPES) -> Iterator[View]:
    """Every derived view of ``text`` (not ``text`` itself), nested up to ``MAX_DEPTH``.

    Of the reshaped views (``rot13``, ``reversed``) only those in ``shapes`` are built (for the
    rule scanner: the ones ``SecretScanner.scan_shapes`` says can hold a finding; known values
    are never matched in them), each told the keywords that occur in it (``view_scan``). The
    rot13 view is built anyway when the text has a join view: its own join view (the
    original's, rot13'd) was not covered by that check."""
    yield from _views(text, depth, parent, None, shapes)


def _views(text: str, depth: int, parent: View | None, join: View | None,
           shapes: Shapes = SHAPES) -> Iterator[View]:
    if depth >= MAX_DEPTH or not text:
        return
    kind = parent.kind if parent is not None else "root"
    for sub_text, sub in _slices(text, parent):
        steps = _CHILDREN[kind]
        if kind == "escape":
            steps = tuple(step for step in steps if _worth(step, sub))
        found = _probe(sub_text, steps)
        for step in steps:
            if kind == "root" and not _wanted(step, shapes, join):
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
                v = _build(step, sub_text, sub, found)
            if v is None:
                continue
            if kind == "root" and v.kind == "join":
                join = v
            if kind == "root" and v.kind in SHAPES:  # (None: not known; absent: none occurs)
                v.keywords = shapes.get(v.kind, ())
            yield v
            yield from _views(v.text, depth + 1, v, join)
        if kind in ("root", "blob", "escape", "nul") and (
            kind != "escape" or _worth(blob_views, sub)
        ):
            for v in blob_views(sub_text, sub):
                yield v
                yield from _views(v.text, depth + 1, v, None)


#: the builders whose "is there any at all?" check ``probe`` makes (in its order)
_PROBED: tuple[Builder, ...] = (line_prefix_view, escape_view, continuation_view)


def _probe(text: str, steps: tuple[Builder, ...]) -> tuple[bool, bool, bool] | None:
    """``probe(text)`` when two or more of ``steps`` would each read the text for their check
    (one pass instead of two or three), else None (the builder checks by itself)."""
    if sum(step in _PROBED for step in steps) < 2:
        return None
    return probe(text)


def _build(step: Builder, text: str, parent: View | None,
           found: tuple[bool, bool, bool] | None) -> View | None:
    if found is None or step not in _PROBED:
        return step(text, parent)
    if not found[_PROBED.index(step)]:
        return None  # (what the builder's own check would have said)
    return step(text, parent, probed=True)


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


def view_scan(scanner: SecretScanner, v: View) -> Callable[[str], list[Finding]]:
    """``scanner.scan`` for the text of view ``v``, told the keywords that occur in it when
    they are known (a rot13'd or reversed view: no second keyword pass over it)."""
    if v.keywords is None:
        return scanner.scan
    return functools.partial(scanner.scan, keywords=v.keywords)


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
    found, shapes = scanner.scan_shapes(text)
    found = list(found)
    extra = False
    for v in views(text, shapes=shapes):
        for f, off in view_findings(view_scan(scanner, v), v):
            if v.kind == "join" and not v.crosses_join(f.start + off, f.end + off):
                continue
            s, e = v.span(f.start + off, f.end + off)
            found.append(Finding(f.rule_id, s, e, 0, f.confidence, f.secret))
            extra = True
    if not extra:
        return found
    return dedupe(found, text)
