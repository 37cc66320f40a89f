"""What a candidate must pass to become a finding: no placeholder, enough entropy and
character classes, and — for the generic rules — a key that names a credential.

Also :func:`raw_matcher`, the fast call into a compiled RE2 pattern every hot loop uses.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import re2

Spans = list[tuple[int, int]]  # (start, end) of group 0..n; (-1, -1) for a group not matched
Matcher = Callable[[bytes, int, int], Spans]


def raw_matcher(pattern: Any) -> Matcher:
    """``match(data, pos, endpos) -> spans`` for a compiled ``re2`` pattern over bytes.

    The hot loops call this once per keyword hit and once per window: going straight to the
    compiled RE2 object skips the wrapper's generator and match object (about half the cost of a
    call). Falls back to the public ``search`` if the binding's layout ever changes.
    """
    regexp = getattr(pattern, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if regexp is not None and anchor is not None and hasattr(regexp, "Match"):
        # a partial of the C method: no Python frame per call (~0.2 µs of ~0.7)
        return functools.partial(regexp.Match, anchor)
    groups = pattern.groups

    def slow(data: bytes, pos: int, endpos: int) -> Spans:
        m = pattern.search(data, pos, endpos)
        if m is None:
            return [(-1, -1)] * (groups + 1)
        return [m.span(g) for g in range(groups + 1)]

    return slow

# Substrings (lowercase) that mark an example / placeholder value rather than a real secret.
_PLACEHOLDER_MARKERS = (
    "example", "xxxx", "****", "....", "your_", "your-", "yourkey", "yourtoken", "yourpass",
    "your.", "<your", "placeholder", "changeme", "change_me", "change-me", "changeit",
    "dummy", "redacted", "${", "{{", "}}", "%(", "$(", "[[", "]]", "<%", "insert_", "insert-",
    "replace_me", "replaceme", "replace-me", "_here", "-here", "notasecret", "not_a_secret",
    "not-a-secret", "fake_", "fake-", "sample_", "sample-", "placeholder", "0000000000",
    "1234567890", "abcdefghij", "12345678", "abcdefgh", "password123", "secret123",
    "passw0rd", "p@ssw0rd", "hunter2", "foobar", "lorem", "ipsum",
)
_PLACEHOLDER_EXACT = frozenset(
    {
        "password", "passwd", "secret", "token", "apikey", "api_key", "changeme", "none", "null",
        "undefined", "true", "false", "test", "testing", "admin", "root", "user", "username",
        "guest", "default", "empty", "string", "required", "optional", "value", "mysecret",
        "mypassword", "secretkey", "secret_key", "letmein", "qwerty", "welcome", "pass",
        "pwd", "xxx", "todo", "tbd", "n/a", "na",
    }
)


_VAR_REF = re.compile(r"^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_][A-Za-z0-9_]*%)$")


# all markers in one RE2 pattern: one linear pass however long the value (PEM keys are ~1 KB)
_MARKERS_RE = re2.compile(
    "|".join(re2.escape(m) for m in dict.fromkeys(_PLACEHOLDER_MARKERS)).encode("utf-8")
)


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0.0 for the empty string)."""
    if not value:
        return 0.0
    n = len(value)
    # H = log2(n) - sum(c * log2(c)) / n; characters seen once contribute nothing to the sum
    repeated = sum(c * math.log2(c) for c in Counter(value).values() if c > 1)
    return max(0.0, math.log2(n) - repeated / n)


#: a hex string carries 4 bits per character at most, so a uniform threshold (3.5 for most
#: rules: meant for base62-like tokens) rejected ~18% of random 128-bit hex keys and ~55% of
#: 96-bit ones by chance; for hex it is capped at 3.0 (>= 99.5% of random 24-hex strings pass,
#: while repetitive hex such as ``00ff00ff…`` or ``deadbeef…`` still fails); also for hex in
#: dash-separated groups (a UUID key under ``api_key``: ~4% of random UUIDs scored below 3.5)
HEX_ENTROPY = 3.0
_HEX = re.compile(r"[0-9a-fA-F]+(?:-[0-9a-fA-F]+)*")


def entropy_floor(threshold: float, secret: str) -> float:
    return min(threshold, HEX_ENTROPY) if _HEX.fullmatch(secret) else threshold


