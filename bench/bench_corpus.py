"""Recall and false positives on a labelled corpus written for Bastion (not a timed test).

    .venv/bin/python bench/bench_corpus.py [--neg-mb 4] [--json]

The corpus is generated here (synthetic random secrets, never real ones, no public fixtures):

* **positives** — one small document per planted secret, in the shapes secrets take in LLM
  context: assignments and prose, tool formats (.pgpass, ConvertTo-SecureString, net user,
  Ansible, compose), URL query strings, long JWTs, framework keys with punctuation, vendor
  tokens named only by the word next to them, the long tail of vendor tokens known by the key,
  flag or word next to them (``key-name``: camelCase JSON keys, ``*_PAT``, ``--vendor-key``,
  "The Vendor key:", hex keys), and *reshaped* forms (tool line prefixes, JSON
  escapes, base64 / gzip / hex / percent, split strings, whitespace-stripped PEM, UTF-16 read
  as 8-bit);
* **negatives** — Python standard library code (outside ``test`` directories) and generated
  look-alikes that are not secrets (UUIDs, pagination cursors and request tokens, placeholders,
  elided documentation examples, identifiers, timestamps, hashes).

A positive counts as found when the engine reports anything in its document; false positives
are findings per MB of negatives. Engines: Bastion with views (``scan_views``: what the filter
and ``bastion scan`` use), Bastion's rules alone, detect-secrets and Kingfisher
(``kingfisher-secret-scanner``) when installed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import json
import random
import string
import sysconfig
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from bastion.privacy import default_scanner, scan_views

B62 = string.ascii_letters + string.digits


def _r(rng: random.Random, n: int, chars: str = B62) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


def _password(rng: random.Random) -> str:
    return _r(rng, 5) + rng.choice("#!@%&*") + _r(rng, 4) + str(rng.randrange(10, 99))


def _jwt(rng: random.Random, payload_len: int) -> str:
    def b64u(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    payload = json.dumps({"sub": _r(rng, 12), "data": _r(rng, payload_len)}).encode()
    sig = bytes(rng.randrange(256) for _ in range(64))
    header = b64u(b'{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{b64u(payload)}.{b64u(sig)}"


def positives(rng: random.Random) -> list[tuple[str, str]]:
    """``(category, document)`` pairs, one planted secret each."""
    out: list[tuple[str, str]] = []
    vendors = ["acmecloud", "mailjet", "pagerduty", "bitrise", "contentful", "fastly",
               "segment", "mixpanel", "rollbar", "loggly", "sumologic", "opsgenie"]
    for _ in range(12):
        pw, tok = _password(rng), _r(rng, 32)
        gh = "ghp_" + _r(rng, 36)
        out += [
            ("context", f'db_password = "{pw}"'),
            ("context", f"The password for the staging box is {pw} — keep it safe."),
            ("context", f"export API_TOKEN={tok}"),
            ("context", f"Authorization: Bearer {tok}"),
            ("tool-format", f"db.internal:5432:app:app_user:{pw}"),
            ("tool-format", f'$p = ConvertTo-SecureString "{pw}" -AsPlainText -Force'),
            ("tool-format", f"net user backup {pw} /add"),
            ("tool-format", f"web1 ansible_host=10.0.0.5 ansible_ssh_pass={pw}"),
            ("tool-format", f"    environment:\n      - POSTGRES_PASSWORD={pw}\n"),
            ("url-query", f"GET https://api.example.net/v2/items?limit=5&api_key={tok}"),
            ("long-jwt", f"session: {_jwt(rng, rng.randrange(500, 1500))}"),
            ("framework-key", f"SECRET_KEY = 'django-insecure-{_r(rng, 20)}#@({_r(rng, 12)})!'"),
            ("vendor-context",
             f"{rng.choice(vendors)} api key: {_r(rng, 40, string.ascii_lowercase + string.digits)}"),
            ("reshaped", f"conf/app.ini:12:password = {pw}"),
            ("reshaped", f"     3\tDB_PASSWORD={pw}"),
            ("reshaped", json.dumps({"result": f'config = {{"password": "{pw}"}}'})),
            ("reshaped", base64.b64encode(f"token={gh}\n".encode()).decode()),
            ("reshaped", base64.b64encode(gzip.compress(f"GITHUB_TOKEN={gh}".encode())).decode()),
            ("reshaped", binascii.hexlify(f"key {gh}".encode()).decode()),
            ("reshaped", urllib.parse.quote(f"DB_PASSWORD={pw}\n")),
            ("reshaped", f'token = "{gh[:20]}" + "{gh[20:]}"'),
            ("reshaped", f"{gh[:20]}\n{gh[20:]}"),
            ("reshaped", f"token: {gh}".encode("utf-16-le").decode("latin-1")),
        ]
        # the long tail: a vendor's token known only by the key, flag or word next to it
        v, hx = rng.choice(vendors), _r(rng, rng.choice((32, 40)), "0123456789abcdef")
        out += [
            ("key-name", json.dumps({f"{v}Key": tok})),
            ("key-name", f"{v.upper()}_PAT = {_r(rng, 36)}"),
            ("key-name", f"deploy-tool push --{v}-key {tok} ./dist"),
            ("key-name", f"The {v.capitalize()} key: {_r(rng, 32)}"),
            ("key-name", f'{v}_api_key = "{hx}"'),
            ("key-name", f"{v.upper()}_TOKEN={hx}"),
        ]
        out += _more_shapes(rng, pw, tok)
    return out


def _more_shapes(rng: random.Random, pw: str, tok: str) -> list[tuple[str, str]]:
    """Further shapes of the same categories (issue #13's second list of misses)."""
    hexkey = _r(rng, 32, "0123456789abcdef")
    vendor = rng.choice(["twilio auth token", "algolia admin key", "bugsnag api key",
                         "circleci token", "DATADOG_APP_KEY=", "sentry auth token"])
    return [
        ("context", f"The admin password was changed to '{pw}' this morning."),
        ("context", f"I set the password to {pw} for now"),
        ("context", f'unlock the archive with the passphrase "{pw}"'),
        ("context", f"log in with admin / {pw} and rotate it"),
        ("context", f"the staging pw is {pw}"),
        ("tool-format", f"10.1.{rng.randrange(256)}.7:6432:billing:billing_rw:{pw}"),
        ("tool-format", f'$pw = "{pw}" | ConvertTo-SecureString -AsPlainText -Force'),
        ("tool-format", f"$s = ConvertTo-SecureString -AsPlainText -Force -String '{pw}'"),
        ("tool-format", f"net user /add deploy {pw}"),
        ("tool-format", f'NET USER svc_sql "{pw}" /ADD'),
        ("url-query", f"wss://feed.example.net/live?auth={tok}"),
        ("url-query", f"curl 'https://git.example.org/api/v4/projects?private_token={tok}'"),
        ("framework-key", "APP_KEY=base64:"
         + base64.b64encode(bytes(rng.randrange(256) for _ in range(32))).decode()),
        ("framework-key", f"app.secret_key = b'{_r(rng, 10)}\\x8f{_r(rng, 10)}'"),
        ("framework-key", f"app.config['SECRET_KEY'] = '{_r(rng, 8)}#{_r(rng, 8)}!{_r(rng, 4)}'"),
        ("vendor-context", f"{vendor} {hexkey}"),
    ]


def negatives(rng: random.Random, mb: float) -> list[str]:
    """Secret-free text: stdlib code (no tests) plus generated look-alikes."""
    docs: list[str] = []
    for _ in range(200):
        cursor = json.dumps({"offset": rng.randrange(10**6)}).encode()
        docs.append("\n".join([
            f"request_id = '{_uuid(rng)}'",
            # identifiers under credential-sounding keys (ids of tokens and secrets)
            f"token_id = '{_uuid(rng)}'",
            json.dumps({"secretId": _uuid(rng), "keyUuid": _uuid(rng)}),
            f"IDEMPOTENCY_KEY={_uuid(rng)}",
            f"next_page_token: {base64.urlsafe_b64encode(cursor).decode()}",
            "password = '<your-password>'",
            "api_key = os.environ['API_KEY']",
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            f"sha256 = '{_r(rng, 64, '0123456789abcdef')}'",
            f"commit {_r(rng, 40, '0123456789abcdef')}",
            "token_ttl = 3600  # seconds",
            "See https://docs.example.org/auth?token=YOUR_TOKEN for details.",
            # pagination cursors and request tokens, elided examples, identifiers, dates
            json.dumps({"NextContinuationToken": base64.b64encode(cursor * 3).decode(),
                        "ClientRequestToken": _uuid(rng), "ChangeToken": _uuid(rng)}),
            json.dumps({"PurchaseToken": "eyJ2IjoiMSIsInMiOjEsImMiOi...",
                        "result_key": "ServerlessV2PlatformVersions",
                        "PasswordLastUsed": "2016-09-08T21:47:36Z"}),
            "openssl req -new -key /etc/ssl/private/site_key.pem -out site.csr",
            # pagination cursors under token-sounding keys, names and references of secrets
            json.dumps({"next_page_token": _r(rng, 32), "items": []}),
            f"nextPageToken: {_r(rng, 40)}",
            json.dumps({"continuation_token": _r(rng, 48)}),
            f"secretName: {_uuid(rng)}",
            f"kms_key_ref = '{_uuid(rng)}'",
            "api_key: ${{ secrets.API_KEY }}",
            "login: admin/password",
        ]))
    lib = Path(sysconfig.get_paths()["stdlib"])
    total = sum(map(len, docs))
    for p in sorted(lib.rglob("*.py")):
        if total >= mb * 1e6:
            break
        if "test" in p.parts or "tests" in p.parts or "site-packages" in p.parts:
            continue
        text = p.read_text("utf-8", "replace")
        docs.append(text)
        total += len(text)
    return docs


def _uuid(rng: random.Random) -> str:
    h = _r(rng, 32, "0123456789abcdef")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


Engine = Callable[[str], int]


def engines() -> dict[str, Engine]:
    scanner = default_scanner()
    out: dict[str, Engine] = {
        "bastion (views)": lambda t: len(scan_views(scanner, t)),
        "bastion (rules only)": lambda t: len(scanner.scan(t)),
    }
    try:
        import kingfisher_sdk

        kf = kingfisher_sdk.Scanner()
        out["kingfisher"] = lambda t: sum(1 for f in kf.scan(t) if f.visible)
    except ImportError:
        pass
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings

        def detect(text: str) -> int:
            with tempfile.TemporaryDirectory() as tmp:
                p = Path(tmp) / "doc.txt"
                p.write_text(text, "utf-8", errors="surrogatepass")
                with default_settings():
                    collection = SecretsCollection()
                    collection.scan_file(str(p))
                    return sum(len(v) for _, v in collection.data.items())

        out["detect-secrets"] = detect
    except ImportError:
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--neg-mb", type=float, default=4.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(1313)
    pos = positives(rng)
    neg = negatives(rng, args.neg_mb)
    neg_mb = sum(map(len, neg)) / 1e6
    results: dict[str, dict[str, float]] = {}
    for name, engine in engines().items():
        found: dict[str, list[int]] = {}
        for category, doc in pos:
            found.setdefault(category, []).append(1 if engine(doc) else 0)
        t = time.process_time()
        fps = sum(engine(d) for d in neg)
        dt = time.process_time() - t
        row = {f"recall_{c}": round(sum(v) / len(v), 2) for c, v in found.items()}
        row["recall_all"] = round(sum(sum(v) for v in found.values()) / len(pos), 3)
        row["fp_per_mb"] = round(fps / neg_mb, 2)
        row["neg_mb_s"] = round(neg_mb / max(dt, 1e-9), 1)
        results[name] = row
        if not args.json:
            print(name, json.dumps(row), flush=True)
    if args.json:
        print(json.dumps({"positives": len(pos), "negative_mb": round(neg_mb, 2), **results}))


if __name__ == "__main__":
    main()
