"""Personal data detection for security mode: e-mail, phone, card (Luhn), IBAN (mod 97), SSN, NINO."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bastion.privacy.checks import raw_matcher
from bastion.privacy.rules import compile_re2
from bastion.privacy.textio import regex_safe

_EMAIL = raw_matcher(compile_re2(
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}\b",
    rule_id="pii-email",
))
_PHONE = raw_matcher(compile_re2(
    r"(?:^|[^\w+])(\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[ .-]\d{3}[ .-]\d{4})\b",
    rule_id="pii-phone",
))
# (no capturing group: ``\b`` is zero-width, so the match is the number, and RE2 finds it with
# its DFA alone — card-like digit groups can make a match every 20 characters)
_CARD = raw_matcher(compile_re2(r"\b\d(?:[ -]?\d){12,18}\b", rule_id="pii-card"))
_IBAN = raw_matcher(compile_re2(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
                    rule_id="pii-iban"))
_SSN = raw_matcher(compile_re2(r"\b(\d{3})-(\d{2})-(\d{4})\b", rule_id="pii-ssn"))
_NINO = raw_matcher(compile_re2(
    r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b",
    rule_id="pii-nino"))

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26,
    "IT": 27, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "ME": 22, "MK": 19, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22,
}
_DIGIT = raw_matcher(compile_re2(r"\d", rule_id="pii-digit"))
_EMAIL_ALLOW_DOMAINS = ("example.com", "example.org", "example.net", "localhost", "test")


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # email | phone | card | iban | ssn | nino
    start: int
    end: int
    text: str


_DOUBLED = str.maketrans("0123456789", "0246813579")  # d -> 2d, minus 9 when over 9
_BASE36 = str.maketrans({c: str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def luhn_valid(digits: str) -> bool:
    """True if the digit string passes the Luhn checksum."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2].translate(_DOUBLED)))
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """True if ``iban`` (spaces allowed) has a known country length and a valid mod-97 check."""
    s = iban.replace(" ", "").upper()
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    expected = _IBAN_LENGTHS.get(s[:2])
    if expected is not None and len(s) != expected:
        return False
    rearranged = (s[4:] + s[:4]).translate(_BASE36)
    if not (rearranged.isascii() and rearranged.isdigit()):
        return False
    return int(rearranged) % 97 == 1


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return not (area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000")


_Groups = list[tuple[int, int]]


def _matches(match: Callable[[bytes, int, int], _Groups], data: bytes, text: str
             ) -> Iterator[tuple[_Groups, list[str]]]:
    """Each match of a raw RE2 matcher over ``data`` (``text`` as UTF-8): its group spans as
    character offsets of ``text`` and the groups' text. Straight into RE2, no wrapper objects
    (a text of nothing but card-like digit groups has a match every 20 characters)."""
    n = len(data)
    ascii_only = n == len(text)
    pos = last_b = last_c = 0
    while pos <= n:
        spans = match(data, pos, n)
        ms, me = spans[0]
        if ms < 0:
            return
        if ascii_only:
            yield spans, [text[s:e] if s >= 0 else "" for s, e in spans]
        else:
            last_c += len(data[last_b:ms].decode("utf-8", "surrogatepass"))
            last_b = ms
            chars: _Groups = []
            for s, e in spans:
                if s < 0:
                    chars.append((-1, -1))
                    continue
                cs = last_c + len(data[ms:s].decode("utf-8", "surrogatepass"))
                chars.append((cs, cs + len(data[s:e].decode("utf-8", "surrogatepass"))))
            yield chars, [text[s:e] if s >= 0 else "" for s, e in chars]
        pos = me if me > ms else me + 1


def find_pii(text: str) -> list[PiiMatch]:
    """All PII matches in ``text`` (may overlap; the caller merges spans)."""
    text = regex_safe(text)  # RE2 takes UTF-8 only; same offsets
    data = text.encode("utf-8")
    out: list[PiiMatch] = []
    if "@" in text:
        for sp, g in _matches(_EMAIL, data, text):
            domain = g[0].rsplit("@", 1)[1].lower()
            if any(domain == d or domain.endswith("." + d) for d in _EMAIL_ALLOW_DOMAINS):
                continue
            out.append(PiiMatch("email", sp[0][0], sp[0][1], g[0]))
    if _DIGIT(data, 0, len(data))[0][0] < 0:
        return out
    cards: dict[str, bool] = {}  # verdicts (hostile text repeats one number)
    for sp, g in _matches(_CARD, data, text):
        raw = g[0]
        ok = cards.get(raw)
        if ok is None:
            digits = raw.replace(" ", "").replace("-", "")
            ok = cards[raw] = (13 <= len(digits) <= 19 and digits[0] in "23456"
                               and len(set(digits)) > 1 and luhn_valid(digits))
        if ok:
            out.append(PiiMatch("card", sp[0][0], sp[0][1], raw))
    for sp, g in _matches(_IBAN, data, text):
        if iban_valid(g[0]):
            out.append(PiiMatch("iban", sp[0][0], sp[0][1], g[0]))
    for sp, g in _matches(_SSN, data, text):
        if _ssn_valid(g[1], g[2], g[3]):
            out.append(PiiMatch("ssn", sp[0][0], sp[0][1], g[0]))
    for sp, g in _matches(_NINO, data, text):
        out.append(PiiMatch("nino", sp[1][0], sp[1][1], g[1]))
    for sp, g in _matches(_PHONE, data, text):
        if 8 <= sum(map(str.isdigit, g[1])) <= 15:
            out.append(PiiMatch("phone", sp[1][0], sp[1][1], g[1]))
    return out
