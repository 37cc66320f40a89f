"""C-speed rewrites of the privacy filter's hot spots give the same answers as the plain forms.

Each test compares a rewritten step against a straightforward reference on random and hostile
text (issue #13, throughput on pathological input).
"""

from __future__ import annotations

import random
import re

from bastion.audit.redact import mask_url_passwords
from bastion.privacy import PrivacyFilter
from bastion.privacy.filter import _has_secret_placeholder
from bastion.privacy.known import KnownValues, shape_windows
from bastion.privacy.outbound import data_tokens
from bastion.privacy.paths import _ABS_PATH
from bastion.privacy.viewkinds import _JOIN_QUOTED, _TOK

_SPLIT_REFERENCE = re.compile(r"[/?&=#;,:\s+]+")
_JOIN_REFERENCE = re.compile(
    rf"(?=[\"'\\])((?<={_TOK}{{4}})[\"'][ \t]*+(?:(?:[+.&]|\|\|)[ \t]*+)?+"
    rf"(?:\\?\r?\n[ \t]*+(?:[+.&][ \t]*+)?+)?+[\"'](?={_TOK}{{4}})"
    rf"|(?<={_TOK}{{4}})\\\r?\n[ \t]*+(?={_TOK}))")
_PATH_REFERENCE = re.compile(r"(/(?<![^\s\"'`(\[{=:,;<>|]/)[\w.@+~%-]+(?:/[\w.@+~%-]*)*)")


