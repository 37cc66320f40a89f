"""Two-stage secret scanner: a keyword prefilter, then RE2 confirmation.

Stage 1 lowercases the text (ASCII only, so offsets never shift) and runs one RE2 Set holding
every rule's keywords (keywords.py; pyahocorasick remains for comparison). Each keyword hit
marks a window around it for the rules that own the keyword. Stage 2 runs only those rules'
RE2 regexes, only over their merged windows. Rules without keywords run over the whole text
(keep them rare: they cost a full pass). A candidate becomes a :class:`Finding` after the
placeholder, entropy, character-class, stopword and allowlist checks (checks.py, compiled.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import ahocorasick

from bastion.privacy.checks import not_a_credential
from bastion.privacy.compiled import CompiledRules
from bastion.privacy.dense import LONG_MATCH, KeywordHits, run_near_keywords, split_offsets
from bastion.privacy.keywords import NO_SHAPES, SHAPES, KeywordSet, Shapes
from bastion.privacy.rules import CONFIDENCES, Rule, default_rules

_CONF_RANK = {c: i for i, c in enumerate(CONFIDENCES)}

@dataclass(frozen=True)
class Finding:
    """A secret found in a text: ``start``/``end`` are character offsets of the secret itself."""

    rule_id: str
    start: int
    end: int
    line: int
    confidence: str
    secret: str

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON shape (never includes the secret)."""
        return {
            "rule_id": self.rule_id,
            "start": self.start,
            "end": self.end,
            "line": self.line,
            "confidence": self.confidence,
        }


def ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only, so every offset stays valid."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


# a window costs about as much per call as scanning this many bytes of text in RE2's DFA
_WINDOW_COST = 512

_VERDICTS_MAX = 4096  # cached rule verdicts per scanner (candidates of <= LONG_MATCH bytes)

_Cand = tuple[int, int, int]  # (rule index, byte start, byte end) of a secret



