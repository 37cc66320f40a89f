"""Two-stage secret scanner: an Aho-Corasick keyword prefilter, then RE2 confirmation.

Stage 1 lowercases the text (ASCII only, so offsets never shift) and runs one Aho-Corasick
automaton holding every rule's keywords. Each keyword hit marks a window around it for the
rules that own the keyword. Stage 2 runs only those rules' RE2 regexes, only over their merged
windows. Rules without keywords run over the whole text (keep them rare: they cost a full pass).
A candidate becomes a :class:`Finding` after the placeholder, entropy, character-class, stopword
and allowlist checks.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import ahocorasick
import re2

from bastion.privacy.dense import LONG_MATCH, KeywordHits, run_near_keywords, split_offsets
from bastion.privacy.keywords import NO_SHAPES, SHAPES, KeywordSet, Shapes
from bastion.privacy.rules import CONFIDENCES, Rule, RuleError, compile_re2, default_rules

_CONF_RANK = {c: i for i, c in enumerate(CONFIDENCES)}

_Spans = list[tuple[int, int]]  # (start, end) of group 0..n; (-1, -1) for a group not matched
_Matcher = Callable[[bytes, int, int], _Spans]


def raw_matcher(pattern: Any) -> _Matcher:
    """``match(data, pos, endpos) -> spans`` for a compiled ``re2`` pattern over bytes.

    The hot loops call this once per keyword hit and once per window: going straight to the
    compiled RE2 object skips the wrapper's generator and match object (about half the cost of a
    call). Falls back to the public ``search`` if the binding's layout ever changes.
    """
    regexp = getattr(pattern, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if regexp is not None and anchor is not None and hasattr(regexp, "Match"):
        # a partial of the C method: no Python frame per call (~0.2 µs of ~0.7)
        return functools.partial(regexp.Match, anchor)
    groups = pattern.groups

    def slow(data: bytes, pos: int, endpos: int) -> _Spans:
        m = pattern.search(data, pos, endpos)
        if m is None:
            return [(-1, -1)] * (groups + 1)
        return [m.span(g) for g in range(groups + 1)]

    return slow

# Substrings (lowercase) that mark an example / placeholder value rather than a real secret.
_PLACEHOLDER_MARKERS = (
    "example", "xxxx", "****", "....", "your_", "your-", "yourkey", "yourtoken", "yourpass",
    "your.", "<your", "placeholder", "changeme", "change_me", "change-me", "changeit",
    "dummy", "redacted", "${", "{{", "}}", "%(", "$(", "[[", "]]", "<%", "insert_", "insert-",
    "replace_me", "replaceme", "replace-me", "_here", "-here", "notasecret", "not_a_secret",
    "not-a-secret", "fake_", "fake-", "sample_", "sample-", "placeholder", "0000000000",
    "1234567890", "abcdefghij", "12345678", "abcdefgh", "password123", "secret123",
    "passw0rd", "p@ssw0rd", "hunter2", "foobar", "lorem", "ipsum",
)
_PLACEHOLDER_EXACT = frozenset(
    {
        "password", "passwd", "secret", "token", "apikey", "api_key", "changeme", "none", "null",
        "undefined", "true", "false", "test", "testing", "admin", "root", "user", "username",
        "guest", "default", "empty", "string", "required", "optional", "value", "mysecret",
        "mypassword", "secretkey", "secret_key", "letmein", "qwerty", "welcome", "pass",
        "pwd", "xxx", "todo", "tbd", "n/a", "na",
    }
)


_VAR_REF = re.compile(r"^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_][A-Za-z0-9_]*%)$")


# all markers in one RE2 pattern: one linear pass however long the value (PEM keys are ~1 KB)
_MARKERS_RE = re2.compile(
    "|".join(re2.escape(m) for m in dict.fromkeys(_PLACEHOLDER_MARKERS)).encode("utf-8")
)


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0.0 for the empty string)."""
    if not value:
        return 0.0
    n = len(value)
    # H = log2(n) - sum(c * log2(c)) / n; characters seen once contribute nothing to the sum
    repeated = sum(c * math.log2(c) for c in Counter(value).values() if c > 1)
    return max(0.0, math.log2(n) - repeated / n)


#: a hex string carries 4 bits per character at most, so a uniform threshold (3.5 for most
#: rules: meant for base62-like tokens) rejected ~18% of random 128-bit hex keys and ~55% of
#: 96-bit ones by chance; for hex it is capped at 3.0 (>= 99.5% of random 24-hex strings pass,
#: while repetitive hex such as ``00ff00ff…`` or ``deadbeef…`` still fails)
HEX_ENTROPY = 3.0
_HEX = re.compile(r"[0-9a-fA-F]+")


def _entropy_floor(threshold: float, secret: str) -> float:
    return min(threshold, HEX_ENTROPY) if _HEX.fullmatch(secret) else threshold


_ASCII_DIGIT = re.compile(r"[0-9]")
_ASCII_OTHER = re.compile(r"[^A-Za-z0-9]")


