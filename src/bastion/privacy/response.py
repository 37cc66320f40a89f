"""Exfiltration patterns in model output: markdown images / links and URLs that carry data."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import re2

from bastion.privacy.checks import shannon_entropy


@dataclass(frozen=True)
class LeakFinding:
    """Something in model output (or outbound tool arguments) that could leak data."""

    kind: str  # secret | known-secret | placeholder | exfil-image | exfil-link | url-data
    detail: str
    start: int = -1
    end: int = -1
    location: str = ""  # for tool arguments: a JSON-pointer-like path ("/command")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "start": self.start,
            "end": self.end,
            "location": self.location,
        }


@dataclass
class ResponseScan:
    """Result of :meth:`PrivacyFilter.scan_response`: sanitised text plus what was removed."""

    text: str
    findings: list[LeakFinding] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.findings)


# Applied to model output, so linear time whatever it holds: RE2, no bounded-repetition tricks
# (Python ``re`` with ``[^\]\n]{0,1000}`` restarted at every "[" — 0.2 MB of "![" took 27 s).
# Lengths are checked after the match (URL_MAX), not in the pattern.
#   ![alt](url "title")  and  [text](url "title")
MD_INLINE = re2.compile(
    r"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
#   [ref]: url
MD_REFDEF = re2.compile(r"(?m)^[ \t]{0,3}\[([^\]\n]+)\]:[ \t]*<?(\S+?)>?(?:[ \t]+[\"'(].*)?$")
#   <img src="url">
HTML_IMG = re2.compile(r"(?i)<img\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)[^>]*>")
URL_RE = re2.compile(r"(?i)\b(?:https?|ftp|wss?)://[^\s<>\"'`)]+")
MD_IMAGE_REF = re2.compile(r"!\[[^\]\n]*\]\[([^\]\n]+)\]")
_B64ISH = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
_HEXISH = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def domain_allowed(host: str, allowed: Iterable[str]) -> bool:
    """``host`` equals an allowed domain or is a subdomain of one (``*.x.com`` also accepted)."""
    host = host.lower().rstrip(".")
    if not host:
        return False
    for entry in allowed:
        d = entry.lower().strip().rstrip(".")
        if d.startswith("*."):
            d = d[2:]
        if d and (host == d or host.endswith("." + d)):
            return True
    return False


def url_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def url_carries_data(url: str) -> str | None:
    """Why ``url`` looks like it carries data (query values, long/encoded segments), or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "unparseable URL"
    if parts.query:
        for pair in parts.query.split("&"):
            _, _, value = pair.partition("=")
            value = unquote(value)
            if len(value) >= 8:
                return "query parameter carries data"
    if parts.fragment and len(parts.fragment) >= 16:
        return "fragment carries data"
    for seg in parts.path.split("/"):
        seg = unquote(seg)
        if len(seg) >= 40:
            return "long path segment"
        if len(seg) >= 16 and (_B64ISH.fullmatch(seg) or _HEXISH.fullmatch(seg)) and (
            shannon_entropy(seg) >= 3.5
        ):
            return "encoded path segment"
    if parts.username or parts.password:
        return "credentials in URL"
    host = parts.hostname or ""
    labels = host.split(".")
    if any(len(label) >= 24 and shannon_entropy(label) >= 3.5 for label in labels[:-2]):
        return "data in subdomain"
    return None
