"""Views that are not built must be views that could not have held a finding (issue #13,
``bastion scan`` throughput): the skips are exact, checked against building everything.

* the rot13 / reversed views are built only when a rule keyword occurs in them — known from
  the original's own keyword pass (its keywords rot13'd and reversed in the same RE2 Set);
* those views are scanned with the keywords known from that pass (no second keyword pass);
* the line-prefix, escape and join views' "is there any at all?" checks are made in one RE2
  Set pass (``probe``) instead of one pass each;
* base64 runs without a capital letter that are not hex are not decoded (as before), and hex
  runs are found without a second regular expression pass.
"""

from __future__ import annotations

import base64
import random

import pytest

from bastion.privacy import PrivacyFilter, default_scanner, scan_views
from bastion.privacy import filter as filter_mod
from bastion.privacy import views as views_mod
from bastion.privacy.keywords import SHAPES
from bastion.privacy.textio import rot13
from bastion.privacy.viewkinds import (
    _ESCAPE_HINT,
    _JOIN_ANY,
    _PREFIX_RAW,
    probe,
    reversed_lines_view,
)

_GH = "ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8"
# rot13'd, with the token's keyword cut by a string join: no keyword in the rot13'd text,
# one in its rot13'd join view (which hangs under the rot13 view)
_ACROSS_A_JOIN = rot13('x = "ab/g" + "' + _GH[1:] + '"')
_PIECES = [
    "a", "Z", "0", " ", "\n", "\t", "'", '"', "\\", "=", ":", "-", "_", "/", "é", "中", "\ud800",
    "\x00", "password", "PassWord", "token", "sider", "consider", "_unp", "://", "@",
    "ghp_", "sk-", "AKIA", "xoxb-", "-----BEGIN", "eyJ", "api_key", "secret",
    _GH, rot13(_GH), _GH[::-1], rot13("password"), "drowssap", "nekot", "terces",
    "postgres://u:S3cr3tPw9x@db/app", rot13("postgres://u:S3cr3tPw9x@db/app"),
    "postgres://u:S3cr3tPw9x@db/app"[::-1], "password = Vq8wLz2Kp5nR",
    rot13("password = Vq8wLz2Kp5nR"), "password = Vq8wLz2Kp5nR"[::-1],
    '"abcd" + "efgh"', "\\\n", "     12\t", "a.py:3:", "\\n", '\\"', "%41", "&amp;", "\\u0041",
    base64.b64encode(b"token=" + _GH.encode()).decode(), "abcdefghijklmnop\n",
    _ACROSS_A_JOIN,
    "export API_TOKEN=Qm7Zt2Lw9Xc4Vb8Np3Rk6Hs1Jd5Gf0Ty",  # two rules, one span, one confidence
]


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 24)))
            for _ in range(count)]


def _has_keyword(scanner_keywords: list[bytes], text: str) -> bool:
    low = text.encode("utf-8", "surrogatepass").lower()
    return any(k in low for k in scanner_keywords)


def test_shapes_are_exactly_the_reshaped_views_that_hold_a_keyword() -> None:
    scanner = default_scanner()
    keywords = scanner._keywords
    assert keywords is not None and keywords.shapes_known
    for text in _texts(1500, 5):
        _, shapes = scanner.scan_shapes(text)
        turned = _has_keyword(keywords.keywords, rot13(text))
        flipped = reversed_lines_view(text)
        assert flipped is not None
        backwards = _has_keyword(keywords.keywords, flipped.text)
        assert ("rot13" in shapes) == turned, repr(text)
        assert ("reversed" in shapes) == backwards, repr(text)


def test_a_rule_that_runs_everywhere_keeps_every_reshaped_view() -> None:
    from bastion.privacy import SecretScanner
    from bastion.privacy.rules import Rule

    everywhere = Rule(id="no-keyword", regex=r"zz[0-9]{6}")
    scanner = SecretScanner([everywhere])
    assert scanner.scan_shapes("plain text")[1] == SHAPES
    assert scanner.scan_shapes(rot13("xx zz123456"))[1] == SHAPES
    found = scan_views(scanner, rot13("code: zz123456"))  # "mm123456" rot13'd back
    assert [f.rule_id for f in found] == ["no-keyword"]


def test_a_keyword_made_by_a_join_in_the_rot13_text_is_found() -> None:
    scanner = default_scanner()
    assert not scanner.scan_shapes(_ACROSS_A_JOIN)[1]
    assert [f.rule_id for f in scan_views(scanner, _ACROSS_A_JOIN)] == ["github-pat"]


def test_probe_says_what_each_builders_own_check_says() -> None:
    for text in _texts(3000, 6):
        data = text.encode("utf-8", "surrogatepass")
        prefix = _PREFIX_RAW(data, 0, len(data))[0][0] >= 0
        escape = _ESCAPE_HINT.search(text) is not None
        join = ("\n" in text or "'" in text or '"' in text) and (
            _JOIN_ANY(data, 0, len(data))[0][0] >= 0)
        assert probe(text) == (prefix, escape, join), repr(text)