def char_classes(value: str) -> int:
    """How many of lowercase / uppercase / digit / other characters ``value`` contains."""
    if value.isascii():
        return (
            (value != value.upper())
            + (value != value.lower())
            + (_ASCII_DIGIT.search(value) is not None)
            + (_ASCII_OTHER.search(value) is not None)
        )
    lower = upper = digit = other = 0
    for ch in value:
        if ch.islower():
            lower = 1
        elif ch.isupper():
            upper = 1
        elif ch.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


_MARKERS_MATCH = raw_matcher(_MARKERS_RE)


def looks_like_placeholder(value: str) -> bool:
    """True for example/template values: ``EXAMPLE``, ``xxxx``, ``<token>``, ``${VAR}``, …"""
    v = value.strip().strip("\"'`")
    low = v.lower()
    if low in _PLACEHOLDER_EXACT:
        return True
    if low.startswith(("<", "{", "process.env", "os.environ", "env.", "env[")):
        return True
    if _VAR_REF.match(v):
        return True
    if low.endswith((">", "}")):
        return True
    low_bytes = low.encode("utf-8", "surrogatepass")
    if _MARKERS_MATCH(low_bytes, 0, len(low_bytes))[0][0] >= 0:
        return True
    # very low variety: "aaaaaaaa", "abababab", "0000-0000"
    return len(v) >= 4 and len(set(low)) < 4


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


def _outer_group_body(regex: str) -> str | None:
    """The body of ``regex`` if it is exactly one capturing group ``(...)``, else None."""
    if len(regex) < 2 or regex[0] != "(" or regex[-1] != ")" or regex.startswith("(?"):
        return None
    depth = 0
    in_class = False
    i = 0
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if regex.startswith("[]", i) or regex.startswith("[^]", i):
                i += 2 if regex[i + 1] == "]" else 3
                continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(regex) - 1:
                return None  # the first group closes before the end
        i += 1
    return regex[1:-1] if depth == 0 else None


def _without_captures(regex: str) -> str:
    """``regex`` with every capturing group made non-capturing (same overall matches)."""
    out: list[str] = []
    i, n, in_class = 0, len(regex), False
    while i < n:
        ch = regex[i]
        if ch == "\\":
            out.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            j = i + 1 + regex.startswith("^", i + 1)
            j += regex.startswith("]", j)  # a leading "]" is literal
            out.append(regex[i:j])
            i = j
            continue
        elif ch == "(" and regex.startswith(("(?P<", "(?<"), i) and not regex.startswith(
            ("(?<=", "(?<!"), i
        ):
            out.append("(?:")
            i = regex.index(">", i) + 1
            continue
        elif ch == "(" and not regex.startswith("(?", i):
            out.append("(?:")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Compiled:
    __slots__ = ("_find", "allow", "allow_match", "back", "fwd", "group", "groups", "id_keys",
                 "match", "pattern", "rule")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.pattern = compile_re2(rule.regex, rule_id=rule.id)
        self.groups = self.pattern.groups
        self.match = raw_matcher(self.pattern)
        outer = _outer_group_body(rule.regex) if rule.secret_group in (None, 1) else None
        if outer is not None:
            # the regex is one capturing group around everything: the secret is the whole match,
            # and without captures RE2 finds it with its DFA alone (no NFA pass over the match)
            try:
                plain = compile_re2(outer, rule_id=rule.id)
            except RuleError:
                plain = None
            if plain is not None and plain.groups == 0:
                self.match = raw_matcher(plain)
                self.groups = 0
        self._find: _Matcher | bool | None = bool(self.groups)  # (True: not compiled yet)
        group = rule.secret_group
        self.group = (1 if self.groups >= 1 else 0) if group is None else group
        if self.groups == 0:
            self.group = 0
        self.allow = [
            compile_re2(p, rule_id=rule.id, what="allowlist regex") for p in rule.allowlist
        ]
        # one combined pattern (one call per candidate); the separate ones if RE2 refuses it
        self.allow_match: _Matcher | None = None
        if len(rule.allowlist) > 1:
            try:
                combined = compile_re2(
                    "|".join(f"(?:{p})" for p in rule.allowlist), rule_id=rule.id
                )
            except RuleError:
                combined = None
            if combined is not None:
                self.allow_match = raw_matcher(combined)
        self.back = 96
        self.fwd = max(64, rule.window)
        # generic assignment rules: a UUID under a key that names an id is an identifier
        self.id_keys = rule.id.startswith("generic-")

    @property
    def find(self) -> _Matcher | None:
        """The regex without captures (RE2's DFA alone: ~3x cheaper per match), None when it
        has none to drop; the captures are then taken once per distinct match (see
        ``dense.run_near_keywords``). Compiled on first use: only keyword-dense text needs it,
        and a rule compiled while a message is redacted adds to that message's latency."""
        if self._find is True:
            plain = None
            with contextlib.suppress(RuleError):
                plain = compile_re2(_without_captures(self.rule.regex), rule_id=self.rule.id)
            self._find = raw_matcher(plain) if plain is not None and plain.groups == 0 else None
        return self._find if self._find is not False else None

    @find.setter
    def find(self, value: _Matcher | None) -> None:
        self._find = value

    def secret_span(self, m: Any) -> tuple[int, int] | None:
        group = self.rule.secret_group
        if group is None:
            group = 1 if self.groups >= 1 else 0
            if group and m.start(1) < 0:
                group = 0
        s, e = m.span(group)
        if s < 0 or e <= s:
            return None
        return s, e

    def secret_span_raw(self, spans: _Spans) -> tuple[int, int] | None:
        group = self.group
        if group and self.rule.secret_group is None and spans[1][0] < 0:
            group = 0
        s, e = spans[group]
        if s < 0 or e <= s:
            return None
        return s, e

    def accepts(self, secret: str) -> bool:
        rule = self.rule
        if looks_like_placeholder(secret):
            return False
        if rule.entropy and shannon_entropy(secret) < _entropy_floor(rule.entropy, secret):
            return False
        if rule.min_classes and char_classes(secret) < rule.min_classes:
            return False
        if rule.stopwords:
            low = secret.lower()
            if any(w in low for w in rule.stopwords):
                return False
        if self.allow_match is not None:
            data = secret.encode("utf-8", "surrogatepass")
            return self.allow_match(data, 0, len(data))[0][0] < 0
        return not any(a.search(secret) for a in self.allow)


