"""Known-value redaction: exact values (and their encodings) that must never leave.

Values come from the user's stored API keys, credential-named environment variables and every
secret the scanner found earlier in the session. Each value is matched raw, base64 (standard and
URL-safe, with and without padding, at all three byte alignments so it is also found inside a
longer base64 blob), URL-encoded and hex-encoded. One Aho-Corasick automaton holds every variant.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import re2

# Environment variable names that carry credentials.
_CRED_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|CREDS|PRIVATE|AUTH|PWD|_PASS$|"
    r"SESSION|COOKIE|SIGNATURE|CERT|DSN|DATABASE_URL|CONNECTION_STRING)",
    re.IGNORECASE,
)
# Credential-like names that are not credentials.
_NOT_CRED = frozenset(
    {"PWD", "OLDPWD", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "KEYTIMEOUT", "XAUTHORITY",
     "SESSION_MANAGER", "DBUS_SESSION_BUS_ADDRESS", "XDG_SESSION_ID", "XDG_SESSION_TYPE",
     "XDG_SESSION_CLASS", "XDG_SESSION_DESKTOP", "DESKTOP_SESSION", "KEYMAP", "REQUESTS_CA_BUNDLE",
     "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "GIT_ASKPASS", "SSH_ASKPASS",
     "BASTION_PASSPHRASE_FILE"}
)

MIN_KNOWN_LENGTH = 6
MIN_VARIANT_LENGTH = 8


def credential_env_values(
    environ: Mapping[str, str] | None = None, *, min_length: int = 8
) -> dict[str, str]:
    """``{name: value}`` for environment variables whose name looks like a credential.

    Names containing KEY, TOKEN, SECRET, PASSWORD, PASSPHRASE, CREDENTIAL, AUTH, … qualify;
    values shorter than ``min_length``, and well-known non-secret variables (``PWD``,
    ``SSH_AUTH_SOCK``, …) are skipped, as are values that are paths or plain numbers.
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name, value in env.items():
        if name.upper() in _NOT_CRED or not _CRED_NAME.search(name):
            continue
        value = value.strip()
        if len(value) < min_length or value.isdigit():
            continue
        if value.startswith("/") and os.sep == "/" and " " not in value and len(value) < 256:
            # a file path (e.g. *_KEY_FILE=/run/secrets/x) is not itself the secret
            continue
        if value.lower() in ("true", "false", "none", "null"):
            continue
        out[name] = value
    return out


def encoded_variants(value: str) -> list[tuple[str, str]]:
    """``(variant, encoding)`` pairs for ``value``: b64, b64url, url, hex (raw excluded)."""
    raw = value.encode("utf-8")
    out: dict[str, str] = {}

    def add(v: str, enc: str) -> None:
        if v and v != value and len(v) >= MIN_VARIANT_LENGTH and v not in out:
            out[v] = enc

    for enc, fn in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
        full = fn(raw).decode("ascii")
        add(full, enc)
        add(full.rstrip("="), enc)
        # inside a longer base64 stream the value can start at any of three byte alignments;
        # keep only the characters that depend on the value alone
        for shift in (1, 2):
            enc_shift = fn(b"\0" * shift + raw).decode("ascii").rstrip("=")
            start = (shift * 8 + 5) // 6  # first char not touched by the padding bytes
            total_bits = (shift + len(raw)) * 8
            stop = total_bits // 6  # last full char that holds only value bits
            core = enc_shift[start:stop]
            if len(core) >= 12:
                add(core, enc)
        stop0 = (len(raw) * 8) // 6
        core0 = full[:stop0]
        if len(core0) >= 12:
            add(core0, enc)
    add(quote(value, safe=""), "url")
    add(quote(value), "url")
    add(quote_plus(value), "url")
    if len(raw) <= 256:
        hx = binascii.hexlify(raw).decode("ascii")
        add(hx, "hex")
        add(hx.upper(), "hex")
    return list(out.items())


