"""What the model has sent to each destination in a session, checked as one stream.

A hostile model can cut a secret into 12–15-character pieces and send one per request, reverse
it, or base32 it: each request alone looks harmless. :class:`OutboundStreams` keeps, per
destination (a URL's host; all other tool arguments share one stream) and for the whole
session (:data:`EVERYWHERE`: pieces spread over several hosts), the model-chosen data
sent so far — URL path segments, query keys and values, fragments, argument strings — with
the parts already seen at that destination dropped (constant parts repeat; data varies), so
consecutive pieces become contiguous (the tokens of one request are joined by a space, requests
follow each other directly). The privacy filter scans the tail of that stream plus
the new request like any other text (rules, views, known values with fragments / reversed /
rot13 / base32).

Unattended, a destination also has a budget of high-entropy data: the bits (length × Shannon
entropy) of model-chosen tokens that look random (8+ characters, letters and digits, two
character classes, ≥ 3 bits per character). A request that goes over it is refused — an
allowed host is still a channel, and this bounds what can go out through it without a person
watching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from bastion.privacy.checks import char_classes, shannon_entropy
from bastion.privacy.textio import unquote

#: high-entropy bits one destination may receive in an unattended session
OUTBOUND_BUDGET_BITS = 512
#: how much of a destination's stream is re-scanned with each new request
STREAM_TAIL = 4096
#: how much of a request's own data is scanned again as part of the stream: a secret completed
#: by this request starts in the tail, so it ends well within this; what lies wholly inside the
#: request was already scanned as its arguments (a 1 MB request is not scanned twice)
STREAM_NEW = 16384
#: token separators besides whitespace become spaces, then ``str.split()`` cuts at
#: whitespace runs (the same tokens as ``re.split(r"[/?&=#;,:\s+]+")`` without the empty
#: ones — ``str.split`` and ``\s`` share one definition of whitespace — ~10x faster on text
#: made of separators)
_TO_SPACE = str.maketrans("/?&=#;,:+", " " * 9)
_URL_HEAD = 65536  # characters of a URL argument read for its host
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_OTHER = "(tool arguments)"
#: the stream of everything the model sent anywhere in the session: pieces of one secret sent
#: to different hosts (or to a host and an MCP tool) reassemble here
EVERYWHERE = "(all destinations)"


def destination(args: Mapping[str, Any]) -> str:
    """The host a call's ``url`` argument points at, or one shared name for everything else."""
    url = args.get("url")
    if isinstance(url, str):
        try:  # (the host is at the start: a multi-MB argument is not parsed whole)
            host = urlsplit(url[:_URL_HEAD].strip()).hostname
        except ValueError:
            host = None
        if host:
            return host.lower()
    return _OTHER


def data_tokens(strings: Iterable[str]) -> list[str]:
    """The parts of argument strings that can carry data (URLs: path, query, fragment)."""
    out: list[str] = []
    for value in strings:
        text = value
        if "://" in value[:16]:
            try:
                parts = urlsplit(value.strip())
                text = "/".join((parts.path, parts.query, parts.fragment))
            except ValueError:
                pass
        if "%" in text:
            text = unquote(text)
        out += text.translate(_TO_SPACE).split()
    return out


def token_bits(token: str) -> float:
    """Bits of random-looking data in ``token`` (0 for words, numbers, short tokens)."""
    if len(token) < 8 or char_classes(token) < 2 or not _DIGIT.search(token) or not (
        _LETTER.search(token)
    ):
        return 0.0  # words, numbers and identifiers (getUserName, snake_case) spend nothing
    if len(token) > 64 and len(set(token)) < 8:
        return 0.0  # under 8 distinct characters the entropy is under 3 bits (set: C speed)
    entropy = shannon_entropy(token)
    return len(token) * entropy if entropy >= 3.0 else 0.0


class OutboundStreams:
    """Per-destination streams and entropy budgets for one session. Not thread-safe."""

    def __init__(self, budget_bits: int | None = None) -> None:
        self.budget_bits = budget_bits
        self._seen: dict[str, set[str]] = {}
        self._stream: dict[str, str] = {}
        self._bits: dict[str, float] = {}
        # token -> bits, for the tokens of the last request only (each request is added for
        # its destination and for EVERYWHERE: one entropy count per token, not two)
        self._last_bits: dict[str, float] = {}

    def add(self, dest: str, tokens: list[str],
            keys: Sequence[str] = ()) -> tuple[str, int]:
        """Record a request's value ``tokens`` and argument-name ``keys``; returns ``(stream
        tail + new data, offset of new data)``. Names spend budget but stay out of the stream:
        a fresh name per request would otherwise sit between the pieces it carries."""
        seen = self._seen.setdefault(dest, set())
        # (a token repeated within one request counts once: it carries nothing new)
        new = [t for t in dict.fromkeys(tokens) if t not in seen]
        new_keys = [k for k in dict.fromkeys(keys) if k not in seen]
        seen.update(new)
        seen.update(new_keys)
        tail = self._stream.get(dest, "")[-STREAM_TAIL:]
        # pieces sent one per request join up; tokens of one request stay apart (word bounds)
        data = " ".join(new)
        self._stream[dest] = tail + data
        # (tokens under 8 characters spend nothing: skip them before the per-token call)
        costly = [t for t in (*new, *new_keys) if len(t) >= 8]
        last = self._last_bits
        bits = {t: last[t] if t in last else token_bits(t) for t in costly}
        self._last_bits = bits
        spent = sum(map(bits.__getitem__, costly))
        self._bits[dest] = self._bits.get(dest, 0.0) + spent
        return tail + data, len(tail)

    def over_budget(self, dest: str) -> float | None:
        """The bits sent to ``dest`` when over the budget (None when within or no budget)."""
        if self.budget_bits is None:
            return None
        bits = self._bits.get(dest, 0.0)
        return bits if bits > self.budget_bits else None