def _random_texts(alphabet: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def test_data_tokens_match_the_regex_split() -> None:
    alphabet = ["a", "Z9", "/", "?", "&", "=", "#", ";", ",", ":", "+", " ", "\t", "\n", "\x1c",
                "\u00a0", "\u2003", "\u3000", "é", "tok"]  # ("%": unquoted before both)
    for text in _random_texts(alphabet, 20_000, 1):
        text = "x" * 16 + text  # (a "://" in the first 16 characters is read as a URL first)
        assert data_tokens([text]) == [t for t in _SPLIT_REFERENCE.split(text) if t], repr(text)


def test_join_pattern_matches_the_lookahead_led_form() -> None:
    alphabet = ["a", "b", "Z", "9", '"', "'", "\\", "\n", "\r", " ", "\t", "+", ".", "&", "|",
                "=", "-", "_", "/", "x", "aaaa", "Zz9_"]
    for text in _random_texts(alphabet, 50_000, 2):
        assert _JOIN_QUOTED.split(text) == _JOIN_REFERENCE.split(text), repr(text)


def test_path_pattern_matches_the_nested_form() -> None:
    alphabet = ["/", "a", "b", ".", "@", "-", " ", "=", ":", '"', "é", "~", "%", "\n", "//"]
    for text in _random_texts(alphabet, 50_000, 3):
        assert _ABS_PATH.findall(text) == _PATH_REFERENCE.findall(text), repr(text)


def test_secret_placeholders_in_arguments_are_seen_in_every_spelling() -> None:
    # the fast exit (no "secret"/"pii" in ASCII text) must not hide a placeholder whose name
    # only case-folds to SECRET / PII, or is percent-encoded
    for value in ("x [[SECRET:1]]", "[[secret:2]] y", "[[ſECRET:2]]", "[[pıı:1]]",
                  "%5B%5BSECRET%3A1%5D%5D", "%5B%5B%53ECRET:1", "%255B%255B%2553ECRET%253A1"):
        assert _has_secret_placeholder(value), value
    for value in ("a [[PATH:1]]", "[[USER:2]]", "plain text", "[" * 10_000, "secret pii"):
        assert not _has_secret_placeholder(value), value
    pf = PrivacyFilter()
    kinds = [f.kind for f in pf.check_outbound_arguments({"q": "send [[ſECRET:1]] now"})]
    assert "placeholder" in kinds


def test_audit_url_password_mask_matches_the_template_substitution() -> None:
    reference = re.compile(r"://([^/@:\s]*):[^/@\s]*@")
    alphabet = ["a", "b", ":", "/", "@", "://", " ", "\n", "x:y@", "https://u:p@h", "é", "%"]
    for text in _random_texts(alphabet, 30_000, 4):
        assert mask_url_passwords(text) == reference.sub(r"://\1:***@", text), repr(text)
    assert mask_url_passwords("see https://bob:hunter2@db.local/x") == \
        "see https://bob:***@db.local/x"


def test_fragment_index_finds_what_one_word_per_window_finds() -> None:
    """ASCII values' fragments live in the per-form index; the per-window words (still used
    for non-ASCII values) are the reference: same spans on texts cut from the values."""
    rng = random.Random(6)
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(14, 200)))
              for _ in range(12)] + ["Zq8vN3mX5pL2wK9r", "aaaaaaaaaaaaaaaaaaaaaaaaab1"]
    new, old = KnownValues(), KnownValues()
    old._add_forms = lambda value, label: shape_windows(value)  # type: ignore[method-assign]
    for v in values:
        new.add(v, "v")
        old.add(v, "v")
    shapes = [v for v in values] + [v[::-1] for v in values] + [
        v.translate(str.maketrans("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                  "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM"))
        for v in values]
    for _ in range(400):
        pieces = []
        for _ in range(rng.randint(1, 6)):
            s = rng.choice(shapes)
            a = rng.randrange(len(s))
            pieces.append(s[a : a + rng.randint(1, 60)])
            pieces.append(rng.choice(["", " ", "x", "\n", "é", "::"]))
        text = "".join(pieces)
        got = [(m.start, m.end, m.encoding) for m in new.find(text)]
        assert got == [(m.start, m.end, m.encoding) for m in old.find(text)], text


def test_ascii_placeholder_search_matches_the_python_regex() -> None:
    from bastion.privacy.placeholders import PLACEHOLDER_LOOSE_RE
    from bastion.privacy.textio import unquote

    def reference(value: str) -> bool:
        candidates = [value]
        if "%" in value and "5b" in value.lower():
            candidates += [unquote(value), unquote(unquote(value))]
        return any(m.group(1).upper() in ("SECRET", "PII")
                   for c in candidates for m in PLACEHOLDER_LOOSE_RE.finditer(c))

    alphabet = ["[[", "[", "%5B", "%255B", "\\[", " ", "\t", "\x0b", "\x1c", "\n", "SECRET",
                "secret", "SeCrEt", "PII", "pii", "PATH", "USER", ":", "%3A", "%3a", "x", "]"]
    for text in _random_texts(alphabet, 30_000, 7):
        assert _has_secret_placeholder(text) == reference(text), repr(text)


def test_destination_of_a_huge_url_argument_is_its_host() -> None:
    from bastion.privacy.outbound import destination

    assert destination({"url": "https://api.example.org/" + "a/" * 500_000}) == "api.example.org"
    assert destination({"url": "  https://User@Host.Example:8080/x?" + "q=1&" * 100_000}) == \
        "host.example"
    assert destination({"command": "ls"}) == destination({"url": "not a url"})


def test_rot13_equals_the_character_table_on_any_text() -> None:
    from bastion.privacy.textio import rot13

    table = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                          "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
    alphabet = ["a", "Z", "m", "N", "0", " ", "\n", "é", "’", "—", "中", "😀", "\ud800",
                "\udfff", "\x00", "\x7f", "\x80", "ÿ"]
    for text in [*_random_texts(alphabet, 400, 21), "", "plain ascii", "—"]:
        out = rot13(text)
        assert out == text.translate(table) and len(out) == len(text), repr(text)


def test_rot13_text_has_a_join_exactly_where_the_original_has_one() -> None:
    """``views`` takes the rot13'd text's join view from the original's (and none when the
    original has none) instead of searching the rot13'd text again."""
    from bastion.privacy.textio import rot13
    from bastion.privacy.views import continuation_view

    alphabet = ["abcd", "WXYZ", "1234", "'", '"', " + ", " . ", " || ", "\\\n", "\n", "  ",
                "\t", "=", "/", "abcdefghijklmn", "NOPQRSTUVWXYZ0", "&", "é", "_-"]
    for text in _random_texts(alphabet, 600, 31):
        plain, turned = continuation_view(text), continuation_view(rot13(text))
        assert (plain is None) == (turned is None), repr(text)
        if plain is not None and turned is not None:
            assert turned.text == rot13(plain.text), repr(text)
