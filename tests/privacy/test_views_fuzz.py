"""Property: whatever the text (escapes, blobs, joins, prefixes, surrogates, NULs), the filter
never raises, every placeholder restores the exact original, and views map inside the text."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bastion.privacy import PrivacyFilter
from bastion.privacy.views import views

PIECES = st.sampled_from([
    "\\u0041", "\\ud800", "\\n", '\\"', "%41", "%e2%82%ac", "&amp;", "&#35;", "\\x41", "\x00",
    "     1\t", "a.py:3:", '"abcd" + "efgh"', "\\\n", "ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8",
    "password = Vq8wLz2Kp5nR", "dG9rZW49Z2hwX1E3dzJFOXI0VDF5OFUzaTZPNXAwQTJzN0Q0ZjlHMWg2SjNrOA==",
    "abcdefghijklmnop\n", "-----BEGIN", "é", "\ud83d", "\n", " ", "'", '"', "=", ":",
])
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.booleans())
@example("abcdefghijklmnop\n", True)  # a span that includes a line's newline (reversed view)
def test_filter_never_raises_and_restores_exactly(text: str, security: bool) -> None:
    pf = PrivacyFilter(security_mode=security, workspace="/tmp/ws", user="alice")
    out = pf.redact(text)
    assert pf.restore_placeholders(out) == text
    pf.scan_response(text)
    pf.check_outbound_arguments({"url": "https://x.example/" + text[:200], "body": text})
    for v in views(text):
        s, e = v.span(0, max(1, len(v.text)))
        assert 0 <= s <= e <= len(text)