class SecretScanner:
    """Scans text with a fixed set of rules. Thread-safe once built (it holds no scan state
    but a cache of verdicts, whose entries never change).

    ``prefilter`` selects the keyword automaton: ``"re2"`` (default) runs RE2's DFA over the
    literal keyword set — on this machine several times faster than ``"ahocorasick"``
    (pyahocorasick), which is kept for comparison in the benchmark.
    """

    def __init__(self, rules: Iterable[Rule] | None = None, *, prefilter: str = "re2") -> None:
        if prefilter not in ("re2", "ahocorasick"):
            raise ValueError("prefilter must be 're2' or 'ahocorasick'")
        self.prefilter = prefilter
        self.rules: tuple[Rule, ...] = tuple(default_rules() if rules is None else rules)
        self._compiled = CompiledRules(self.rules)
        # (rule index, candidate) -> the rule's verdict, across scans: a text and its views
        # (and the history, filtered again before each request) hold the same candidates; the
        # verdict depends on the two alone (bounded: cleared when it grows past the limit)
        self._verdicts: dict[tuple[int, str], bool] = {}
        self._always: list[int] = []
        table: dict[str, set[int]] = {}
        for idx, rule in enumerate(self.rules):
            if not rule.keywords:
                self._always.append(idx)
            for kw in rule.keywords:
                table.setdefault(kw.lower(), set()).add(idx)
        # the keyword Set, with the keywords' rot13'd and reversed forms: which reshaped
        # views can hold a finding (none can be ruled out when a rule runs everywhere)
        self._keywords = KeywordSet(table, shapes=not self._always) if table else None
        self._automaton: Any = None
        if table and prefilter == "ahocorasick":
            # a hit on keyword K also stands for every keyword contained in K (the
            # automaton reports each keyword once per end position)
            automaton = ahocorasick.Automaton()
            for kw in table:
                owners: set[int] = set()
                for other, idxs in table.items():
                    if other in kw:
                        owners |= idxs
                automaton.add_word(kw, (len(kw), tuple(sorted(owners))))
            automaton.make_automaton()
            self._automaton = automaton

    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    # ------------------------------------------------------------------------------ scan

    def _keyword_hits(self, data: bytes, shapes: bool = False,
                      known: Sequence[int] | None = None,
                      ) -> tuple[dict[int, KeywordHits | list[int]], Shapes]:
        """``{rule index: its keyword hits}`` for the rules with any: the sorted offsets, or
        a :class:`KeywordHits` when a keyword has so many that they were not all split out;
        and the reshaped views of the text in which some keyword occurs."""
        low = data.lower()  # ASCII-only: byte offsets are unchanged
        if self.prefilter == "ahocorasick":
            found: dict[int, list[int]] = {}
            text = low.decode("utf-8", "surrogatepass")
            ascii_only = len(text) == len(low)
            for end, (klen, idxs) in self._automaton.iter(text):
                start = end - klen + 1
                if not ascii_only:  # comparison mode only: O(n) per hit on non-ASCII text
                    start = len(text[:start].encode("utf-8", "surrogatepass"))
                for idx in idxs:
                    found.setdefault(idx, []).append(start)
            return found, SHAPES  # type: ignore[return-value]
        # which keywords occur: one linear DFA pass (RE2::Set); then each present keyword's
        # offsets from ``bytes.split`` (C speed, no Python step per hit). Split at most
        # ``enough`` times: that many hits make every rule owning the keyword scan the text in
        # one pass (see ``scan``), which needs only the first and last hit.
        keywords = self._keywords
        assert keywords is not None
        enough = max(64, len(low) // (96 + 64 + _WINDOW_COST) + 1)
        hits: dict[int, KeywordHits | list[int]] = {}
        dense: list[tuple[bytes, int, int, int]] = []
        present: Sequence[int]
        if known is None:
            present, found_shapes = keywords.match(low, shapes=shapes)
        else:  # the keywords in this text are known (see ``scan``): no pass to find them
            present, found_shapes = known, SHAPES
        for i in present:
            kw = keywords.keywords[i]
            parts = low.split(kw, enough)
            if len(parts) > enough:  # at least ``enough`` hits: not split further
                dense.append((kw, enough, len(parts[0]), low.rfind(kw)))
                continue
            if len(parts) < 2:
                continue
            offsets = split_offsets(parts, len(kw))
            for idx in keywords.owners[kw]:
                lst = hits.get(idx)
                if lst is None:
                    hits[idx] = offsets
                else:  # (only lists so far: the dense keywords come below)
                    hits[idx] = sorted(cast(list[int], lst) + offsets)
        for kw, count, first, last in dense:  # (rare: keyword-dense text)
            for idx in keywords.owners[kw]:
                lst = hits.get(idx)
                if lst is None:
                    hits[idx] = KeywordHits(low, [kw], count, first, last)
                elif isinstance(lst, list):
                    h = hits[idx] = KeywordHits(low, [kw], count, first, last)
                    h.add_known(lst)
                else:
                    lst.add(kw, count, first, last)
        return hits, found_shapes

    def scan(self, text: str, keywords: Sequence[int] | None = None) -> list[Finding]:
        """Every secret in ``text``, sorted by position, overlapping findings de-duplicated.

        ``keywords``: the (sorted) indices of the rule keywords that occur in ``text``, when
        they are known — a rot13'd or reversed view's, from ``scan_shapes`` of its original —
        so that the pass that finds them is not made again."""
        return self._scan(text, False, keywords)[0]

    def scan_shapes(self, text: str) -> tuple[list[Finding], Shapes]:
        """``scan(text)``, and which of its reshaped views (``"rot13"``, ``"reversed"``) can
        hold a finding — those in which some rule keyword occurs, with those keywords (the
        same pass over the text; see ``keywords.py``). The others have none: ``views`` need
        not build them."""
        return self._scan(text, True)

    def _scan(self, text: str, shapes: bool, keywords: Sequence[int] | None = None,
              ) -> tuple[list[Finding], Shapes]:
        if not text:
            return [], NO_SHAPES
        data = text.encode("utf-8", "surrogatepass")
        n = len(data)
        cands: list[_Cand] = []
        for idx in self._always:
            self._run(idx, data, 0, n, cands)
        found_shapes = SHAPES
        if self._keywords is not None:
            found, found_shapes = self._keyword_hits(data, shapes, keywords)
            for idx, hits in found.items():
                comp = self._compiled[idx]
                back, fwd = comp.back, comp.fwd
                count = len(hits) if isinstance(hits, list) else hits.count
                if count > 2 and count * (back + fwd + _WINDOW_COST) >= n:
                    # keyword-dense text: one pass over everything is cheaper than many calls
                    self._run_near_keywords(
                        idx, data, KeywordHits.known(hits) if isinstance(hits, list) else hits, cands)
                    continue
                positions = hits if isinstance(hits, list) else hits.positions()
                lo = max(0, positions[0] - back)
                hi = min(n, positions[0] + fwd)
                for pos in positions[1:]:
                    if pos - back <= hi:
                        hi = min(n, max(hi, pos + fwd))
                    else:
                        self._run(idx, data, lo, hi, cands)
                        lo, hi = max(0, pos - back), min(n, pos + fwd)
                self._run(idx, data, lo, hi, cands)
        if not cands:
            return [], found_shapes
        return self._findings(cands, data, text), found_shapes

    def _run(self, idx: int, data: bytes, lo: int, hi: int, out: list[_Cand]) -> None:
        """Run one rule over ``data[lo:hi]``; grow the window when a match touches its edge."""
        comp = self._compiled[idx]
        match = comp.match
        n = len(data)
        pos = lo
        grew_back = False
        while pos <= hi:
            spans = match(data, pos, hi)
            ms, me = spans[0]
            if ms < 0:
                return
            if ms == lo and lo > 0 and not grew_back:
                # may be the tail of a longer match: look further back once
                lo = pos = max(0, lo - 4096)
                grew_back = True
                continue
            if me == hi and hi < n:
                # may continue past the window: grow it geometrically, rescan from ms
                hi = min(n, hi + max(comp.fwd, hi - lo))
                pos = ms
                continue
            span = comp.secret_span_raw(spans)
            if span is not None:
                out.append((idx, span[0], span[1]))
            pos = me if me > ms else me + 1

    def _run_near_keywords(self, idx: int, data: bytes, hits: KeywordHits,
                           out: list[_Cand]) -> None:
        run_near_keywords(self._compiled[idx], idx, data, hits, out)

    def _findings(self, cands: list[_Cand], data: bytes, text: str) -> list[Finding]:
        ascii_only = len(data) == len(text)
        cands.sort(key=lambda c: c[1])
        out: list[Finding] = []
        last_b = last_c = 0
        verdicts = self._verdicts
        if len(verdicts) > _VERDICTS_MAX:
            verdicts.clear()
        for idx, bs, be in cands:
            comp = self._compiled[idx]
            if ascii_only:
                cs, ce = bs, be
                secret = text[cs:ce]
            else:
                cs = last_c + len(data[last_b:bs].decode("utf-8", "surrogatepass"))
                secret = data[bs:be].decode("utf-8", "surrogatepass")
                ce = cs + len(secret)
                last_b, last_c = bs, cs
            verdict = verdicts.get((idx, secret))
            if verdict is None:
                verdict = verdicts[(idx, secret)] = be - bs > LONG_MATCH or comp.accepts(secret)
            if verdict and comp.id_keys and not_a_credential(text, cs, secret):
                continue
            if verdict:
                out.append(Finding(comp.rule.id, cs, ce, 0, comp.rule.confidence, secret))
        if not out:
            return []
        return dedupe(out, text)


def dedupe(candidates: list[Finding], text: str) -> list[Finding]:
    """Keep one finding per overlapping group: the widest, then most confident, then the first
    rule id in alphabetical order (two rules that find the same span with the same confidence
    give one answer, whatever the order they ran in), then the first found."""
    candidates.sort(key=lambda f: (f.start, -(f.end - f.start), -_CONF_RANK[f.confidence],
                                   f.rule_id))
    kept: list[Finding] = []
    for f in candidates:
        if kept and f.start < kept[-1].end:
            prev = kept[-1]
            if f.end <= prev.end:
                if f.start == prev.start and f.end == prev.end and (
                    _CONF_RANK[f.confidence] > _CONF_RANK[prev.confidence]
                ):
                    kept[-1] = f
                continue
        kept.append(f)
    out: list[Finding] = []
    line, counted = 1, 0
    for f in kept:  # sorted by start: count newlines incrementally (one pass over the text)
        line += text.count("\n", counted, f.start)
        counted = f.start
        out.append(Finding(f.rule_id, f.start, f.end, line, f.confidence, f.secret))
    return out


_DEFAULT: SecretScanner | None = None


def default_scanner() -> SecretScanner:
    """A process-wide scanner with the built-in rules (built on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SecretScanner()
    return _DEFAULT


def scan_text(text: str, rules: Sequence[Rule] | None = None) -> list[Finding]:
    """Convenience: scan ``text`` with ``rules`` (default: the built-in rules)."""
    scanner = default_scanner() if rules is None else SecretScanner(rules)
    return scanner.scan(text)
