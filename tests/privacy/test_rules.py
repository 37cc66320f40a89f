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


# --------------------------------------------------------------- built-in rule cache (#16)


def test_builtin_rule_cache_matches_the_toml_files() -> None:
    """The committed JSON cache is exactly what the TOML files parse to; after editing a rule
    file run: python -c 'from bastion.privacy.rules import write_builtin_cache as w; w()'"""
    from importlib import resources

    from bastion.privacy import rules as rules_mod

    cached = resources.files("bastion.privacy").joinpath("rules", rules_mod.BUILTIN_CACHE)
    assert cached.read_text("utf-8") == rules_mod.builtin_cache_text(), (
        "privacy/rules/_builtin.json is stale: run "
        "python -c 'from bastion.privacy.rules import write_builtin_cache as w; w()'")


def test_stale_builtin_rule_cache_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache whose digest is not that of the TOML files is never used: the rules come from
    the TOML files (validated), so an edited rule takes effect even before the cache is rebuilt."""
    from bastion.privacy import rules as rules_mod

    sources = rules_mod._builtin_sources()
    edited = [(name, data.replace(b"id = 'github-pat'", b"id = 'github-pat-edited'"))
              for name, data in sources]
    assert edited != sources
    monkeypatch.setattr(rules_mod, "_builtin_sources", lambda: edited)
    rules_mod.default_rules.cache_clear()
    try:
        ids = {r.id for r in rules_mod.default_rules()}
        assert "github-pat-edited" in ids and "github-pat" not in ids
    finally:
        monkeypatch.undo()
        rules_mod.default_rules.cache_clear()
    assert "github-pat" in {r.id for r in rules_mod.default_rules()}
