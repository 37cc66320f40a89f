"""Every built-in rule is checked against the examples in its own data file."""

from __future__ import annotations

import pytest

from bastion.privacy.detector import SecretScanner, default_scanner
from bastion.privacy.rules import Rule, default_rules

RULES = default_rules()


def test_rule_count_and_unique_ids() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) >= 150
    assert len(ids) == len(set(ids))


def test_every_rule_has_examples() -> None:
    for rule in RULES:
        assert rule.positive, f"{rule.id} has no positive example"
        assert rule.negative, f"{rule.id} has no negative example"
        assert rule.keywords, f"{rule.id} has no prefilter keyword"
        assert all(k == k.lower() for k in rule.keywords), rule.id


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule: Rule) -> None:
    scanner = SecretScanner([rule])
    for example in rule.positive:
        found = scanner.scan(example)
        assert found, f"{rule.id} missed positive example {example!r}"
        assert all(f.rule_id == rule.id for f in found)
        for f in found:
            assert example[f.start : f.end] == f.secret
        # the full rule set finds it too (possibly attributed to a more specific rule)
        assert default_scanner().scan(example), f"full scanner missed {example!r}"
    for example in rule.negative:
        assert not scanner.scan(example), f"{rule.id} fired on negative example {example!r}"
