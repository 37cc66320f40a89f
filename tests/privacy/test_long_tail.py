"""Issue #13's long tail: shapes of secrets in LLM context that were missed, and look-alikes
that were reported. Every value here was made up for this file (random-looking, never real),
and the verdict is the redacted text: the secret must not survive / the look-alike must."""

from __future__ import annotations

import pytest

from bastion.privacy import PrivacyFilter

_PW = "Gv7#qL2mXz9"
_TOKEN = "Qm4Zt8Lw2Xc6Vb9Np3Rk7Hs1Jd5Gf0Ty"
_HEX = "c41e9b7a2d8f3e6b0a5c9d2e7f1b8a3c"

MISSED = [
    # passwords in prose and chat
    f"The admin password was changed to '{_PW}'.",
    f"I set the password to {_PW} before the demo",
    f'unlock it with the passphrase "{_PW}"',
    f"log in with admin / {_PW} and change it",
    f"credentials: deploy:{_PW}",
    f"the staging pw is {_PW}",
    f"PW: {_PW}",
    f"pass: {_PW}",
    # tool formats
    f"10.20.0.7:6432:billing:billing_rw:{_PW}",
    f'$pw = "{_PW}" | ConvertTo-SecureString -AsPlainText -Force',
    f"$s = ConvertTo-SecureString -AsPlainText -Force -String '{_PW}'",
    f"net user /add deploy {_PW}",
    f'NET USER svc_sql "{_PW}" /ADD',
    f"    environment:\n      - POSTGRES_PASSWORD={_PW}\n",
    # vendor tokens without a prefix, named by the vendor
    f"twilio auth token: {_HEX}",
    f"algolia admin key {_HEX}",
    f"BUGSNAG_API_KEY={_HEX}",
    f"circleci token: {_HEX}d2f1a9c3",
    # URL query strings
    f"wss://feed.example.net/live?auth={_TOKEN}",
    f"curl 'https://git.example.org/api/v4/projects?private_token={_TOKEN}'",
    # framework signing keys
    "APP_KEY=base64:Xq3mZ8vL2kR9tW4nB7cF1hJ6pS0dG5yA8uE2iO3wQ1s=",
    "app.secret_key = b'Zr4\\x8fkQ9wLm2\\xa1Tx7v'",
    "app.config['SECRET_KEY'] = 'Hq5#vWz2!kLp9Rt3'",
    "DJANGO_SECRET_KEY=q7!kz#2m@x9(vw^t4)lp8&rn",
]

LOOK_ALIKES = [
    # opaque pagination cursors under token-sounding keys
    '{"next_page_token": "NGR2VndoU2oyZ1VNOGxDV01wQmdPRkI4", "items": []}',
    "nextPageToken: fTd1eiKI0sSG4v1boWRrwOgoX69RUtFBpRWOyyIp",
    '{"continuation_token": "f2l7apeNqOrythfaU6rwo4W4ei9xNDG2EMP44zJ6J45haXgO"}',
    '{"pageToken": "gnRlZOsKLmdURBXsvF9TehPfR9uF"}',
    # identifiers (UUIDs) under keys that name or reference a secret
    'secretName: "cbfe5482-da58-4fd9-979e-7df4bed60bf8"',
    '"access_key_id_ref": "59bb9bee-5044-45ae-8a29-680590736c9e"',
    # placeholders and documentation
    "login: admin/password",
    "log in with https://sso.example.org/start",
    "api_key: ${{ secrets.API_KEY }}",
    '$pw = "$env:ADMIN_PW" | ConvertTo-SecureString -AsPlainText -Force',
    "the password was changed to something stronger",
    "SEGMENT_WRITE_KEY=${SEGMENT_WRITE_KEY}",
]


@pytest.mark.parametrize("text", MISSED)
def test_the_secret_does_not_survive(text: str) -> None:
    out = PrivacyFilter().redact(text)
    for secret in (_PW, _TOKEN, _HEX, "Xq3mZ8vL2kR9tW4nB7cF1hJ6pS0dG5yA8uE2iO3wQ1s=",
                   "Zr4\\x8fkQ9wLm2\\xa1Tx7v", "Hq5#vWz2!kLp9Rt3", "q7!kz#2m@x9(vw^t4)lp8&rn"):
        assert secret not in out, (text, out)
    assert "[[SECRET:" in out


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_the_look_alike_is_left_alone(text: str) -> None:
    assert PrivacyFilter().redact(text) == text


def test_a_cursor_key_does_not_hide_a_vendor_token() -> None:
    """The pagination exemption is the generic rules' only: a token with a known shape under
    such a key is still redacted."""
    token = "ghp_Q7w2E9r4T1y8U3i6O5p0A2s7D4f9G1h6J3k8"
    out = PrivacyFilter().redact(f'{{"next_page_token": "{token}"}}')
    assert token not in out and "[[SECRET:github-pat" in out


def test_a_uuid_under_a_credential_key_is_still_a_credential() -> None:
    out = PrivacyFilter().redact('api_key = "cbfe5482-da58-4fd9-979e-7df4bed60bf8"')
    assert "cbfe5482" not in out