def _everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``views`` build every view and scan each with its own keyword pass, as before."""
    monkeypatch.setattr(views_mod, "_probe", lambda text, steps: None)
    monkeypatch.setattr(views_mod, "_wanted", lambda step, shapes, join: True)
    unhinted = lambda scanner, v: scanner.scan  # noqa: E731 (each view finds its own keywords)
    monkeypatch.setattr(views_mod, "view_scan", unhinted)
    monkeypatch.setattr(filter_mod, "view_scan", unhinted)


def test_scan_views_finds_what_scanning_every_view_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = default_scanner()
    texts = _texts(1500, 7)
    fast = [scan_views(scanner, t) for t in texts]
    with monkeypatch.context() as m:
        _everything(m)
        slow = [views_mod.scan_views(scanner, t) for t in texts]
    assert fast == slow
    assert sum(map(len, fast)) > 500  # (the texts do hold secrets, also reshaped ones)


def test_redaction_is_the_same_as_with_every_view(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _texts(600, 8)
    fast_filter = PrivacyFilter()
    fast = [fast_filter.redact(t) for t in texts]
    with monkeypatch.context() as m:
        _everything(m)
        slow_filter = PrivacyFilter()
        slow = [slow_filter.redact(t) for t in texts]
    assert fast == slow


def test_blob_candidates_are_the_runs_the_old_filter_kept() -> None:
    """``candidate_runs``: base64 runs with a capital or only hex digits, then the hex runs not
    already seen — the same spans in the same order as the two RE2 passes and the filter."""
    import re

    from bastion.privacy.blobs import _B64, candidate_runs
    from bastion.privacy.checks import raw_matcher
    from bastion.privacy.rules import compile_re2

    b64 = raw_matcher(compile_re2(_B64.pattern, rule_id="test-b64"))
    hex16 = raw_matcher(compile_re2("[0-9a-fA-F]{16,}", rule_id="test-hex"))

    def runs(data: bytes) -> list[tuple[int, int]]:  # the two searches it replaces
        out: list[tuple[int, int]] = []
        for match in (b64, hex16):
            pos = 0
            while pos < len(data):
                s, e = match(data, pos, len(data))[0]
                if s < 0:
                    break
                if (s, e) not in out:
                    out.append((s, e))
                pos = e
        return out

    hexish = re.compile(rb"[0-9a-fA-F]+")
    alphabet = ["a", "f", "F", "0", "9", "g", "Z", "_", "-", "+", "/", "=", "==", "===", "\n",
                "\r\n", "\\n", "\\r\\n", "\\", "n", " ", "\t", ".", "(", "é", "中", "\ud800",
                "\x80", "deadbeef" * 2, "DEADBEEF" * 2, "0123456789abcdefABCDEF", "abcd", "ABCD",
                "assert_raises_regex", "AssertRaisesRegex", "QUJDREVGR0hJSktMTU5P", "\n  ", "\n\t",
                "abcdefghijklmnop", "0123456789abcdef"]
    rng = random.Random(9)
    for _ in range(6000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        data = text.encode("utf-8", "surrogatepass")
        kept = [(s, e) for s, e in runs(data)
                if not (data[s:e].lower() == data[s:e] and not hexish.fullmatch(data[s:e]))]
        assert candidate_runs(data) == kept, repr(text)


def test_a_scan_told_more_keywords_than_occur_finds_the_same() -> None:
    """A reshaped view is scanned with the keywords its original's pass found in it; any
    superset of the keywords that occur gives the same findings (a keyword that does not
    occur has no hit), and so does any order (ties go to the rule id, not the keyword order)."""
    scanner = default_scanner()
    keywords = scanner._keywords
    assert keywords is not None
    every = list(range(keywords.count))
    backwards = every[::-1]
    for text in _texts(400, 10):
        plain = scanner.scan(text)
        assert scanner.scan(text, keywords=every) == plain, repr(text)
        assert scanner.scan(text, keywords=backwards) == plain, repr(text)


def _regrouped_wrapped_split(text: str) -> list[str] | None:
    from bastion.privacy.viewkinds import _JOIN_WRAPPED

    split = _JOIN_WRAPPED.split(text)
    if len(split) < 2:
        return None
    parts = [""] * (2 * (len(split) // 3) + 1)
    parts[0:-1:2] = [a + b for a, b in zip(split[0:-1:3], split[1::3], strict=True)]
    parts[1::2], parts[-1] = split[2::3], split[-1]
    return parts


def test_escape_and_wrapped_line_cuts_by_re2_equal_the_python_splits() -> None:
    """Escape runs and wrapped-line joins are cut by RE2 (one call each, also in non-ASCII
    text) where ``re.split`` read every character: the same pieces."""
    from bastion.privacy.viewkinds import _ESCAPE, _escape_parts, _wrapped_parts

    alphabet = ["a", "Z9", "abcdefghijklmn", "ABCDEFGHIJKLMNOP==", "\n", "\r\n", "  ", "\t",
                "\\n", '\\"', "\\u00e9", "\\x41", "&amp;", "&#35;", "%41", "%e2%82%ac", "é",
                "中", "\ud800", "=", "+", "/", "-", "_", "\\"]
    rng = random.Random(11)
    for _ in range(4000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        parts = _escape_parts(text)
        if parts is not None and len(parts) > 1:
            assert parts == _ESCAPE.split(text), repr(text)
        assert _wrapped_parts(text) == _regrouped_wrapped_split(text), repr(text)
