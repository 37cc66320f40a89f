"""The reshaped-view answer of the keyword Set is the same whether it comes from the plain
Set over the rot13'd and reversed bytes (the first SMALL_BUDGET bytes a process asks about:
no 5 ms compile for one command's short texts) or from the Set holding the shaped keywords."""

from __future__ import annotations

import codecs
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.privacy import default_scanner
from bastion.privacy.keywords import SMALL_BUDGET, KeywordSet

_KEYWORDS = ["password", "token", "ghp_", "api_key", "sk-", "secret", "xoxb-", "é_pass"]


def _table() -> dict[str, list[int]]:
    return {k: [i] for i, k in enumerate(_KEYWORDS)}


def _both(low: bytes) -> tuple[object, object]:
    small = KeywordSet(_table(), shapes=True)
    big = KeywordSet(_table(), shapes=True)
    big._asked = SMALL_BUDGET  # straight to the shaped Set
    return small.match(low, shapes=True), big.match(low, shapes=True)


_PIECES = st.sampled_from([
    *_KEYWORDS, *(k[::-1] for k in _KEYWORDS), *(codecs.encode(k, "rot13") for k in _KEYWORDS),
    " ", "\n", "x", "é", "\udcff", "PASSWORD", "drowssap", "=", "ü\n", "漢字"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12))
def test_small_texts_get_the_shaped_sets_answer(pieces: list[str]) -> None:
    low = "".join(pieces).encode("utf-8", "surrogatepass").lower()
    small, big = _both(low)
    assert small == big


def test_the_real_keyword_set_agrees_on_random_text() -> None:
    rng = random.Random(5)
    keywords = default_scanner()._keywords
    assert keywords is not None
    words = [k.decode() for k in keywords.keywords[:200]]
    for _ in range(200):
        parts = [rng.choice([w, w[::-1], codecs.encode(w, "rot13"), "lorem", " ", "\n", "ß"])
                 for w in rng.sample(words, 6)]
        low = "".join(parts).encode("utf-8", "surrogatepass").lower()
        fresh = KeywordSet({k.decode(): v for k, v in keywords.owners.items()}, shapes=True)
        small = fresh.match(low, shapes=True)
        fresh._asked = SMALL_BUDGET
        assert small == fresh.match(low, shapes=True)


def test_the_shaped_set_is_compiled_only_past_the_budget() -> None:
    ks = KeywordSet(_table(), shapes=True)
    ks.match(b"a password here", shapes=True)
    assert ks._shaped is None
    ks.match(b"x" * SMALL_BUDGET, shapes=True)
    assert ks._shaped is not None
