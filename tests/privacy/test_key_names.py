"""Tokens named by the key next to them (the long tail of vendor formats), and values under
credential-sounding keys that are no credentials (false positives of issue #13).

Secrets here are generated at random per run (never real, no public fixtures); the verdict is
what ``scan_views`` (the filter's and ``bastion scan``'s engine) reports.
"""

from __future__ import annotations

import random
import string
import uuid

import pytest

from bastion.privacy import default_scanner, scan_views

_RNG = random.Random(13)
VENDORS = ["zorblat", "quixotic", "fluxwave", "wubbledrop", "glimmer", "dynatrace", "snorkel"]


def _token(kind: str) -> str:
    alphabet = {"b62": string.ascii_letters + string.digits,
                "lower": string.ascii_lowercase + string.digits,
                "hex": "0123456789abcdef"}[kind]
    while True:
        sizes = (32, 40) if kind == "hex" else (24, 32, 40)  # hex keys: 128 or 160 bits
        t = "".join(_RNG.choice(alphabet) for _ in range(_RNG.choice(sizes)))
        if any(c.isdigit() for c in t) and any(c.isalpha() for c in t):
            return t


def _found(text: str, secret: str) -> bool:
    return any(secret in f.secret or (f.secret in secret and len(f.secret) >= 16)
               for f in scan_views(default_scanner(), text)
               if f.confidence in ("medium", "high"))


SHAPES = [
    '"{v}Key": "{t}"', "{v}_key = '{t}'", "{V}_PAT = {t}", "{v}-pat: {t}",
    "mytool deploy --{v}-key {t}", "mytool --{v}-token={t} --verbose", "cli --password '{t}'",
    "{C} key: {t}", "The {C} token is {t}", "{V}_TOKEN={t}", "{v}_token: \"{t}\"",
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["b62", "lower", "hex"])
def test_a_token_named_by_the_vendor_word_next_to_it_is_found(shape: str, kind: str) -> None:
    for v in VENDORS:
        secret = _token(kind)
        text = shape.format(v=v, V=v.upper(), C=v.capitalize(), t=secret)
        assert _found(text, secret), text


NOT_SECRETS = [
    # pagination cursors and request / idempotency tokens, however random they look
    '"NextContinuationToken": "1w41l63U0xa8q7smH50vCxyTQqdxo69O3EmK28Bi5PcR/EyIJg=="',
    '"nextPageToken": "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA2aTA5cDZpGgIIAQ=="',
    "page_token = 'Q2lBS0dqQnBORGQyTm1wMlptbDJjWFJ3WWpCcE9YQTJhVEE1'",
    '"ClientRequestToken": "{uuid}"', '"ChangeToken": "{uuid}"',
    '"LifecycleActionToken": "{uuid}"', '"startCursor": "Y3Vyc29yOnYyOpHOAAVc8Q=="',
    # identifiers under credential-sounding keys
    '"tokenId": "{uuid}"', "SECRET_UUID={uuid}", '"cacheKey": "{uuid}"',
    '"result_key": "ServerlessV2PlatformVersions"', '"S3Key": "my-app/5026-stage-150723.war"',
    '"PasswordLastUsed": "2016-09-08T21:47:36Z"',
    # elided documentation examples, regular expressions
    '"PurchaseToken": "eyJ2IjoiMSIsInMiOjEsImMiOi..."', "api_token = 'sk_test_4eC39Hq…'",
    "password = r'([a-f0-9]{48}(?![a-f0-9]))'",
    # flags that take a file, a variable or another flag, not a token
    "openssl req -key /etc/ssl/private/server_key.pem -out req.csr",
    "cli --api-key $API_KEY_FROM_THE_ENVIRONMENT", "git config --get user.signingkey",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_values_that_are_not_credentials_are_not_reported(text: str) -> None:
    text = text.replace("{uuid}", str(uuid.UUID(int=_RNG.getrandbits(128), version=4)))
    found = [f for f in scan_views(default_scanner(), text)
             if f.confidence in ("medium", "high")]
    assert found == [], (text, found)


@pytest.mark.parametrize("key", ["HEROKU_API_KEY={u}", '"api_key": "{u}"', "token: {u}",
                                 'password = "{u}"', '"dynatrace_token": "{t}"',
                                 "X-Auth-Token: {t}"])
def test_credential_keys_keep_their_values_reported(key: str) -> None:
    u, t = str(uuid.uuid4()), _token("b62")
    text = key.format(u=u, t=t)
    assert _found(text, u if "{u}" in key else t), text