class _CompiledRules:
    """Each rule's compiled patterns, built the first time its keyword (or a keyword-less
    rule's turn) comes up: scanning a small file compiles a handful of the ~270 regexes, not
    all of them (~17 ms). A race between threads compiles one rule twice, harmlessly."""

    __slots__ = ("_built", "_rules")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self._rules = rules
        self._built: list[_Compiled | None] = [None] * len(rules)

    def __getitem__(self, idx: int) -> _Compiled:
        comp = self._built[idx]
        if comp is None:
            comp = self._built[idx] = _Compiled(self._rules[idx])
        return comp


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
        self._compiled = _CompiledRules(self.rules)
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
            if verdict and comp.id_keys and _not_a_credential(text, cs, secret):
                continue
            if verdict:
                out.append(Finding(comp.rule.id, cs, ce, 0, comp.rule.confidence, secret))
        if not out:
            return []
        return dedupe(out, text)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# the key an assigned value stands under (``token_id = "``, ``"tokenId": "``, ``KEY_ID=``),
# matched on the reversed text before the value (anchored: a constant cost per candidate)
_KEY_BEFORE_REVERSED = re.compile(r"[\"'`]?[ \t]*(?:=:|>=|[:=])[ \t]*[\"'`]?([A-Za-z0-9_.-]{1,64})")
_ID_KEY = re.compile(r"(?:^|[_.-])(?:[iI][dD]|[uU][uU][iI][dD]|[gG][uU][iI][dD]|(?i:name|ref|arn))$"
                     r"|[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID|Name|NAME|Ref|REF)$|(?i:idempotency)")
# keys of opaque pagination cursors and request / idempotency / change tokens
# (``next_page_token``, ``nextPageToken``, ``NextContinuationToken``, ``ClientRequestToken``,
# ``ChangeToken``, ``startCursor``, ``NextMarker``): random-looking, and not credentials. The
# word must begin the key, follow ``_ . -`` or begin a camelCase word: ``dynatrace_token`` is
# a credential.
_PAGE_KEY = re.compile(
    r"(?:^|[_.-]|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?i:(?:next|prev|previous|continuation|continue|page|pagination|paging|cursor|change|"
    r"request|idempotency|sync|resume|purchase|action|output|input|start|last|nonce|trace|"
    r"correlation)[_.-]?(?:token|cursor|marker)|cursor|marker|next_?page|page_?cursor)$")


def _key_before(text: str, start: int) -> str | None:
    m = _KEY_BEFORE_REVERSED.match(text[max(0, start - 80) : start][::-1])
    return m.group(1)[::-1] if m is not None else None


def _not_a_credential(text: str, start: int, secret: str) -> bool:
    """True when a generic rule's value at ``start`` is, by the key it is assigned to, not a
    credential (false-positive classes of issue #13): a UUID under a key that names an
    identifier (``token_id``, ``tokenId``, ``SECRET_UUID``, ``secretName``, ``key_ref``,
    ``idempotency_key``) is the id of a credential; any value under a key that names a
    pagination cursor or a request token (``next_page_token``, ``NextContinuationToken``,
    ``ClientRequestToken``) is an opaque cursor or idempotency value. A UUID under
    ``api_key`` / ``token`` / ``password`` is still reported (some services use them as
    keys), and so is every value a vendor-specific rule finds."""
    key = _key_before(text, start)
    if key is None:
        return False
    if _PAGE_KEY.search(key) is not None:
        return True
    return _UUID.fullmatch(secret) is not None and _ID_KEY.search(key) is not None


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
