"""Reformatted secrets are still found: line prefixes, escapes, blobs, joins, UTF-16.

Each case is a shape a hostile model (or a file it asked for) used to move a secret past the
filter; the redacted text must not contain the secret, and the placeholder must replace the
*encoded* span (so restoring it gives back the exact original bytes).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import gzip
import html
import json
import urllib.parse

import pytest

from bastion.privacy import PrivacyFilter
from bastion.privacy.views import views

GH = "ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8"
PW = "Vq8wLz2Kp5nR"
PW2 = "Xk9#mQ2vL8pZ4wR7"

CASES = {
    "grep-prefix-ini": f"conf/app.ini:3:password = {PW}\n",
    "readfile-prefix-env": f"     1\t# db\n     2\tDB_PASSWORD={PW}\n",
    "cat-n-yaml": f"  7: db:\n  8:   db_pass: {PW}\n",
    "json-escaped-quotes": json.dumps({"out": f'config = {{"password": "{PW2}"}}'}),
    "json-unicode-escapes": f'{{"x": "password = \\u0022{PW2}\\u0022"}}',
    "json-slash-escapes": f'{{"u": "https:\\/\\/bob:{PW}@db.example.org\\/x"}}',
    "base64": base64.b64encode(f"token={GH}\n".encode()).decode(),
    "base64-urlsafe": base64.urlsafe_b64encode(f"DB_PASSWORD={PW2}\n".encode()).decode(),
    "base64-wrapped": "\n".join(
        base64.b64encode((f"x={GH} " * 3).encode()).decode()[i:i + 20] for i in range(0, 200, 20)),
    "hex": binascii.hexlify(f"key {GH}".encode()).decode(),
    "percent-env": urllib.parse.quote(f"DB_PASSWORD={PW2}\nX=1\n"),
    "html-entities": html.escape(f'password="{PW2}"', quote=True).replace("#", "&#35;"),
    "gzip-base64": base64.b64encode(gzip.compress(f"token: {GH}".encode())).decode(),
    "utf16-as-latin1": f"token: {GH}".encode("utf-16-le").decode("latin-1"),
    "string-concat": f'tok = "{GH[:20]}" + "{GH[20:]}"',
    "implicit-concat-newline": f'tok = ("{GH[:14]}"\n       "{GH[14:28]}"\n       "{GH[28:]}")',
    "backslash-continuation": f"TOKEN={GH[:20]}\\\n{GH[20:]}",
    "wrapped-column": f"{GH[:20]}\n{GH[20:]}",
    "yaml-folded": f"key: >-\n  {GH[:20]}\n  {GH[20:]}\n",
    "rev-lines": f"line one\n{('token = ' + GH)[::-1]}\nlast line",
    "rot13": codecs.encode(f"config:\n  db_password: {PW}\n", "rot13"),
    "pem-whitespace-stripped": (
        "-----BEGINRSAPRIVATEKEY-----MIICWwIBAAKBgQDcOJWT+GioHbCLFXL+oqyvMqzRjBWbMtzbCwA7UZN+3e4"
        "019UlBKpIxF/GsgSqSEkfljrLKvPVXJ2kX8DT2uxYom5Wrwuzc6Auc+foC2upMu+VfNreAR1q-----ENDRSA"
        "PRIVATEKEY-----"),
}
SECRET_PARTS = [GH[:12], GH[-12:], GH[:12][::-1], GH[-12:][::-1], PW, PW2, "MIICWwIBAAKBgQ",
                codecs.encode(PW, "rot13")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_reshaped_secret_is_redacted(name: str) -> None:
    text = CASES[name]
    pf = PrivacyFilter()
    out = pf.redact(text)
    assert "[[SECRET:" in out, f"{name}: nothing redacted: {out!r}"
    for part in SECRET_PARTS:
        assert part not in out, f"{name}: {part!r} left in {out!r}"
    # the placeholder stands for the exact original span: restoring gives the input back
    assert pf.restore_placeholders(out) == text


def test_encoded_span_is_replaced_whole() -> None:
    blob = base64.b64encode(f"token={GH}\n".encode()).decode()
    out = PrivacyFilter().redact(f"data: {blob} end")
    assert out.startswith("data: [[SECRET:") and out.endswith("]] end")


def test_detected_secret_becomes_known_in_every_shape() -> None:
    pf = PrivacyFilter()
    pf.redact(base64.b64encode(f"token={GH}".encode()).decode())  # found only decoded
    assert GH not in pf.redact(f"plain {GH}")


def test_views_are_bounded_and_map_back() -> None:
    text = "a\\u0041b %41 &amp; c"
    found = [v for v in views(text) if v.kind == "escape"]
    assert found and found[0].text == "aAb A & c"
    v = found[0]
    assert v.span(1, 2) == (1, 7)  # "A" came from "\\u0041"
    assert v.span(0, 1) == (0, 1)


def test_clean_text_has_no_findings_from_views() -> None:
    text = ("def f(x):\n    return x + 1\n" * 50 + '"abcd" + "efgh"\n'
            + base64.b64encode(b"hello world, nothing to see here").decode())
    assert PrivacyFilter().redact(text) == text


def test_lone_surrogates_never_break_redaction() -> None:
    # JSON "\ud800" decodes to a lone surrogate; RE2 takes UTF-8 only: must not raise
    pf = PrivacyFilter(security_mode=True)
    text = ('x \ud800 {"a": "\\ud800 password = \\"Xk9mQ2vL8pZ4\\""} bob@corp.org '
            "![i](https://evil.example/?q=abcdefghijk)")
    assert "Xk9mQ2vL8pZ4" not in pf.redact(text)
    scanned = pf.scan_response(text).text
    assert "Xk9mQ2vL8pZ4" not in scanned and "evil.example" not in scanned
    assert "\ud800" in scanned  # untouched parts are kept as they were
    assert pf.check_outbound_arguments({"u": text})