@dataclass(frozen=True)
class KnownMatch:
    start: int
    end: int
    text: str
    label: str
    encoding: str  # "raw", "b64", "b64url", "url", "hex"


class KnownValues:
    """A set of exact values to redact, with their encoded forms. Not thread-safe.

    Matching runs RE2's DFA over the literal set (UTF-8 bytes), restarting one byte after each
    match start so overlapping values are all seen. New values go to a small "recent" matcher
    that is folded into the main one when it grows, so registering secrets one at a time costs
    amortised O(total) rather than a full rebuild per value.
    """

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}  # value -> label
        self._words: dict[bytes, tuple[str, str]] = {}  # variant bytes -> (label, encoding)
        self._main: Any = None
        self._main_words: list[bytes] = []
        self._recent_words: list[bytes] = []
        self._recent: Any = None
        self._pending: list[bytes] = []  # not compiled yet: matched with bytes.find

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, value: object) -> bool:
        return value in self._labels

    def values(self) -> dict[str, str]:
        return dict(self._labels)

    def add(self, value: str, label: str = "known") -> bool:
        """Register ``value``; returns False when it is too short to match safely."""
        if not isinstance(value, str) or len(value) < MIN_KNOWN_LENGTH or value.isspace():
            return False
        if value in self._labels:
            return True
        self._labels[value] = label
        variants = [(value, "raw"), *encoded_variants(value)]
        for variant, enc in variants:
            key = variant.encode("utf-8", "surrogatepass")
            if key not in self._words:
                self._words[key] = (label, enc)
                self._pending.append(key)
        return True

    def add_many(self, values: Iterable[str] | Mapping[str, str], label: str = "known") -> None:
        if isinstance(values, Mapping):
            for name, value in values.items():
                self.add(value, _label_from_name(name))
        else:
            for value in values:
                self.add(value, label)

    @staticmethod
    def _compile(words: list[bytes]) -> Any:
        opts = re2.Options()
        opts.log_errors = False
        opts.longest_match = True
        opts.max_mem = 256 << 20
        return re2.compile(b"|".join(re2.escape(w) for w in words), opts)

    def _refresh(self) -> None:
        # compiling costs ~µs per literal: batch new values (found with bytes.find meanwhile)
        if len(self._pending) < 256:
            return
        self._recent_words.extend(self._pending)
        self._pending = []
        if len(self._recent_words) > max(2048, len(self._main_words) // 2):
            self._main_words.extend(self._recent_words)
            self._recent_words = []
            self._main = self._compile(self._main_words)
            self._recent = None
        else:
            self._recent = self._compile(self._recent_words)

    def find(self, text: str) -> list[KnownMatch]:
        """Every occurrence of every value / variant in ``text`` (overlaps included)."""
        if not self._labels or not text:
            return []
        self._refresh()
        data = text.encode("utf-8", "surrogatepass")
        spans: list[tuple[int, int]] = []
        for matcher in (self._main, self._recent):
            if matcher is None:
                continue
            pos, n = 0, len(data)
            while pos < n:
                m = matcher.search(data, pos)
                if m is None:
                    break
                spans.append(m.span())
                pos = m.start() + 1
        for word in self._pending:
            i = data.find(word)
            while i != -1:
                spans.append((i, i + len(word)))
                i = data.find(word, i + 1)
        if not spans:
            return []
        spans.sort()
        ascii_only = len(data) == len(text)
        out: list[KnownMatch] = []
        last_b = last_c = 0
        for bs, be in spans:
            word = data[bs:be]
            label, enc = self._words[word]
            if ascii_only:
                cs, ce = bs, be
            else:
                cs = last_c + len(data[last_b:bs].decode("utf-8", "surrogatepass"))
                ce = cs + len(word.decode("utf-8", "surrogatepass"))
                last_b, last_c = bs, cs
            out.append(KnownMatch(cs, ce, text[cs:ce], label, enc))
        return out


def _label_from_name(name: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return label[:40] or "known"