_ASCII_DIGIT = re.compile(r"[0-9]")
_ASCII_OTHER = re.compile(r"[^A-Za-z0-9]")


def char_classes(value: str) -> int:
    """How many of lowercase / uppercase / digit / other characters ``value`` contains."""
    if value.isascii():
        return (
            (value != value.upper())
            + (value != value.lower())
            + (_ASCII_DIGIT.search(value) is not None)
            + (_ASCII_OTHER.search(value) is not None)
        )
    lower = upper = digit = other = 0
    for ch in value:
        if ch.islower():
            lower = 1
        elif ch.isupper():
            upper = 1
        elif ch.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


_MARKERS_MATCH = raw_matcher(_MARKERS_RE)


def looks_like_placeholder(value: str) -> bool:
    """True for example/template values: ``EXAMPLE``, ``xxxx``, ``<token>``, ``${VAR}``, …"""
    v = value.strip().strip("\"'`")
    low = v.lower()
    if low in _PLACEHOLDER_EXACT:
        return True
    if low.startswith(("<", "{", "process.env", "os.environ", "env.", "env[")):
        return True
    if _VAR_REF.match(v):
        return True
    if low.endswith((">", "}")):
        return True
    low_bytes = low.encode("utf-8", "surrogatepass")
    if _MARKERS_MATCH(low_bytes, 0, len(low_bytes))[0][0] >= 0:
        return True
    # very low variety: "aaaaaaaa", "abababab", "0000-0000"
    return len(v) >= 4 and len(set(low)) < 4


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# the key an assigned value stands under (``token_id = "``, ``"tokenId": "``, ``KEY_ID=``),
# matched on the reversed text before the value (anchored: a constant cost per candidate)
_KEY_BEFORE_REVERSED = re.compile(r"[\"'`]?[ \t]*(?:=:|>=|[:=])[ \t]*[\"'`]?([A-Za-z0-9_.-]{1,64})")
_ID_KEY = re.compile(r"(?:^|[_.-])(?:[iI][dD]|[uU][uU][iI][dD]|[gG][uU][iI][dD]|(?i:name|ref|arn))$"
                     r"|[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID|Name|NAME|Ref|REF)$|(?i:idempotency)")
# keys of opaque pagination cursors and request / idempotency / change tokens
# (``next_page_token``, ``nextPageToken``, ``NextContinuationToken``, ``ClientRequestToken``,
# ``ChangeToken``, ``startCursor``, ``NextMarker``): random-looking, and not credentials. The
# word must begin the key, follow ``_ . -`` or begin a camelCase word: ``dynatrace_token`` is
# a credential.
_PAGE_KEY = re.compile(
    r"(?:^|[_.-]|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?i:(?:next|prev|previous|continuation|continue|page|pagination|paging|cursor|change|"
    r"request|idempotency|sync|resume|purchase|action|output|input|start|last|nonce|trace|"
    r"correlation)[_.-]?(?:token|cursor|marker)|cursor|marker|next_?page|page_?cursor)$")


def _key_before(text: str, start: int) -> str | None:
    m = _KEY_BEFORE_REVERSED.match(text[max(0, start - 80) : start][::-1])
    return m.group(1)[::-1] if m is not None else None


def not_a_credential(text: str, start: int, secret: str) -> bool:
    """True when a generic rule's value at ``start`` is, by the key it is assigned to, not a
    credential (false-positive classes of issue #13): a UUID under a key that names an
    identifier (``token_id``, ``tokenId``, ``SECRET_UUID``, ``secretName``, ``key_ref``,
    ``idempotency_key``) is the id of a credential; any value under a key that names a
    pagination cursor or a request token (``next_page_token``, ``NextContinuationToken``,
    ``ClientRequestToken``) is an opaque cursor or idempotency value. A UUID under
    ``api_key`` / ``token`` / ``password`` is still reported (some services use them as
    keys), and so is every value a vendor-specific rule finds."""
    key = _key_before(text, start)
    if key is None:
        return False
    if _PAGE_KEY.search(key) is not None:
        return True
    return _UUID.fullmatch(secret) is not None and _ID_KEY.search(key) is not None
