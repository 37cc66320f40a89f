"""Each rule's compiled patterns (built on first use) and the checks a secret must pass."""

from __future__ import annotations

import contextlib
from typing import Any

from bastion.privacy.checks import (
    Matcher,
    Spans,
    char_classes,
    entropy_floor,
    looks_like_placeholder,
    raw_matcher,
    shannon_entropy,
)
from bastion.privacy.rules import Rule, RuleError, compile_re2


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


class CompiledRule:
    """One rule's RE2 patterns (the match, its allowlist) and the checks a secret must pass."""

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
        self._find: Matcher | bool | None = bool(self.groups)  # (True: not compiled yet)
        group = rule.secret_group
        self.group = (1 if self.groups >= 1 else 0) if group is None else group
        if self.groups == 0:
            self.group = 0
        self.allow = [
            compile_re2(p, rule_id=rule.id, what="allowlist regex") for p in rule.allowlist
        ]
        # one combined pattern (one call per candidate); the separate ones if RE2 refuses it
        self.allow_match: Matcher | None = None
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
    def find(self) -> Matcher | None:
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
    def find(self, value: Matcher | None) -> None:
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

    def secret_span_raw(self, spans: Spans) -> tuple[int, int] | None:
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
        if rule.entropy and shannon_entropy(secret) < entropy_floor(rule.entropy, secret):
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


class CompiledRules:
    """Each rule's compiled patterns, built the first time its keyword (or a keyword-less
    rule's turn) comes up: scanning a small file compiles a handful of the ~270 regexes, not
    all of them (~17 ms). A race between threads compiles one rule twice, harmlessly."""

    __slots__ = ("_built", "_rules")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self._rules = rules
        self._built: list[CompiledRule | None] = [None] * len(rules)

    def __getitem__(self, idx: int) -> CompiledRule:
        comp = self._built[idx]
        if comp is None:
            comp = self._built[idx] = CompiledRule(self._rules[idx])
        return comp
