"""What goes into a payload: every string through the secret redactor, secret-named keys masked.

The redactor is one seam: ``bastion.privacy.PrivacyFilter().redact`` once the privacy package
provides it, the identity function until then. Masking by key name works either way, so a
value stored under ``apiKey``, ``password``, ``token``… is never recorded.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

Redactor = Callable[[str], str]

MASK = "***"
_SECRET_KEY = re.compile(
    r"pass(word|phrase|wd)?|secret|token|api[_-]?key|credential|private[_-]?key|"
    r"authorization|cookie|session[_-]?key", re.IGNORECASE)
# starts at the literal "://" (whatever the scheme): linear on any input. The former
# ``[a-z][a-z0-9+.-]*://`` restarted at every letter of a long word (quadratic: 100 KB of letters
# took 44 s). Every scan stops at the next "/" and every "://" holds one, so scans never overlap.
# Group 1 is everything kept; ``re.split`` cuts the text there in C and each password becomes
# "***" by a C-level join (a ``sub`` template is expanded in Python per match: ~1 µs each).
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")


def identity(text: str) -> str:
    return text


def default_redactor(*, lazy: bool = False) -> Redactor:
    """The privacy filter's redactor (rules + credential-named environment variables).

    Falls back to the identity function (returned as such, so callers can tell) only if the
    privacy package cannot be imported, which a normal installation never does. ``lazy``: the
    filter is built at the first call — the audit log's choice, since a session replaces it
    with its own filter before recording anything (~6 ms saved per run).
    """
    if lazy:
        built: list[Redactor] = []

        def redact(text: str) -> str:
            if not built:
                built.append(default_redactor())
            return built[0](text)
        return redact
    try:
        from bastion.privacy import PrivacyFilter
    except ImportError:
        return identity
    return PrivacyFilter(include_env=True).redact


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name))


def scrub(value: Any, redact: Redactor, key: str = "") -> Any:
    """A copy of JSON-able ``value`` safe to store: secrets redacted or masked."""
    if isinstance(value, str):
        if value and key and is_secret_key(key):
            return MASK
        return mask_url_passwords(redact(value))
    if isinstance(value, Mapping):
        return {k: scrub(v, redact, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, redact, key) for v in value]
    return value


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    if "://" not in text:
        return text
    parts = _URL_PASSWORD.split(text)
    parts[1::2] = map(operator.add, parts[1::2], itertools.repeat("***@"))
    return "".join(parts)


def mask_setting(key: str, value: Any) -> Any:
    """A settings value as the audit log may show it: secrets under that key masked.

    Everything below a secret-looking key segment or an ``env`` map (MCP server environments
    carry tokens) becomes ``***``; other values are kept so the change stays reviewable.
    """
    segments = key.split(".")
    if any(is_secret_key(s) or s == "env" for s in segments):
        return _mask_all(value)
    return value


def _mask_all(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return MASK if isinstance(value, str) and value else value
