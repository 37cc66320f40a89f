"""Known-value redaction: exact values (and their encodings) that must never leave.

Values come from the user's stored API keys, credential-named environment variables and every
secret the scanner found earlier in the session. Each value is matched raw, base64 (standard and
URL-safe, with and without padding, at all three byte alignments so it is also found inside a
longer base64 blob), URL-encoded and hex-encoded. A hash index of fixed-length grams holds
every variant, so adding a value never recompiles anything.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from bastion.privacy.detector import LONG_MATCH
from bastion.privacy.fragments import (
    FRAGMENT_MIN_VALUE,
    Best,
    FragmentIndex,
    GramIndex,
    _common_prefix,
    _common_suffix,
    _qualifying_starts,
    fragment_grid,
    hit_positions,
)
from bastion.privacy.textio import rot13

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
#: fragments are indexed for this many values per session (memory bound); later values match
#: whole (raw, encoded, reversed, rot13) only
MAX_FRAGMENTED_VALUES = 2_000


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


def configured_secrets(mcp_servers: Mapping[str, Any]) -> dict[str, str]:
    """``{name: value}`` for secrets in settings: MCP servers' ``env`` values and ``headers``,
    and credentials / query values in their ``url`` — a server echoing its own token (plain or
    transformed) is then redacted like any known value."""
    out: dict[str, str] = {}
    for server, cfg in mcp_servers.items():
        get = cfg.get if isinstance(cfg, Mapping) else lambda k, c=cfg: getattr(c, k, None)
        for field in ("env", "headers"):
            for key, value in (get(field) or {}).items():
                if isinstance(value, str) and value.strip():
                    out[f"mcp-{server}-{key}"] = value.strip()
        url = get("url")
        if isinstance(url, str) and ("@" in url or "?" in url):
            parts = urlsplit(url)
            if parts.password:
                out[f"mcp-{server}-url-password"] = parts.password
            for i, (_k, v) in enumerate(parse_qsl(parts.query)):
                if len(v) >= 8:
                    out[f"mcp-{server}-url-{i}"] = v
    return out


def encoded_variants(value: str) -> list[tuple[str, str]]:
    """``(variant, encoding)`` pairs for ``value``: b64, b64url, url, hex (raw excluded)."""
    raw = value.encode("utf-8", "surrogatepass")  # (a JSON "\ud800" escape can end up here)
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
    add(base64.b32encode(raw).decode("ascii"), "b32")
    add(base64.b32encode(raw).decode("ascii").rstrip("="), "b32")
    add(quote(value, safe="", errors="surrogatepass"), "url")
    add(quote(value, errors="surrogatepass"), "url")
    add(quote_plus(value, errors="surrogatepass"), "url")
    if len(raw) <= 256:
        hx = binascii.hexlify(raw).decode("ascii")
        add(hx, "hex")
        add(hx.upper(), "hex")
    return list(out.items())


#: how each shape's whole form is made from the value (its fragments are cut from it)
_SHAPES = {"fragment": lambda v: v, "reversed": lambda v: v[::-1],
           "rot13": rot13}


def shape_variants(value: str) -> list[tuple[str, str]]:
    """``(form, kind)``: the value reversed and rot13'd, and fragments of all three.

    A model that saw (part of) a secret can print half of it, reverse it or rot13 it; each
    window of ``FRAGMENT`` characters of a 16+ character value is specific enough to match.
    """
    return [(form, kind) for form, kind, _ in shape_windows(value)]


def shape_windows(value: str) -> list[tuple[str, str, int]]:
    """``(form, kind, offset)``: :func:`shape_variants` with each fragment's character offset
    in its whole form (-1 for a whole form). Reversing or rot13-ing a window keeps its
    character classes, blanks and entropy, so which windows qualify is decided once."""
    out: dict[str, tuple[str, int]] = {}
    rev, rot = value[::-1], rot13(value)
    n = len(value)
    fragments = n >= FRAGMENT_MIN_VALUE
    width, step = fragment_grid(n)
    starts = _qualifying_starts(value, width, step) if fragments else []
    for i in starts:
        out.setdefault(value[i : i + width], ("fragment", i))
    out.setdefault(rev, ("reversed", -1))
    if fragments:
        # the reversed form's windows are the value's windows reversed (same verdict) when
        # both grids line up, i.e. when ``step`` divides ``n - width``
        rev_starts = ([n - width - i for i in reversed(starts)] if (n - width) % step == 0
                      else _qualifying_starts(rev, width, step))
        for i in rev_starts:
            out.setdefault(rev[i : i + width], ("reversed", i))
    if rot != value:
        out.setdefault(rot, ("rot13", -1))
        for i in starts:
            out.setdefault(rot[i : i + width], ("rot13", i))
    out.pop(value, None)
    return [(form, kind, at) for form, (kind, at) in out.items()]


@dataclass(frozen=True)
class KnownMatch:
    start: int
    end: int
    text: str
    label: str
    encoding: str  # "raw", "b64", "b64url", "b32", "url", "hex", "fragment", "reversed", "rot13"


# Words are indexed by fixed-length "grams" sampled at a fixed stride: an occurrence of a word of
# length >= STRIDE + GRAM - 1 at text offset p covers exactly one text offset a = p + k that is a
# multiple of STRIDE (0 <= k < STRIDE), and text[a:a + GRAM] == word[k:k + GRAM]. So indexing each
# word under its grams at offsets 0..STRIDE-1 and looking up only the text's aligned grams finds
# every occurrence exactly once. GRAM == STRIDE, so the aligned grams of a text are simply its
# consecutive 8-byte (or 4-byte) chunks, read as integers by one ``struct.unpack`` call.
_LONG = 8  # gram length == stride for words of >= 15 bytes
_SHORT = 4  # gram length == stride for words of 7..14 bytes
_LONG_MIN = 2 * _LONG - 1
_SHORT_MIN = 2 * _SHORT - 1
_Q = struct.Struct("<Q")
_I = struct.Struct("<I")
_BLOCK = 1 << 20  # bytes of text whose chunks are looked up at once (a multiple of 8)


def _chunks(data: bytes, size: int) -> tuple[int, ...]:
    count = len(data) // size
    if not count:
        return ()
    return struct.unpack(f"<{count}{'Q' if size == 8 else 'I'}", data[: count * size])


class KnownValues:
    """A set of exact values to redact, with their encoded forms. Not thread-safe.

    There is no compiled automaton to rebuild: adding a value inserts each of its forms
    ("words") into a hash index keyed by fixed-length grams (O(forms) dict inserts). Matching
    splits the UTF-8 text into consecutive 8- and 4-byte chunks (``struct.unpack``), intersects
    them with the index in C (``dict.keys() & chunks``) and verifies each candidate with
    ``bytes.startswith``. Words shorter than 7 bytes (raw values of 6 characters) are few and are
    looked up with ``bytes.find``. Cost per call: O(len(text)) at C speed plus O(candidates),
    independent of how many values are registered and of when they were added.
    """

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}  # value -> label
        self._words: dict[bytes, tuple[str, str]] = {}  # variant bytes -> (label, encoding)
        # gram -> [(word, offset)], or [(fragment form id, offset)] (see FragmentIndex)
        self._long: GramIndex = {}  # 8-byte grams
        self._short: GramIndex = {}  # 4-byte grams
        self._tiny: list[bytes] = []  # words under 7 bytes
        self._fragmented = 0  # values whose fragments are indexed
        # fragment word -> (the whole form it was cut from, its byte offset there): a matched
        # fragment is extended along its form, so the next windows fall inside the match
        self._origin: dict[bytes, tuple[bytes, int]] = {}
        self._fragments = FragmentIndex()  # (ASCII values: each form once, not per window)

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
        variants = [(value, "raw", -1), *((v, e, -1) for v, e in encoded_variants(value))]
        if self._fragmented < MAX_FRAGMENTED_VALUES and len(value) <= LONG_MATCH:
            self._fragmented += 1
            if value.isascii():
                variants += self._add_forms(value, label)
            else:
                variants += shape_windows(value)
        forms: dict[str, tuple[str, bytes]] = {}  # kind -> its whole form (str, UTF-8)
        ascii_only = value.isascii()
        for variant, enc, at in variants:
            key = variant.encode("utf-8", "surrogatepass")
            if key in self._words:
                continue
            self._words[key] = (label, enc)
            self._index(key)
            if at >= 0:  # a fragment: remember where in its whole form it was cut
                if enc not in forms:
                    whole = _SHAPES[enc](value)
                    forms[enc] = (whole, whole.encode("utf-8", "surrogatepass"))
                whole, form = forms[enc]
                if not ascii_only:
                    at = len(whole[:at].encode("utf-8", "surrogatepass"))
                self._origin[key] = (form, at)
        return True

    def _add_forms(self, value: str, label: str) -> list[tuple[str, str, int]]:
        """Index an ASCII value's fragment windows (forwards, reversed, rot13) in the
        fragment index; returns its whole reversed and rot13 forms (indexed as words)."""
        rev, rot = value[::-1], rot13(value)
        n = len(value)
        whole = [(rev, "reversed", -1)] + ([(rot, "rot13", -1)] if rot != value else [])
        if n < FRAGMENT_MIN_VALUE:
            return [w for w in whole if w[0] != value]
        width, step = fragment_grid(n)
        starts = _qualifying_starts(value, width, step)
        # the reversed form's windows are the value's windows reversed (same verdict) when
        # both grids line up, i.e. when ``step`` divides ``n - width``
        rev_starts = ([n - width - i for i in starts] if (n - width) % step == 0
                      else _qualifying_starts(rev, width, step))
        indexes = self._short, self._long
        self._fragments.add(value, label, "fragment", starts, width, *indexes)
        self._fragments.add(rev, label, "reversed", rev_starts, width, *indexes)
        if rot != value:
            self._fragments.add(rot, label, "rot13", starts, width, *indexes)
        return [w for w in whole if w[0] != value]

    def _index(self, word: bytes) -> None:
        n = len(word)
        if n >= _LONG_MIN:
            size, unpack, index = _LONG, _Q.unpack_from, self._long
        elif n >= _SHORT_MIN:
            size, unpack, index = _SHORT, _I.unpack_from, self._short
        else:
            self._tiny.append(word)
            return
        for k in range(size):
            entries = index.setdefault(unpack(word, k)[0], [])
            entries.append((word, k))

    def add_many(self, values: Iterable[str] | Mapping[str, str], label: str = "known") -> None:
        if isinstance(values, Mapping):
            for name, value in values.items():
                self.add(value, _label_from_name(name))
        else:
            for value in values:
                self.add(value, label)

    def _probe(self, data: bytes, size: int, index: GramIndex, best: Best) -> None:
        """Look up ``data``'s aligned ``size``-byte chunks in ``index``, a block at a time (a
        tuple of integers per MB, not one for the whole text: a 50 MB text would hold 19
        million of them at once); matches are verified against the whole text."""
        cover = [-1, -1]  # the match found last: words inside it are not verified
        n = len(data)
        for base in range(0, n, _BLOCK):
            # one chunk beyond the block: the fragment check looks at the next chunk
            block = data if n <= _BLOCK else data[base : base + _BLOCK + size]
            chunks = _chunks(block, size)
            self._probe_block(data, base, chunks, min(len(chunks), _BLOCK // size), size,
                              index, best, cover)

    def _probe_block(self, data: bytes, base: int, chunks: tuple[int, ...], limit: int,
                     size: int, index: GramIndex, best: Best, cover: list[int]) -> None:
        if not chunks:
            return
        hits = index.keys() & chunks  # iterates the chunks, membership tested in C
        if not hits:
            return
        # a word lying inside a match already found (a fragment of a whole value: the text
        # holds the value) is not verified
        where = hit_positions(chunks, hits)
        words = self._words
        origin = self._origin
        cover_s, cover_e = cover
        fragments = self._fragments
        next_gram = fragments.next_gram
        last = len(chunks) - 1
        for i in where:
            if i >= limit:
                break  # (the chunk past the block belongs to the next one)
            pos = base + i * size
            for word, k in index[chunks[i]]:
                if isinstance(word, int):  # a fragment form: its windows holding offset k
                    if cover_s <= pos - size + 1 and pos + 16 <= cover_e:
                        continue  # (all of them, 16 bytes at most, inside a match found)
                    nxt = next_gram[word].get(k)
                    if nxt is not None and (i == last or chunks[i + 1] != nxt):
                        continue  # (the text leaves the form within 8 bytes)
                    for start, end, label, enc in fragments.matches(
                            data, pos, word, k, size, (cover_s, cover_e)):
                        if best.get(start, _NONE)[0] < end:
                            best[start] = (end, label, enc)
                        if end > cover_e:
                            cover_s, cover_e = start, end
                    continue
                start = pos - k
                end = start + len(word)
                if cover_s <= start and end <= cover_e:
                    continue
                if start >= 0 and data.startswith(word, start):
                    source = origin.get(word)
                    if source is not None:  # a fragment: take as much of its form as is there
                        form, at = source
                        end += _common_prefix(data, end, form, at + len(word))
                        start -= _common_suffix(data, start, form, at)
                        while end < len(data) and data[end] & 0xC0 == 0x80:
                            end -= 1  # (stop at a character boundary: é and è share a byte)
                        while data[start] & 0xC0 == 0x80:
                            start += 1
                    if best.get(start, _NONE)[0] < end:
                        best[start] = (end, *words[word])
                    if end > cover_e:
                        cover_s, cover_e = start, end
        cover[:] = cover_s, cover_e

    def find(self, text: str) -> list[KnownMatch]:
        """Every occurrence of every value / variant in ``text``.

        Occurrences may overlap; at one start offset only the longest form is reported, and a
        match that lies inside an earlier one (a fragment of a whole value) is not reported.
        """
        if not self._labels or not text:
            return []
        data = text.encode("utf-8", "surrogatepass")
        best: Best = {}  # start -> (end, label, encoding) of the longest match
        for size, index in ((_LONG, self._long), (_SHORT, self._short)):
            if index:
                self._probe(data, size, index, best)
        for word in self._tiny:
            i = data.find(word)
            while i != -1:
                end = i + len(word)
                if best.get(i, _NONE)[0] < end:
                    best[i] = (end, *self._words[word])
                i = data.find(word, i + 1)
        if not best:
            return []
        ascii_only = len(data) == len(text)
        out: list[KnownMatch] = []
        last_b = last_c = 0
        reach = -1  # end of the furthest match so far: matches inside it are not reported
        for bs in sorted(best):
            be, label, enc = best[bs]
            if be <= reach:
                continue
            reach = be
            if ascii_only:
                cs, ce = bs, be
            else:
                cs = last_c + len(data[last_b:bs].decode("utf-8", "surrogatepass"))
                ce = cs + len(data[bs:be].decode("utf-8", "surrogatepass"))
                last_b, last_c = bs, cs
            out.append(KnownMatch(cs, ce, text[cs:ce], label, enc))
        return out


_NONE = (-1, "", "")


def _label_from_name(name: str) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return label[:40] or "known"
